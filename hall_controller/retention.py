"""Personal data (个人信息): masked or hashed where the hall does not need it in clear, purged after the
retention period, every purge recorded as a `retention.purged` event with its counts.

Features declare where they keep personal fields with `register_personal_data(table, columns, age_column)`
at import time (the appointments feature declares its own table). A purge sets those columns to NULL in
rows whose age column (an ISO date or time) is older than the retention period, through one ledger
decision. Ticket holder hashes (`Ticket.holder`, inside the ticket record) are purged the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from . import config as cfg
from .api.auth import require_admin
from .domain.hall import Decision
from .domain.model import TERMINAL, Ticket
from .service import HallService
from .store import EXTRA_TABLES

log = logging.getLogger(__name__)

TICKETS = "tickets"  # the built-in entry: holder hashes inside ticket records
BATCH = 5000  # rows per table per purge, to keep each transaction short; the next run continues


@dataclass(frozen=True)
class PersonalData:
    table: str
    columns: tuple[str, ...]
    age_column: str


REGISTRY: dict[str, PersonalData] = {TICKETS: PersonalData(TICKETS, ("holder",), "issued_at")}


def register_personal_data(table: str, columns: tuple[str, ...] | list[str], age_column: str) -> None:
    """Declare personal columns of a registered table, purged once `age_column` is older than the period."""
    REGISTRY[table] = PersonalData(table, tuple(columns), age_column)


@dataclass(frozen=True)
class RetentionSettings:
    days: int = 180  # default retention period of personal data
    tables: dict[str, int] = field(default_factory=dict)  # per-table periods overriding `days`
    check_minutes: int = 60


def parse(t: cfg.Table, core: cfg.HallConfig) -> RetentionSettings:
    t = cfg.Table(t.source, t.path, t.data, ("days", "tables", "check_minutes"))
    d = RetentionSettings()
    per_table = cfg.Table(t.source, t.at("tables"), t.raw("tables", {}), tuple(REGISTRY))
    return RetentionSettings(
        days=t.integer("days", d.days, low=1, high=36500),
        tables={name: per_table.integer(name, low=1, high=36500) for name in per_table.data},
        check_minutes=t.integer("check_minutes", d.check_minutes, low=1, high=1440),
    )


cfg.register_section("retention", parse)


def settings_of(config: cfg.HallConfig) -> RetentionSettings:
    return config.sections.get("retention") or RetentionSettings()


# ----------------------------------------------------------------------------- purge


def cutoffs(now: datetime, settings: RetentionSettings) -> dict[str, str]:
    """Per registered table, the age before which personal fields go (pure)."""
    return {name: (now - timedelta(days=settings.tables.get(name, settings.days))).isoformat()
            for name in REGISTRY}


def purge(service: HallService, by: str | None = None) -> dict[str, int]:
    """Purge what is past its period now; records `retention.purged` when anything was purged or `by`
    (a manager's request) is given. Returns the counts per table."""
    settings = settings_of(service.config)

    def decide(now: datetime) -> Decision:
        limits = cutoffs(now, settings)
        d = Decision()
        counts: dict[str, int] = {}
        for name, entry in REGISTRY.items():
            if name == TICKETS:
                tickets = _old_tickets(service, limits[name])
                d.tickets.extend(replace(t, holder=None) for t in tickets)
                counts[name] = len(tickets)
            elif name in EXTRA_TABLES:
                rows = _old_rows(service, entry, limits[name])
                d.rows.extend((name, row) for row in rows)
                counts[name] = len(rows)
        if any(counts.values()) or by is not None:
            d.emit("retention.purged", {"counts": counts, "before": limits, "by": by})
        d.result = counts
        return d

    counts = service.execute(decide)
    if counts.get(TICKETS):
        service.hall.forget_before(service.day)  # purged old tickets entered memory with the decision
    return counts


def _old_tickets(service: HallService, before: str) -> list[Ticket]:
    statuses = tuple(s.value for s in TERMINAL)
    rows = service.ledger.query(
        f"SELECT data FROM tickets WHERE issued_at < ? AND status IN ({','.join('?' * len(statuses))}) "
        "AND json_extract(data, '$.holder') IS NOT NULL LIMIT ?", (before, *statuses, BATCH))
    return [Ticket.from_dict(json.loads(r[0])) for r in rows]


def _old_rows(service: HallService, entry: PersonalData, before: str) -> list[dict[str, Any]]:
    pk = [k.strip() for k in EXTRA_TABLES[entry.table][1].split(",")]
    present = " OR ".join(f'"{c}" IS NOT NULL' for c in entry.columns)
    keys = ", ".join(f'"{k}"' for k in pk)
    rows = service.ledger.query(
        f'SELECT {keys} FROM "{entry.table}" '
        f'WHERE "{entry.age_column}" < ? AND ({present}) LIMIT ?', (before, BATCH))
    return [{**dict(zip(pk, r)), **{c: None for c in entry.columns}} for r in rows]


# ----------------------------------------------------------------------------- wiring

router = APIRouter(prefix="/api/retention")


@router.post("/purge")
async def purge_now(request: Request, admin: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
    return {"purged": purge(request.app.state.service, by=admin)}


async def _purging(app: FastAPI) -> AsyncIterator[None]:
    service: HallService = app.state.service

    async def loop() -> None:
        while True:
            try:
                purge(service)
            except Exception:  # retried at the next check; personal data only ever waits longer
                log.exception("retention purge failed")
            await asyncio.sleep(settings_of(service.config).check_minutes * 60)

    task = asyncio.create_task(loop())
    yield
    task.cancel()


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.state.lifespans.append(_purging)
