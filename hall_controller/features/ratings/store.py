"""The 好差评 tables: ratings, the 差评 cases they open, and complaints (投诉)."""

from __future__ import annotations

from hall_controller.core.feature import Migration, PersonalData, Table

RATINGS = Table("ratings", {
    "id": str, "ticket_id": str, "number": str, "day": str, "service_id": str, "category_id": str,
    "window_id": str, "staff_id": str, "channel": str, "level": int, "label": str, "bad": int, "reasons": str,
    "rater": str, "comment": str, "at": str, "application_no": str, "service_code": str,
}, "id", (("ticket_id"), ("at"), ("day", "service_id"), ("day", "window_id"), ("day", "staff_id")))

CASES = Table("cases", {
    "id": str, "rating_id": str, "ticket_id": str, "number": str, "service_id": str, "window_id": str,
    "staff_id": str, "level": int, "named": int, "state": str, "opened_at": str, "step_at": str, "due_at": str,
    "alerted_due": str, "appeals": int, "valid": int, "closed_at": str, "steps": str,
}, "id", (("state", "due_at"), ("rating_id"), ("opened_at")))

COMPLAINTS = Table("complaints", {
    "id": str, "channel": str, "content": str, "name": str, "phone": str, "service_id": str, "window_id": str,
    "complex": int, "state": str, "registered_at": str, "due_at": str, "alerted_due": str, "answered_at": str,
    "answer": str, "by": str,
}, "id", (("state", "due_at"), ("registered_at")))

# 实名 raters and complainants: kept for 回访 and answers, purged after the retention period.
PERSONAL = (PersonalData("ratings", ("rater"), "at"), PersonalData("complaints", ("name", "phone"), "registered_at"))
TABLES = (RATINGS, CASES, COMPLAINTS)


def _application_columns(conn) -> None:
    conn.execute("ALTER TABLE ratings ADD COLUMN application_no TEXT")
    conn.execute("ALTER TABLE ratings ADD COLUMN service_code TEXT")


# Append; never edit a released step.
MIGRATIONS = (Migration("ratings carry the 办件编号 and 事项编码", _application_columns),)
