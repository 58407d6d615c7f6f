"""督查 figures, pure: 整改率, 回复率, 按时办结率 and 超期 of 差评 cases and complaints, and the analysis of the
causes of 差评 (seed 政务服务分中心运行规范 6.1.3 有效差评 100% 整改, 实名差评 100% 回复; 6.1.4 定期分析研究差评问题).

Definitions (also in docs/supervision.md):
- a case counts in the period it was opened, a complaint in the period it was registered;
- 整改率: valid (有效) cases rectified / valid cases — a case verified invalid, or whose appeal was upheld, is
  not valid; one not yet verified is neither;
- 回复率: real-name (实名) cases replied / real-name cases (every 实名差评 gets a reply, valid or not);
- 按时办结率: closed cases whose every step was done by its deadline / closed cases;
- 超期: cases with a step done after its deadline, or an open step past it now; the deadlines are replayed from
  the case's own steps with the hall's working days, so they are right whether or not the overdue watcher ran;
- complaints: 答复率 answered / registered, 按时答复率 answered by the deadline / answered, 超期 answered late
  or open past the deadline.
Nothing here reads the ledger or the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.settings import Hours
from hall_controller.features.ratings.case_rules import due
from hall_controller.features.ratings.rules import RatingRules

GROUPS = {"all": "全厅", "window": "窗口", "staff": "工作人员", "service": "事项"}
UNNAMED = "未指明"
NO_REASON = "none"
NO_REASON_LABEL = "未选择原因"

# (key, Chinese header, kind) as the report files and the page use them.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "分组", "text"),
    ("cases", "差评数", "int"),
    ("valid", "有效差评", "int"),
    ("rectified", "已整改", "int"),
    ("rectify_rate", "整改率", "share"),
    ("named", "实名差评", "int"),
    ("replied", "已回复", "int"),
    ("reply_rate", "回复率", "share"),
    ("closed", "已办结", "int"),
    ("closed_on_time", "按时办结", "int"),
    ("on_time_rate", "按时办结率", "share"),
    ("overdue", "超期案件", "int"),
    ("complaints", "投诉数", "int"),
    ("answered", "已答复", "int"),
    ("answer_rate", "答复率", "share"),
    ("answered_on_time", "按时答复", "int"),
    ("answer_on_time_rate", "按时答复率", "share"),
    ("complaints_overdue", "投诉超期", "int"),
)


def _after_invalid(case: Mapping[str, Any]) -> str:
    return "replying" if case["named"] else "closing"


def _entered(action: str, detail: Mapping[str, Any], case: Mapping[str, Any]) -> str:
    """The state a case step moved the case into."""
    if action == "verify":
        return "rectifying" if detail.get("valid") else _after_invalid(case)
    if action == "appeal_decision":
        return _after_invalid(case) if detail.get("upheld") else "rectifying"
    return {"appeal": "appealed", "rectify": _after_invalid(case), "reply": "closing", "close": "closed"}[action]


def case_steps(case: Mapping[str, Any], rules: RatingRules, hours: Hours, now: datetime) -> list[dict[str, Any]]:
    """The case's steps replayed: for each state it was in, when it began, its deadline, when it was left (None:
    still there) and whether it was late (left after the deadline, or still there past it)."""
    out = []
    state, start = "pending", datetime.fromisoformat(case["opened_at"])
    for action, detail in sorted(case["steps"].items(), key=lambda kv: kv[1]["at"]):
        done = datetime.fromisoformat(detail["at"])
        deadline = due(state, start, rules, hours)
        out.append({"state": state, "start": start.isoformat(), "due": deadline, "done": done.isoformat(),
                    "action": action, "late": bool(deadline) and done > datetime.fromisoformat(deadline)})
        state, start = _entered(action, detail, case), done
    if state != "closed":
        deadline = due(state, start, rules, hours)
        out.append({"state": state, "start": start.isoformat(), "due": deadline, "done": None, "action": None,
                    "late": bool(deadline) and now > datetime.fromisoformat(deadline)})
    return out


def case_facts(case: Mapping[str, Any], rules: RatingRules, hours: Hours, now: datetime) -> dict[str, Any]:
    """What the rates count of one case."""
    steps = case_steps(case, rules, hours, now)
    overdue = any(s["late"] for s in steps)
    closed = case["state"] == "closed"
    return {"valid": case.get("valid") is True, "rectified": "rectify" in case["steps"], "named": bool(case["named"]),
            "replied": "reply" in case["steps"], "closed": closed, "overdue": overdue,
            "closed_on_time": closed and not overdue}


def complaint_facts(c: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    answered = c["state"] == "answered" and bool(c.get("answered_at"))
    due_at = c.get("due_at")
    late = bool(due_at) and ((answered and c["answered_at"] > due_at)
                             or (not answered and now > datetime.fromisoformat(due_at)))
    return {"answered": answered, "answered_on_time": answered and not late, "overdue": late}


def _share(n: int, d: int) -> float | None:
    return n / d if d else None


def figures(cases: Sequence[Mapping[str, Any]], complaints: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The rates of one group from its cases' and complaints' facts."""
    valid = [c for c in cases if c["valid"]]
    named = [c for c in cases if c["named"]]
    closed = [c for c in cases if c["closed"]]
    answered = [c for c in complaints if c["answered"]]
    out = {
        "cases": len(cases), "valid": len(valid), "rectified": sum(1 for c in valid if c["rectified"]),
        "named": len(named), "replied": sum(1 for c in named if c["replied"]),
        "closed": len(closed), "closed_on_time": sum(1 for c in closed if c["closed_on_time"]),
        "overdue": sum(1 for c in cases if c["overdue"]),
        "complaints": len(complaints), "answered": len(answered),
        "answered_on_time": sum(1 for c in answered if c["answered_on_time"]),
        "complaints_overdue": sum(1 for c in complaints if c["overdue"]),
    }
    out["rectify_rate"] = _share(out["rectified"], out["valid"])
    out["reply_rate"] = _share(out["replied"], out["named"])
    out["on_time_rate"] = _share(out["closed_on_time"], out["closed"])
    out["answer_rate"] = _share(out["answered"], out["complaints"])
    out["answer_on_time_rate"] = _share(out["answered_on_time"], out["answered"])
    return out


def rectification(cases: Sequence[Mapping[str, Any]], complaints: Sequence[Mapping[str, Any]], by: str,
                  names: Mapping[str, Mapping[str, str]], rules: RatingRules, hours: Hours, now: datetime,
                  order: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """整改 and 回复 figures grouped `by` all | window | staff | service, with the 合计 row. `cases` and
    `complaints` are the period's rows; `names[by][id]` the display names; `order[by]` the config order."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"cases": [], "complaints": []})
    all_cases, all_complaints = [], []
    for c in cases:
        facts = case_facts(c, rules, hours, now)
        all_cases.append(facts)
        groups["all" if by == "all" else (c.get(f"{by}_id") or "")]["cases"].append(facts)
    for c in complaints:
        facts = complaint_facts(c, now)
        all_complaints.append(facts)
        key = "all" if by == "all" else ("" if by == "staff" else (c.get(f"{by}_id") or ""))
        groups[key]["complaints"].append(facts)
    ranked = list((order or {}).get(by, ()))

    def place(key: str) -> tuple[int, int, str]:
        return (1 if key == "" else 0, ranked.index(key) if key in ranked else len(ranked), key)

    rows = []
    for key in sorted(groups, key=place):
        name = GROUPS["all"] if key == "all" else (names.get(by, {}).get(key, key) if key else UNNAMED)
        rows.append({"key": key, "name": name, **figures(groups[key]["cases"], groups[key]["complaints"])})
    return {"by": by, "group_name": GROUPS[by],
            "columns": [{"key": k, "name": n, "kind": kind} for k, n, kind in COLUMNS],
            "rows": rows, "total": {"key": "total", "name": "合计", **figures(all_cases, all_complaints)}}


# ------------------------------------------------------------------------------------ causes of 差评


def causes(ratings: Sequence[Mapping[str, Any]], valid: Mapping[str, bool | None], labels: Mapping[str, str],
           names: Mapping[str, Mapping[str, str]], start: date, end: date,
           previous: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The causes of the period's 差评 (`ratings`: bad ratings with `reasons`, service, window, staff, day): per
    reason, per service / window / staff (with each one's top reason), per ISO week, and the top causes with
    the change against the period before (`previous`, its bad ratings). A rating with several reasons counts once
    for each; one with none counts as 未选择原因. `valid[rating_id]` is its case's verdict (None: not yet)."""
    def reasons_of(r: Mapping[str, Any]) -> list[str]:
        return list(r.get("reasons") or []) or [NO_REASON]

    def label(code: str) -> str:
        return NO_REASON_LABEL if code == NO_REASON else labels.get(code, code)

    total = len(ratings)
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "valid": 0})
    for r in ratings:
        for code in reasons_of(r):
            per[code]["count"] += 1
            per[code]["valid"] += 1 if valid.get(r["id"]) is True else 0
    before: dict[str, int] = defaultdict(int)
    for r in previous:
        for code in reasons_of(r):
            before[code] += 1
    order = [c for c in labels if c in per] + sorted(c for c in per if c not in labels)
    reasons = sorted(({"code": c, "label": label(c), "count": per[c]["count"], "valid": per[c]["valid"],
                       "share": per[c]["count"] / total if total else None, "previous": before.get(c, 0),
                       "change": per[c]["count"] - before.get(c, 0)} for c in order),
                     key=lambda x: (-x["count"], order.index(x["code"])))

    def breakdown(scope: str) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        counts: dict[str, int] = defaultdict(int)
        for r in ratings:
            key = r.get(f"{scope}_id") or ""
            counts[key] += 1
            for code in reasons_of(r):
                rows[key][code] += 1
        out = []
        for key in sorted(rows, key=lambda k: (-counts[k], k)):
            top = max(rows[key].items(), key=lambda kv: (kv[1], -order.index(kv[0]) if kv[0] in order else 0))
            out.append({"key": key, "name": names.get(scope, {}).get(key, key) if key else UNNAMED,
                        "bad": counts[key], "reasons": dict(rows[key]), "top": label(top[0]), "top_count": top[1]})
        return out

    weeks = []
    monday = start - timedelta(days=start.weekday())
    while monday < end:
        days = (max(monday, start).isoformat(), min(monday + timedelta(days=7), end).isoformat())
        mine = [r for r in ratings if days[0] <= r["day"] < days[1]]
        week: dict[str, Any] = {"week": monday.isoformat(), "label": f"{monday:%m-%d}周", "bad": len(mine),
                                "reasons": defaultdict(int)}
        for r in mine:
            for code in reasons_of(r):
                week["reasons"][code] += 1
        week["reasons"] = dict(week["reasons"])
        weeks.append(week)
        monday += timedelta(days=7)
    top = [r for r in reasons if r["count"]][:3]
    return {"bad": total, "previous_bad": len(previous), "reasons": reasons,
            "by_service": breakdown("service"), "by_window": breakdown("window"), "by_staff": breakdown("staff"),
            "weeks": weeks, "top": [{**r, "trend": _trend(r["count"], r["previous"])} for r in top],
            "labels": {c: label(c) for c in order}}


def _trend(now: int, before: int) -> str:
    if before == 0:
        return "新出现" if now else "—"
    change = (now - before) / before
    if abs(change) < 0.1:
        return "持平"
    return f"{'上升' if change > 0 else '下降'} {abs(change) * 100:.0f}%"
