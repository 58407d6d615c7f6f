"""Personal data (个人信息): masked or hashed where the hall does not need it in clear, purged after the
retention period, every purge recorded as a `retention.purged` event with its counts.

Features declare where they keep personal fields (`Feature.personal_data`). A purge sets those columns to
NULL in rows whose age column (an ISO date or time) is older than the retention period, through one
ledger decision. Ticket holder hashes (`Ticket.holder`, inside the ticket record) are purged the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from hall_controller.core.decision import Decision
from hall_controller.core.feature import PersonalData
from hall_controller.core.model import TERMINAL, Ticket
from hall_controller.core.service import HallService
from hall_controller.features.retention.rules import TICKETS, cutoffs
from hall_controller.features.retention.settings import settings_of

log = logging.getLogger(__name__)

BATCH = 5000  # rows per table per purge, to keep each transaction short; the next run continues


def purge(service: HallService, registry: Mapping[str, PersonalData], by: str | None = None) -> dict[str, int]:
    """Purge the personal fields of `registry` (table → its entry) past their period now; records `retention.purged` when anything was purged or `by`
    (a manager's request) is given. Returns the counts per table."""
    settings = settings_of(service.config)

    def decide(now: datetime) -> Decision:
        limits = cutoffs(now, settings, registry)
        d = Decision()
        counts: dict[str, int] = {}
        for name, entry in registry.items():
            if name == TICKETS:
                tickets = _old_tickets(service, limits[name])
                d.tickets.extend(replace(t, holder=None) for t in tickets)
                counts[name] = len(tickets)
            else:
                rows = _old_rows(service, entry, limits[name])
                d.rows.extend((name, row) for row in rows)
                counts[name] = len(rows)
        if any(counts.values()) or by is not None:
            d.emit("retention.purged", {"counts": counts, "before": limits, "by": by})
        d.result = counts
        return d

    counts = service.execute(decide)
    if counts.get(TICKETS):
        with service.lock:
            service.hall.forget_before(service.day)  # purged old tickets entered memory with the decision
    return counts


def _old_tickets(service: HallService, before: str) -> list[Ticket]:
    statuses = tuple(s.value for s in TERMINAL)
    rows = service.ledger.query(
        f"SELECT data FROM tickets WHERE issued_at < ? AND status IN ({','.join('?' * len(statuses))}) "
        "AND json_extract(data, '$.holder') IS NOT NULL LIMIT ?", (before, *statuses, BATCH))
    return [Ticket.from_dict(json.loads(r[0])) for r in rows]


def _old_rows(service: HallService, entry: PersonalData, before: str) -> list[dict[str, Any]]:
    pk = [k.strip() for k in service.ledger.tables[entry.table].pk.split(",")]
    present = " OR ".join(f'"{c}" IS NOT NULL' for c in entry.columns)
    keys = ", ".join(f'"{k}"' for k in pk)
    rows = service.ledger.query(
        f'SELECT {keys} FROM "{entry.table}" '
        f'WHERE "{entry.age_column}" < ? AND ({present}) LIMIT ?', (before, BATCH))
    return [{**dict(zip(pk, r)), **{c: None for c in entry.columns}} for r in rows]


async def purging(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: purge at start and every `check_minutes`."""
    service: HallService = app.state.service
    registry = app.state.personal_data

    async def loop() -> None:
        while True:
            try:
                await service.call(purge, service, registry)
            except Exception:  # retried at the next check; personal data only ever waits longer
                log.exception("retention purge failed")
            await asyncio.sleep(settings_of(service.config).check_minutes * 60)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
