"""考核: a staff member's monthly score and 等次 from service, ratings and attendance, pure — every point with the
evidence behind it (综合便民服务中心窗口人员管理办法 篇四/篇七; 监管办法 第四十六条).

The score starts at `base`, adds the points of each piece of evidence and of the manager's notes, and is held
within [floor, ceiling]; the 等次 is the first grade whose minimum it reaches. Evidence:
- ratings: points per rating by level (非常满意 … 非常不满意), one item per level;
- 差评 upheld: each case found valid (有效差评, after any appeal) of the month;
- 差评 overdue: each case of the month with a step done late or still open past its deadline;
- complaints: each complaint naming a window, counted against whoever was signed in there when it was registered;
- attendance: each 迟到, 早退 and 缺勤 (half day) session of the month, and the 未签离 days;
- workload: points per `served_per_point` tickets served (or 办件), up to `workload_max`.
A manager's note adds points (either sign) with its reason, and may void an evidence item (`voids` = its key),
whose points then no longer count. Nothing here reads the ledger or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hall_controller.core.errors import HallError
from hall_controller.features.ratings.rules import LEVELS


@dataclass(frozen=True)
class AssessmentRules:
    """The `[supervision.assessment]` settings (defaults after 篇四's 考核管理办法: 100 base, 150 ceiling)."""

    base: float = 100
    ceiling: float = 150
    floor: float = 0
    per_level: tuple[float, float, float, float, float] = (0.2, 0.1, 0, 0, 0)  # 非常满意 … 非常不满意
    valid_bad: float = -2  # 当事人不满意经查实属窗口工作人员责任的，每件扣2分
    overdue_case: float = -1
    complaint: float = -3  # 因工作态度问题引起投诉的每次扣3分
    late: float = -2  # 无故迟到、早退、离岗的每次扣2分
    early: float = -2
    absent_session: float = -5  # 旷工每次（半天）扣5分
    forgotten_sign_out: float = -1
    served_per_point: int = 50
    workload_max: float = 10
    grades: tuple[tuple[float, str], ...] = field(
        default_factory=lambda: ((90, "优秀"), (80, "称职"), (60, "基本称职"), (0, "不称职")))


def grade(score: float, rules: AssessmentRules) -> str:
    return next((name for low, name in rules.grades if score >= low), rules.grades[-1][1])


def _item(key: str, rule: str, label: str, points: float, ref: str | None = None, at: str | None = None,
          count: int = 1) -> dict[str, Any]:
    return {"key": key, "rule": rule, "label": label, "points": round(points, 2), "ref": ref, "at": at,
            "count": count}


def evidence(staff_id: str, ratings: Sequence[Mapping[str, Any]], cases: Sequence[Mapping[str, Any]],
             complaints: Sequence[Mapping[str, Any]], attendance: Mapping[str, Any] | None, served: int,
             rules: AssessmentRules) -> list[dict[str, Any]]:
    """The evidence items of one staff member's month (the rows given are theirs)."""
    items = []
    for level, name in LEVELS.items():
        n = sum(1 for r in ratings if r["level"] == level)
        pts = rules.per_level[level - 1]
        if n and pts:
            items.append(_item(f"ratings:{level}", "ratings", f"评价“{name}” {n} 次 × {pts:+g}", n * pts, count=n))
    for c in cases:
        if c["valid"]:
            items.append(_item(f"case:{c['id']}", "valid_bad", f"有效差评（{c.get('number') or c['id']}）",
                               rules.valid_bad, c["id"], c.get("opened_at")))
        if c["overdue"]:
            items.append(_item(f"overdue:{c['id']}", "overdue_case", f"差评整改超期（{c.get('number') or c['id']}）",
                               rules.overdue_case, c["id"], c.get("opened_at")))
    for c in complaints:
        items.append(_item(f"complaint:{c['id']}", "complaint", f"投诉（{c['id']}，{c.get('window_name') or ''}）",
                           rules.complaint, c["id"], c.get("registered_at")))
    if attendance is not None:
        for m in attendance.get("marks", ()):
            where = f"{m['day']} {m['session']}"
            if m["status"] == "late":
                items.append(_item(f"late:{m['day']}:{m['session']}", "late", f"迟到 {m['late_minutes']:g} 分钟（{where}）",
                                   rules.late, at=m["day"]))
            elif m["status"] == "absent":
                items.append(_item(f"absent:{m['day']}:{m['session']}", "absent_session", f"缺勤半天（{where}）",
                                   rules.absent_session, at=m["day"]))
            if m.get("early_minutes"):
                items.append(_item(f"early:{m['day']}:{m['session']}", "early", f"早退 {m['early_minutes']:g} 分钟（{where}）",
                                   rules.early, at=m["day"]))
        n = attendance.get("forgotten_sign_outs", 0)
        if n and rules.forgotten_sign_out:
            items.append(_item("forgotten", "forgotten_sign_out", f"未签离 {n} 天", n * rules.forgotten_sign_out, count=n))
    if rules.served_per_point and served:
        pts = min(rules.workload_max, served // rules.served_per_point)
        if pts:
            items.append(_item("workload", "workload", f"办件量 {served} 件（每 {rules.served_per_point} 件 +1，"
                                                       f"至多 {rules.workload_max:g} 分）", pts, count=served))
    return items


def score(items: Sequence[Mapping[str, Any]], notes: Sequence[Mapping[str, Any]],
          rules: AssessmentRules) -> dict[str, Any]:
    """The month's score and 等次 from the evidence and the manager's notes (a note may void an item)."""
    voided = {n["voids"] for n in notes if n.get("voids")}
    counted = [{**i, "voided": i["key"] in voided} for i in items]
    raw = rules.base + sum(i["points"] for i in counted if not i["voided"]) + sum(n["points"] for n in notes)
    total = max(rules.floor, min(rules.ceiling, raw))
    return {"score": round(total, 2), "raw": round(raw, 2), "grade": grade(total, rules), "evidence": counted,
            "notes": list(notes),
            "added": round(sum(i["points"] for i in counted if not i["voided"] and i["points"] > 0)
                           + sum(n["points"] for n in notes if n["points"] > 0), 2),
            "deducted": round(sum(i["points"] for i in counted if not i["voided"] and i["points"] < 0)
                              + sum(n["points"] for n in notes if n["points"] < 0), 2)}


def attribute_complaints(complaints: Sequence[Mapping[str, Any]],
                         on_duty: Mapping[str, Sequence[tuple[str, str, str | None]]]) -> dict[str, list[Mapping[str, Any]]]:
    """Complaints naming a window, by the staff member signed in at it when each was registered. `on_duty[window]`
    holds (staff id, from, until or None) sign-in periods as ISO times."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for c in complaints:
        at = c["registered_at"]
        for staff_id, start, end in on_duty.get(c.get("window_id") or "", ()):
            if start <= at and (end is None or at < end):
                out.setdefault(staff_id, []).append(c)
                break
    return out


def check_note(points: float, note: str, voids: str | None, items: Sequence[Mapping[str, Any]]) -> None:
    """A manager's note: a reason, points within ±50, and a void naming an evidence item of that month."""
    if not note.strip():
        raise HallError("invalid_note", "请填写加减分理由。", 422)
    if abs(points) > 50:
        raise HallError("invalid_note", "单条加减分不能超过 50 分。", 422)
    if voids and voids not in {i["key"] for i in items}:
        raise HallError("invalid_note", f"未找到要撤销的考核依据：{voids}", 422)
