"""Today's key figures for the manager's live board, computed from tickets and rating events.

Pure: the caller passes the tickets, the ratings (data of `rating.recorded` events), the queue changes and
`now`; nothing here reads the ledger or the clock.

Definitions (shown on the board, documented in docs/config.md under `[manager]`):
- wait: from issue to the (last) call, for every ticket that reached a window today;
- p90 wait: nearest-rank 90th percentile (the smallest wait that at least 90 % of waits do not exceed);
- within target: share of those waits at or under `queue.target_wait_minutes`;
- no-show rate: 过号 among the tickets a window closed (finished + no-show);
- service time: from the start (or call) to the finish of finished tickets;
- satisfaction: share of ratings that are not bad (差评 = 不满意 / 非常不满意, or `bad: true`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from hall_controller.core.model import Ticket, TicketStatus

RATING_LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")  # level 1..5
BAD_FROM_LEVEL = 4
SLOT_MINUTES = 30
WAITING_STEP_MINUTES = 10

# How each ticket event moves the number of people waiting (a transfer or a re-join puts the ticket back).
QUEUE_DELTAS = {"ticket.issued": 1, "ticket.transferred": 1, "ticket.rejoined": 1,
                "ticket.called": -1, "ticket.cancelled": -1}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (0 < q ≤ 100): the smallest value with at least q % of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def share_within(values: Sequence[float], limit: float) -> float | None:
    if not values:
        return None
    return sum(1 for v in values if v <= limit) / len(values)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def wait_s(t: Ticket) -> float | None:
    return (t.called_at - t.issued_at).total_seconds() if t.called_at else None


def service_s(t: Ticket) -> float | None:
    if t.status != TicketStatus.FINISHED or t.finished_at is None:
        return None
    return (t.finished_at - (t.started_at or t.called_at or t.finished_at)).total_seconds()


def is_bad(rating: dict[str, Any]) -> bool:
    if "bad" in rating:
        return bool(rating["bad"])
    return int(rating.get("level", 0)) >= BAD_FROM_LEVEL


def satisfaction(ratings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    bad = sum(1 for r in ratings if is_bad(r))
    return {"ratings": len(ratings), "bad": bad, "rate": (len(ratings) - bad) / len(ratings) if ratings else None}


def day_kpis(tickets: Sequence[Ticket], ratings: Sequence[dict[str, Any]], target_s: float) -> dict[str, Any]:
    waits = [w for t in tickets if (w := wait_s(t)) is not None]
    services = [s for t in tickets if (s := service_s(t)) is not None]
    finished = sum(1 for t in tickets if t.status == TicketStatus.FINISHED)
    no_show = sum(1 for t in tickets if t.status == TicketStatus.NO_SHOW)
    return {
        "issued": len(tickets),
        "served": finished,
        "no_show": no_show,
        "cancelled": sum(1 for t in tickets if t.status == TicketStatus.CANCELLED),
        "waiting": sum(1 for t in tickets if t.status == TicketStatus.WAITING),
        "called": len(waits),
        "avg_wait_s": mean(waits),
        "p90_wait_s": percentile(waits, 90),
        "target_wait_s": target_s,
        "within_target": share_within(waits, target_s),
        "no_show_rate": no_show / (finished + no_show) if finished + no_show else None,
        "avg_service_s": mean(services),
        "satisfaction": satisfaction(ratings),
    }


def group_stats(tickets: Iterable[Ticket], key: str, now: datetime) -> dict[str, dict[str, Any]]:
    """Per category or per service (`key` is the ticket field): waiting now, longest wait, today's average wait, served."""
    groups: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        groups[getattr(t, key)].append(t)
    out = {}
    for gid, ts in groups.items():
        waiting = [t for t in ts if t.status == TicketStatus.WAITING]
        waits = [w for t in ts if (w := wait_s(t)) is not None]
        out[gid] = {
            "waiting": len(waiting),
            "longest_wait_s": max(((now - t.queue_at).total_seconds() for t in waiting), default=0),
            "avg_wait_s": mean(waits),
            "served": sum(1 for t in ts if t.status == TicketStatus.FINISHED),
            "issued": len(ts),
        }
    return out


def window_counts(tickets: Iterable[Ticket]) -> dict[str, dict[str, Any]]:
    """Per window: services finished today, no-shows, average service time (办件量 per window)."""
    served: Counter[str] = Counter()
    no_show: Counter[str] = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    for t in tickets:
        if t.window_id is None:
            continue
        if t.status == TicketStatus.FINISHED:
            served[t.window_id] += 1
            s = service_s(t)
            if s is not None:
                times[t.window_id].append(s)
        elif t.status == TicketStatus.NO_SHOW:
            no_show[t.window_id] += 1
    return {w: {"served": served[w], "no_show": no_show[w], "avg_service_s": mean(times[w])}
            for w in set(served) | set(no_show)}


def satisfaction_by(ratings: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ratings:
        if r.get(key) is not None:
            groups[str(r[key])].append(r)
    return {k: satisfaction(v) for k, v in groups.items()}


def rating_distribution(ratings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = Counter(int(r.get("level", 0)) for r in ratings)
    return [{"level": i + 1, "name": name, "count": counts[i + 1]} for i, name in enumerate(RATING_LEVELS)]


def slots(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += timedelta(minutes=minutes)
    return out


def per_slot(tickets: Iterable[Ticket], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Arrivals (issued) and services (finished) per half-hour between start and end."""
    edges = slots(start, end, SLOT_MINUTES)
    arrivals = [0] * len(edges)
    services = [0] * len(edges)

    def index(at: datetime | None) -> int | None:
        if at is None or at < start or at >= end:
            return None
        return int((at - start).total_seconds() // (SLOT_MINUTES * 60))

    for t in tickets:
        if (i := index(t.issued_at)) is not None:
            arrivals[i] += 1
        if t.status == TicketStatus.FINISHED and (i := index(t.finished_at)) is not None:
            services[i] += 1
    return [{"slot": e.strftime("%H:%M"), "arrivals": a, "services": s} for e, a, s in zip(edges, arrivals, services)]


def waiting_series(changes: Iterable[tuple[datetime, int]], start: datetime, now: datetime,
                   step_minutes: int = WAITING_STEP_MINUTES) -> list[dict[str, Any]]:
    """People waiting in the whole hall at each step from start to now (and at now), from the queue changes
    of the day in time order ((at, +1/-1), see QUEUE_DELTAS). Starts from 0: the queue is empty at opening."""
    points = slots(start, now, step_minutes) + [now] if now > start else []
    out, level, it = [], 0, iter(sorted(changes, key=lambda c: c[0]))
    pending = next(it, None)
    for p in points:
        while pending is not None and pending[0] <= p:
            level += pending[1]
            pending = next(it, None)
        out.append({"at": p.strftime("%H:%M"), "waiting": max(level, 0)})
    return out
