"""投诉: registered from any channel, answered within 3 working days (5 if complex), pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hall_controller.core.calendar import add_working_days
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.settings import Hours
from hall_controller.features.ratings.rules import RatingRules

CHANNELS: dict[str, str] = {
    "kiosk": "自助终端", "mobile": "手机", "window": "窗口现场", "phone": "电话", "letter": "信函",
    "mailbox": "意见箱", "platform": "平台转办",
}
PUBLIC_CHANNELS = ("kiosk", "mobile")  # what citizens may file themselves; the rest a manager registers
STATES: dict[str, str] = {"open": "待答复", "answered": "已答复"}
CONTENT_MAX = 2000


def _due(registered_at: datetime, complex_: bool, rules: RatingRules, hours: Hours) -> str:
    days = rules.complaint_complex_days if complex_ else rules.complaint_days
    return add_working_days(registered_at, days, hours).isoformat()


def view(c: Mapping[str, Any]) -> dict[str, Any]:
    """A complaint as events carry it: the complainant's name and phone stay in the ledger row."""
    out = {k: v for k, v in c.items() if k not in ("name", "phone", "alerted_due")}
    out["complaint_id"] = out.pop("id")
    out["named"] = bool(c.get("name") or c.get("phone"))
    out["state_label"] = STATES[c["state"]]
    return out


def register(complaint_id: str, channel: str, content: str, name: str | None, phone: str | None,
             service_id: str | None, window_id: str | None, complex_: bool, by: str, rules: RatingRules,
             hours: Hours, now: datetime) -> Decision:
    if channel not in CHANNELS:
        raise HallError("invalid_channel", f"投诉渠道无效：{channel}", 422)
    if not content.strip():
        raise HallError("invalid_complaint", "请填写投诉内容。", 422)
    if len(content) > CONTENT_MAX:
        raise HallError("invalid_complaint", f"投诉内容不能超过 {CONTENT_MAX} 字。", 422)
    row = {
        "id": complaint_id, "channel": channel, "content": content.strip(), "name": name or None,
        "phone": phone or None, "service_id": service_id, "window_id": window_id, "complex": complex_,
        "state": "open", "registered_at": now.isoformat(), "due_at": _due(now, complex_, rules, hours),
        "alerted_due": None, "answered_at": None, "answer": None, "by": by,
    }
    d = Decision(rows=[("complaints", row)], result=row)
    d.emit("complaint.registered", view(row))
    return d


def classify(c: Mapping[str, Any], complex_: bool, by: str, rules: RatingRules, hours: Hours,
             now: datetime) -> Decision:
    """Marking a complaint 复杂 moves its deadline to the complex limit, counted from registration."""
    if c["state"] != "open":
        raise HallError("invalid_complaint_state", "投诉已答复，不能再调整。", 409)
    row = {**c, "complex": complex_,
           "due_at": _due(datetime.fromisoformat(c["registered_at"]), complex_, rules, hours)}
    d = Decision(rows=[("complaints", row)], result=row)
    d.emit("complaint.classified", {**view(row), "by": by})
    return d


def answer(c: Mapping[str, Any], text: str, by: str, now: datetime) -> Decision:
    if c["state"] != "open":
        raise HallError("invalid_complaint_state", "该投诉已答复。", 409)
    if not text.strip():
        raise HallError("invalid_answer", "请填写答复内容。", 422)
    row = {**c, "state": "answered", "answer": text.strip(), "answered_at": now.isoformat()}
    d = Decision(rows=[("complaints", row)], result=row)
    d.emit("complaint.answered", {**view(row), "by": by})
    return d
