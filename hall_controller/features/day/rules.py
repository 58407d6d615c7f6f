"""The hall's day as pure rules: when it opens, when lunch duty starts and ends, when it closes, and what
closing does to the tickets still waiting.

`plan(now, ...)` is a pure function of the time, the day records already written and the tickets still
unfinished; the driver in `hall_controller/day.py` turns each step into one ledger decision. Every step
is recorded once (the day record remembers it), so a restart or a late check catches up without repeats.

Closing policies ([day] closing_policy):
- "close_out": at closing time every ticket of the day still waiting is closed out (status cancelled,
  event `ticket.closed_out` with the reason) and the day is closed with its summary;
- "serve_remaining" (延时服务): the tickets stay callable after closing time; the day closes when none of
  its tickets is waiting or at a window any more.
Either way, a ticket still waiting when its calendar date is over is closed out with reason "day_ended"
(a new day numbers from 001 and must not inherit yesterday's queue): nothing is lost silently.
Tickets held at a window are never closed out: the staff finish, skip or transfer them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hall_controller.core.calendar import closing_time, describe_periods, opening_time
from hall_controller.core.decision import Decision
from hall_controller.core.hall import Hall
from hall_controller.core.model import TicketStatus, WindowState
from hall_controller.core.settings import HallConfig

CLOSING_POLICIES = ("serve_remaining", "close_out")
CLOSE_REASONS = {
    "closing_time": "闭厅时仍在等候，按闭厅规则结转",
    "day_ended": "当日未叫号，日终结转",
}


@dataclass(frozen=True)
class DaySettings:
    closing_policy: str = "serve_remaining"
    check_seconds: int = 30  # how often the driver looks at the clock
    close_after_minutes: int = 0  # grace after the last session ends before the day closes
    # Attendance (考勤), per session of the hall's hours:
    late_grace_minutes: int = 0  # signing in up to this long after the session start is on time
    early_grace_minutes: int = 0  # signing out up to this long before the session end is on time
    absent_after_minutes: int = 60  # signing in this late or later counts as absent for the session (缺勤半天)


@dataclass(frozen=True)
class DayRecord:
    """What has been done for one day (a row of the `hall_days` table)."""

    day: str
    opened_at: str | None = None
    lunch_started_at: str | None = None
    lunch_ended_at: str | None = None
    closed_at: str | None = None


@dataclass(frozen=True)
class Step:
    kind: str  # "open" | "lunch_started" | "lunch_ended" | "close"
    day: str
    reason: str = ""  # close: why waiting tickets are closed out ("" = none are)


def plan(
    now: datetime,
    records: Mapping[str, DayRecord],
    unfinished: Mapping[str, int],
    waiting: Mapping[str, int],
    ticket_days: Iterable[str],
    config: HallConfig,
    settings: DaySettings,
) -> list[Step]:
    """The day steps due at `now`, in order. `unfinished`: tickets waiting or at a window per day;
    `waiting`: tickets waiting per day; `ticket_days`: days that have tickets."""
    today = now.date().isoformat()
    hours = config.hours
    steps: list[Step] = []
    earlier = {d for d in (*records, *unfinished, *ticket_days) if d < today}
    for d in sorted(earlier):
        if records.get(d, DayRecord(d)).closed_at is None:
            steps.append(Step("close", d, "day_ended" if waiting.get(d) else ""))
    rec = records.get(today, DayRecord(today))
    if rec.closed_at is not None:
        return steps
    opens = opening_time(now.date(), hours, now.tzinfo)
    closes = closing_time(now.date(), hours, now.tzinfo)
    if opens is None or closes is None:
        return steps  # a non-working day closes at the rollover, if it had tickets at all
    opened = rec.opened_at is not None
    if not opened and now >= opens:
        steps.append(Step("open", today))
        opened = True
    lunch = hours.lunch_duty
    if opened and lunch is not None:
        lunch_start = datetime.combine(now.date(), lunch.start, now.tzinfo)
        lunch_end = datetime.combine(now.date(), lunch.end, now.tzinfo)
        started = rec.lunch_started_at is not None
        if not started and lunch_start <= now < lunch_end:
            steps.append(Step("lunch_started", today))
            started = True
        if started and rec.lunch_ended_at is None and now >= lunch_end:
            steps.append(Step("lunch_ended", today))
    if opened and (now - closes).total_seconds() >= settings.close_after_minutes * 60:
        if settings.closing_policy == "close_out":
            steps.append(Step("close", today, "closing_time" if waiting.get(today) else ""))
        elif not unfinished.get(today):
            steps.append(Step("close", today))
    return steps


# ----------------------------------------------------------------------------- decisions


def open_day(hall: Hall, day: str, now: datetime) -> Decision:
    """`day.opened`; windows still signed in from an earlier day are signed out as forgotten (未签离)."""
    config = hall.config
    d = Decision()
    for ws in hall.windows.values():
        if ws.staff_id and ws.signed_in_at and ws.signed_in_at.date().isoformat() < day and ws.ticket_id is None:
            nws = replace(ws, state=WindowState.SIGNED_OUT, since=now, staff_id=None, standin=False,
                          signed_in_at=None, priority_streak=0, pause_reason=None)
            d.windows.append(nws)
            d.emit("staff.signed_out", {
                "window_id": ws.id, "staff_id": ws.staff_id, "standin": ws.standin, "reason": "forgotten",
                "signed_in_at": ws.signed_in_at.isoformat(), "at": now.isoformat(), "window": nws.to_dict()})
    d.emit("day.opened", {
        "day": day, "sessions": describe_periods(config.hours.sessions),
        "lunch_duty": _lunch(config),
        "waiting": sum(1 for _ in hall.waiting_tickets()),
    })
    d.rows.append(("hall_days", {"day": day, "opened_at": now.isoformat()}))
    return d


def lunch_step(hall: Hall, step: Step, now: datetime) -> Decision:
    d = Decision()
    d.emit(f"day.{step.kind}", {"day": step.day, "lunch_duty": _lunch(hall.config)})
    d.rows.append(("hall_days", {"day": step.day, f"{step.kind}_at": now.isoformat()}))
    return d


def close_out(hall: Hall, day: str, reason: str, now: datetime) -> Decision:
    """Close out every ticket of `day` still waiting: one `ticket.closed_out` event each, with the reason."""
    d = Decision()
    for t in sorted((t for t in hall.waiting_tickets() if t.day == day), key=lambda t: (t.queue_at, t.seq)):
        closed = replace(t, status=TicketStatus.CANCELLED, finished_at=now)
        d.tickets.append(closed)
        d.emit("ticket.closed_out", {"ticket": hall.view(closed), "reason": reason,
                                     "reason_text": CLOSE_REASONS[reason],
                                     "waited_s": (now - t.queue_at).total_seconds()})
    return d


def close_record(day: str, now: datetime, policy: str, reason: str, summary: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("hall_days", {"day": day, "closed_at": now.isoformat(), "policy": policy, "close_reason": reason or None,
                          "summary": summary})


def _lunch(config: HallConfig) -> dict[str, Any] | None:
    if config.hours.lunch_duty is None:
        return None
    return {"period": describe_periods((config.hours.lunch_duty,)),
            "windows": [w.id for w in config.windows if w.lunch_duty]}

