"""The 办件 tables: applications (one row per 办件编号, lists and history as JSON) and the notifications owed
to citizens (SMS), delivered by the sender and marked, so none is sent twice or lost."""

from __future__ import annotations

import json
from typing import Any

from hall_controller.core.feature import PersonalData, Table

JSON_FIELDS = ("missing", "commitment_materials", "delivery", "tickets", "history")
APPLICATIONS = Table("applications", {
    "application_no": str, "service_id": str, "service_code": str, "bundle_id": str, "ticket_id": str,
    "ticket_number": str, "window_id": str, "staff_id": str, "outcome": str, "status": str, "accepted_at": str,
    "due_at": str, "missing": str, "reason": str, "commitment_due": str, "commitment_materials": str,
    "supplied_at": str, "citizen": str, "phone": str, "id_hash": str, "delivery": str, "pickup_ticket_id": str,
    "system": str, "alerted_due": str, "tickets": str, "history": str, "updated_at": str,
}, "application_no", (("status", "due_at"), ("id_hash", "status"), ("pickup_ticket_id",), ("ticket_id",),
                      ("accepted_at",), ("bundle_id",)))

NOTIFICATIONS = Table("notifications", {
    "id": str, "application_no": str, "channel": str, "phone": str, "template": str, "params": str,
    "state": str, "attempts": int, "error": str, "created_at": str, "sent_at": str,
}, "id", (("state", "created_at"),))

TABLES = (APPLICATIONS, NOTIFICATIONS)
# The citizen's name (masked), phone, ID hash and postal address: kept for 出件 and 回访, then purged.
PERSONAL = (PersonalData("applications", ("citizen", "phone", "id_hash", "delivery"), "updated_at"),
            PersonalData("notifications", ("phone",), "created_at"))
COLUMNS = tuple(APPLICATIONS.columns)


def row(app: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(app.get(k), ensure_ascii=False) if k in JSON_FIELDS else app.get(k)) for k in COLUMNS}


def from_row(values: Any) -> dict[str, Any]:
    d = dict(zip(COLUMNS, values))
    for k in JSON_FIELDS:
        d[k] = json.loads(d[k]) if d[k] else ([] if k != "delivery" else None)
    return d
