"""The 办件 tables: applications (one row per 办件编号, lists and history as JSON) and the notifications owed
to citizens (SMS), delivered by the sender and marked, so none is sent twice or lost; and `Register`, the
reads of the 办件 (the running hall's, and `hall-controller applications --db` on a ledger file)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hall_controller.core.errors import HallError
from hall_controller.core.feature import PersonalData, Table
from hall_controller.core.settings import HallConfig
from hall_controller.features.applications import rules
from hall_controller.features.applications.rules import ApplicationSettings
from hall_controller.features.applications.settings import settings_of

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


class Register:
    """The 办件 as read from a ledger: `query(sql, params)` → rows, the hall's settings and its clock."""

    def __init__(self, query: Callable[..., list[Any]], config: Callable[[], HallConfig],
                 now: Callable[[], datetime]) -> None:
        self.query, self.config, self.now = query, config, now

    @property
    def settings(self) -> ApplicationSettings:
        return settings_of(self.config())

    def find(self, no: str) -> dict[str, Any] | None:
        cols = ", ".join(f'"{c}"' for c in COLUMNS)
        rows = self.query(f"SELECT {cols} FROM applications WHERE application_no = ?", (no,))
        return from_row(tuple(rows[0])) if rows else None

    def get(self, no: str) -> dict[str, Any]:
        app = self.find(no)
        if app is None:
            raise HallError("unknown_application", f"未找到办件：{no}", 404)
        return app

    def where(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        cols = ", ".join(f'"{c}"' for c in COLUMNS)
        return [from_row(tuple(r)) for r in
                self.query(f"SELECT {cols} FROM applications WHERE {sql}", params)]

    def view(self, app: dict[str, Any]) -> dict[str, Any]:
        return rules.view(app, self.config(), self.now())

    def search(self, status: str | None = None, service_id: str | None = None, overdue: bool = False,
               day_from: str | None = None, day_to: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The manager's list: newest first, filtered; `overdue` keeps those past their watched deadline."""
        where, params = ["1 = 1"], []
        if status:
            where.append("status = ?")
            params.append(status)
        if service_id:
            where.append("service_id = ?")
            params.append(service_id)
        if day_from:
            where.append("accepted_at >= ?")
            params.append(day_from)
        if day_to:
            where.append("accepted_at < ?")
            params.append(day_to + "T99")
        if overdue:
            where.append("status NOT IN ('refused', 'picked_up', 'mailed', 'completed', 'ready')"
                         " OR (commitment_due IS NOT NULL AND supplied_at IS NULL)")
        apps = self.where(" AND ".join(f"({w})" for w in where) + " ORDER BY accepted_at DESC LIMIT ?",
                          (*params, limit if not overdue else 10_000))
        views = [self.view(a) for a in apps]
        return [v for v in views if v["overdue"]][:limit] if overdue else views

    def of_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        return [a for a in self.where("ticket_id = ? OR pickup_ticket_id = ? OR tickets LIKE ?",
                                      (ticket_id, ticket_id, f'%"{ticket_id}"%'))]

    def report(self, day_from: str, day_to: str) -> dict[str, Any]:
        """办件 counted by outcome, status and service; 一件事 bundles and their matters."""
        rows = self.query(
            "SELECT service_id, outcome, status, bundle_id, ticket_id FROM applications "
            "WHERE accepted_at >= ? AND accepted_at < ?", (day_from, day_to + "T99"))
        by_outcome: dict[str, int] = {}
        by_status: dict[str, int] = {}
        by_service: dict[str, int] = {}
        bundles: dict[str, set[str]] = {}
        matters: dict[str, int] = {}
        for service_id, outcome, status, bundle_id, ticket_id in rows:
            by_outcome[outcome or "none"] = by_outcome.get(outcome or "none", 0) + 1
            by_status[status] = by_status.get(status, 0) + 1
            by_service[service_id] = by_service.get(service_id, 0) + 1
            if bundle_id:
                bundles.setdefault(bundle_id, set()).add(ticket_id)
                matters[bundle_id] = matters.get(bundle_id, 0) + 1
        names = {b.id: b.name for b in self.settings.bundles}
        return {"from": day_from, "to": day_to, "total": len(rows), "by_outcome": by_outcome, "by_status": by_status,
                "by_service": by_service,
                "bundles": [{"id": b, "name": names.get(b, b), "bundles": len(t), "matters": matters[b]}
                            for b, t in sorted(bundles.items())]}
