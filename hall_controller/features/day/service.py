"""The hall's day, driven on the injected clock: opening, lunch duty, closing with its daily summary.

A lifespan task calls `tick` every `[day] check_seconds`; `tick` asks the pure `rules.plan` what is
due and commits each step through `HallService.execute`, so the steps, the tickets closed out and the
summary row land in the ledger together. Tests call `tick` directly with a ManualClock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from hall_controller.core.calendar import (
    closing_time,
    in_lunch_duty,
    is_working_day,
    opening_time,
    service_day,
)
from hall_controller.core.decision import Decision
from hall_controller.core.model import ACTIVE, Ticket, TicketStatus
from hall_controller.core.service import HallService
from hall_controller.features.day import rules
from hall_controller.features.day.settings import settings_of
from hall_controller.features.reports import rules as reports

log = logging.getLogger(__name__)

MAX_STEPS = 20  # a long outage catches up at most this many steps per tick; the next tick continues


def records(service: HallService) -> dict[str, rules.DayRecord]:
    rows = service.ledger.query("SELECT day, opened_at, lunch_started_at, lunch_ended_at, closed_at FROM hall_days")
    return {r[0]: rules.DayRecord(*r) for r in rows}


def tick(service: HallService) -> list[rules.Step]:
    """Commit every day step due now; returns the steps taken."""
    taken: list[rules.Step] = []
    for _ in range(MAX_STEPS):
        step = service.execute(lambda now: _next_step(service, now))
        if step is None:
            break
        taken.append(step)
        if step.kind == "close" and step.day < service.day:
            with service.lock:
                service.hall.forget_before(service.day)  # the closed-out tickets of that day leave memory
    return taken


def _next_step(service: HallService, now: datetime) -> Decision:
    hall = service.hall
    unfinished: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for t in hall.tickets.values():
        if t.status == TicketStatus.WAITING or t.status in ACTIVE:
            unfinished[t.day] = unfinished.get(t.day, 0) + 1
        if t.status == TicketStatus.WAITING:
            waiting[t.day] = waiting.get(t.day, 0) + 1
    ticket_days = {r[0] for r in service.ledger.query(
        "SELECT DISTINCT t.day FROM tickets t LEFT JOIN hall_days h ON h.day = t.day WHERE h.closed_at IS NULL")}
    settings = settings_of(service.config)
    steps = rules.plan(now, records(service), unfinished, waiting, ticket_days, service.config, settings)
    if not steps:
        return Decision()
    step = steps[0]
    if step.kind == "open":
        d = rules.open_day(hall, step.day, now)
    elif step.kind in ("lunch_started", "lunch_ended"):
        d = rules.lunch_step(hall, step, now)
    else:
        d = rules.close_out(hall, step.day, step.reason, now) if step.reason else Decision()
        summary = reports.daily_summary(day_rows(service, step.day, d.tickets), service.config, step.day)
        d.rows.append(rules.close_record(step.day, now, settings.closing_policy, step.reason, summary))
        d.emit("day.closed", {"day": step.day, "policy": settings.closing_policy, "reason": step.reason or None,
                              "summary": summary})
    d.result = step
    return d


def day_rows(service: HallService, day: str, changed: list[Ticket]) -> reports.Rows:
    """The day's tickets as they will be once this decision commits, its call events and its ratings."""
    tickets = {t.id: t for t in (Ticket.from_dict(json.loads(r[0])) for r in service.ledger.query(
        "SELECT data FROM tickets WHERE day = ?", (day,)))}
    tickets.update({t.id: t for t in changed})
    events = [{"type": "ticket.called", "at": at, "data": json.loads(data)} for at, data in service.ledger.query(
        "SELECT e.at, e.data FROM events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.day = ? AND e.type = 'ticket.called' ORDER BY e.seq", (day,))]
    events += [{"type": "ticket.closed_out", "at": "", "data": {"ticket": {"id": t.id}}} for t in changed]
    events += [{"type": "ticket.closed_out", "at": at, "data": json.loads(data)} for at, data in service.ledger.query(
        "SELECT e.at, e.data FROM events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.day = ? AND e.type = 'ticket.closed_out'", (day,))]
    return reports.Rows(list(tickets.values()), events, load_ratings(service, "day = ?", (day,)))


def load_ratings(service: HallService, where: str, params: tuple) -> list[dict[str, Any]] | None:
    """Ratings rows (ticket_id, level, bad), or None when the hall runs without the ratings feature."""
    if not service.ledger.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ratings'"):
        return None
    rows = service.ledger.query(f"SELECT ticket_id, level, bad FROM ratings WHERE {where}", params)
    return [{"ticket_id": r[0], "level": r[1], "bad": bool(r[2])} for r in rows]


def status(service: HallService) -> dict[str, Any]:
    """Where the hall's day stands now, for boards and the manager."""
    now = service.clock.now()
    hours = service.config.hours
    today = now.date()
    opens, closes = opening_time(today, hours, now.tzinfo), closing_time(today, hours, now.tzinfo)
    special = service_day(today, hours)
    if special is not None and any(p.contains(now.time()) for p in special.sessions):
        phase = "service_day"  # a weekend or holiday session (错时/节假日服务)
    elif not is_working_day(today, hours):
        phase = "holiday"
    elif in_lunch_duty(now, hours):
        phase = "lunch_duty"
    elif any(p.contains(now.time()) for p in hours.sessions):
        phase = "open"
    elif opens and now < opens:
        phase = "before_opening"
    elif closes and now >= closes:
        phase = "after_closing"
    else:
        phase = "break"
    rec = records(service).get(today.isoformat())
    return {
        "day": today.isoformat(), "phase": phase, "working_day": is_working_day(today, hours),
        "opens_at": opens.isoformat() if opens else None, "closes_at": closes.isoformat() if closes else None,
        "closing_policy": settings_of(service.config).closing_policy,
        "lunch_duty_windows": [w.id for w in service.config.windows if w.lunch_duty],
        "service_day": {"name": special.name, "sessions": [f"{p.start:%H:%M}-{p.end:%H:%M}" for p in special.sessions],
                        "services": list(special.services)} if special else None,
        "record": rec.__dict__ if rec else None,
    }


async def drive(app: FastAPI) -> AsyncIterator[None]:
    service: HallService = app.state.service

    async def check() -> None:
        try:
            await service.call(tick, service)
        except Exception:  # a failed check is retried at the next one; the hall keeps running
            log.exception("day driver check failed")

    async def loop() -> None:
        while True:
            await asyncio.sleep(settings_of(service.config).check_seconds)
            await check()

    await check()  # the hall's day is current before the first request
    task = asyncio.create_task(loop())
    yield
    task.cancel()
