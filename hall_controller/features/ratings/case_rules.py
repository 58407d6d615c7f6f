"""差评整改: the bad-review case workflow and its working-day deadlines, pure.

待核实 → 核实/认定 (valid → 整改; invalid with a reason → 回复 or 办结) → staff may 申诉 once while
rectifying → 申诉 decided (upheld → like invalid; rejected → 整改 again) → 整改 → 回复/回访 (real-name raters
only: 实名差评 100% 回复) → 办结. Each step has a deadline in working days from when it began.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hall_controller.core.calendar import add_working_days
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.settings import Hours
from hall_controller.features.ratings.rules import RatingRules

STATES: dict[str, str] = {
    "pending": "待核实", "rectifying": "待整改", "appealed": "申诉中", "replying": "待回复",
    "closing": "待办结", "closed": "已办结",
}
OPEN_STATES = tuple(s for s in STATES if s != "closed")
# The setting that gives each open state's deadline in working days.
STEP_DAYS = {"pending": "verify_days", "rectifying": "rectify_days", "appealed": "appeal_days",
             "replying": "reply_days", "closing": "close_days"}
INVALID_REASONS: dict[str, str] = {
    "misoperation": "误操作", "malicious": "恶意差评", "not_service_related": "与窗口服务无关",
    "duplicate": "重复评价", "policy": "政策规定所限", "other": "其他",
}
REPLY_METHODS: dict[str, str] = {"phone": "电话回访", "sms": "短信回复", "visit": "上门回访", "on_site": "现场回复"}


def due(state: str, start: datetime, rules: RatingRules, hours: Hours) -> str | None:
    if state not in STEP_DAYS:
        return None
    return add_working_days(start, getattr(rules, STEP_DAYS[state]), hours).isoformat()


def open_case(case_id: str, rating: Mapping[str, Any], rules: RatingRules, hours: Hours,
              now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case row a 差评 opens and its `case.opened` event data."""
    row = {
        "id": case_id, "rating_id": rating["id"], "ticket_id": rating["ticket_id"], "number": rating["number"],
        "service_id": rating["service_id"], "window_id": rating["window_id"], "staff_id": rating["staff_id"],
        "level": rating["level"], "named": bool(rating.get("rater")), "state": "pending",
        "opened_at": now.isoformat(), "step_at": now.isoformat(), "due_at": due("pending", now, rules, hours),
        "alerted_due": None, "appeals": 0, "valid": None, "closed_at": None, "steps": {},
    }
    return row, view(row)


def view(case: Mapping[str, Any]) -> dict[str, Any]:
    """A case as events and answers carry it (no rater data: that stays on the rating)."""
    out = {k: copy.deepcopy(v) for k, v in case.items() if k != "alerted_due"}
    out["case_id"] = out.pop("id")
    out["state_label"] = STATES[case["state"]]
    return out


def _step(case: Mapping[str, Any], allowed: Iterable[str], action: str, state: str, event: str, by: str,
          rules: RatingRules, hours: Hours, now: datetime, **detail: Any) -> Decision:
    if case["state"] not in allowed:
        raise HallError("invalid_case_state", f"案件当前为「{STATES[case['state']]}」，不能执行此操作。", 409)
    row = {**case, "steps": {**case["steps"], action: {**detail, "by": by, "at": now.isoformat()}},
           "state": state, "step_at": now.isoformat(), "due_at": due(state, now, rules, hours)}
    if state == "closed":
        row["closed_at"] = now.isoformat()
    return Decision(rows=[("cases", row)], events=[(event, {**view(row), "action": action, "by": by})],
                    result=row)


def _after_invalid(case: Mapping[str, Any]) -> str:
    return "replying" if case["named"] else "closing"


def verify(case: Mapping[str, Any], valid: bool, reason: str | None, note: str, by: str, rules: RatingRules,
           hours: Hours, now: datetime) -> Decision:
    """核实/认定: a valid 差评 goes to 整改; an invalid one needs a reason from INVALID_REASONS."""
    if valid and reason:
        raise HallError("invalid_verification", "认定有效时不填写无效原因。", 422)
    if not valid and reason not in INVALID_REASONS:
        raise HallError("invalid_verification", f"认定无效须选择原因：{'、'.join(INVALID_REASONS.values())}", 422)
    state = "rectifying" if valid else _after_invalid(case)
    d = _step(case, ("pending",), "verify", state, "case.verified", by, rules, hours, now,
              valid=valid, reason=reason, reason_label=INVALID_REASONS.get(reason or ""), note=note)
    d.rows[0][1]["valid"] = valid
    d.events[0][1]["valid"] = valid
    return d


def appeal(case: Mapping[str, Any], staff_id: str, reason: str, by: str, rules: RatingRules, hours: Hours,
           now: datetime) -> Decision:
    """申诉: the staff member rated, once, while the case waits for rectification."""
    if staff_id != case["staff_id"]:
        raise HallError("forbidden", "只有被评价的工作人员本人可以申诉。", 403)
    if case["appeals"] >= 1:
        raise HallError("appeal_used", "每件差评只能申诉一次。", 409)
    if not reason.strip():
        raise HallError("invalid_appeal", "请填写申诉理由。", 422)
    d = _step(case, ("rectifying",), "appeal", "appealed", "case.appealed", by, rules, hours, now,
              staff_id=staff_id, reason=reason)
    d.rows[0][1]["appeals"] = case["appeals"] + 1
    return d


def decide_appeal(case: Mapping[str, Any], upheld: bool, note: str, by: str, rules: RatingRules, hours: Hours,
                  now: datetime) -> Decision:
    """申诉成立 makes the 差评 invalid; 不成立 sends the case back to 整改 with a fresh deadline."""
    state = _after_invalid(case) if upheld else "rectifying"
    d = _step(case, ("appealed",), "appeal_decision", state, "case.appeal_decided", by, rules, hours, now,
              upheld=upheld, note=note)
    if upheld:
        d.rows[0][1]["valid"] = False
    return d


def rectify(case: Mapping[str, Any], measures: str, by: str, rules: RatingRules, hours: Hours,
            now: datetime) -> Decision:
    if not measures.strip():
        raise HallError("invalid_rectification", "请填写整改措施。", 422)
    return _step(case, ("rectifying",), "rectify", _after_invalid(case), "case.rectified", by, rules, hours, now,
                 measures=measures)


def reply(case: Mapping[str, Any], method: str, content: str, satisfied: bool | None, by: str,
          rules: RatingRules, hours: Hours, now: datetime) -> Decision:
    """回复/回访 the real-name rater (实名差评 100% 回复)."""
    if method not in REPLY_METHODS:
        raise HallError("invalid_reply", f"回访方式无效：{method}", 422)
    if not content.strip():
        raise HallError("invalid_reply", "请填写回复内容。", 422)
    return _step(case, ("replying",), "reply", "closing", "case.replied", by, rules, hours, now,
                 method=method, content=content, satisfied=satisfied)


def close(case: Mapping[str, Any], summary: str, by: str, rules: RatingRules, hours: Hours,
          now: datetime) -> Decision:
    return _step(case, ("closing",), "close", "closed", "case.closed", by, rules, hours, now, summary=summary)


def overdue(items: Iterable[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
    """Open items past their deadline that have not yet been alerted for this deadline (cases and complaints)."""
    late = []
    for item in items:
        due_at = item.get("due_at")
        if due_at and datetime.fromisoformat(due_at) < now and item.get("alerted_due") != due_at:
            late.append(item)
    return late


def is_overdue(item: Mapping[str, Any], now: datetime) -> bool:
    due_at = item.get("due_at")
    return bool(due_at) and datetime.fromisoformat(due_at) < now
