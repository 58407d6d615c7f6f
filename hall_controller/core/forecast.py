"""When each waiting ticket will be called: the hall's own routing played forward (docs/routing.md, "Wait estimates").

From the hall as it is now — the waiting tickets in their queues, the windows at work (or rostered) with
what each is serving and since when, each window's categories and weights, 午间值班 — the rest of the queue
is called `REPLAYS` times by `routing.choose` itself, with the windows' service times drawn from each
category's live distribution (lognormal, mean: the matter's configured minutes at the category's pace;
spread: the category's recent Cs²; a service in progress is drawn beyond the time it has lasted). A ticket's
estimate is the median of its call times over the replays: the point that minimises the expected absolute
error, and what a closed formula cannot give where windows pool several themes with weights, come back from
lunch or are held up by one long service.

Left out, on purpose: citizens who come later (a priority ticket issued after can still go first; playing
the day's arrivals forward changed the error by less than a point in simulation) and breaks not yet begun.

Pure: the draws come from each ticket's id, so a ticket draws the same numbers at every estimate (a phone
page polled every few seconds does not jitter) and a replay needs no random source or clock.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from hall_controller.core import routing
from hall_controller.core.calendar import calls_allowed, lunch_duty_on
from hall_controller.core.model import Ticket, TicketStatus
from hall_controller.core.queues import CategoryQueue
from hall_controller.core.settings import HallConfig, Service, Window

REPLAYS = 15  # odd: the median is one replay's time. 31 gained nothing measurable in simulation (±0.4 points)
# Calls played per forecast at most: a long queue gets fewer replays (odd, at least one), so a rush of
# thousands waiting costs a forecast about what 200 cost. Far back in a long queue a wait is the sum of many
# services, whose spread is small against it: one replay is near its median. Beyond the budget the rest of
# the queue is called at the pace of the calls played, in queue order.
CALL_BUDGET = 3000
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class PoolWindow:
    """A window that will call: when it can first call, and what it is serving now."""
    window: Window
    weights: Mapping[str, float]
    streak: int  # priority calls in a row (the "ratio" fairness rule counts them)
    free_s: float  # seconds from now when it is free to call (0: now; a rostered start; back from a pause)
    serving: Ticket | None = None  # the ticket it is serving now: free once that service ends
    serving_s: float = 0.0  # how long that service has lasted


def coming(key: str, service: Service, at: datetime, priority: str | None = None, seq: int = 1 << 62) -> Ticket:
    """A ticket that is not (yet) in the hall: a ghost (a number taken at `at`), or one expected then (a
    booking). Its id starts with "~", which no ticket id does; the default number sorts behind every real one."""
    return Ticket(id="~" + key, day="", number="", prefix=service.prefix, seq=seq, service_id=service.id,
                  category_id=service.category_id, channel="appointment" if priority else "kiosk", priority=priority,
                  issued_at=at, queue_at=at, token="", status=TicketStatus.WAITING)


# (mean seconds, Cs²) of a ticket's service
Profile = Callable[[Ticket], tuple[float, float]]


def call_times(config: HallConfig, now: datetime, windows: Sequence[PoolWindow],
               queues: Mapping[str, CategoryQueue], profile: Profile, ghosts: Collection[str] = (),
               expected: Sequence[Ticket] = (), replays: int | None = None) -> dict[str, float | None]:
    """Seconds from `now` until each ticket in `queues` is called (median over the replays); None for one no
    window of the pool may serve, or that half the replays never call. Ghosts (ids in `ghosts`) are called like
    any ticket but take no window time: each says when a ticket taken now would be called, without holding up
    the others or each other. expected: tickets known to come (booked appointments), each joining its queue at
    its queue time. replays: by default REPLAYS, fewer for a long queue (CALL_BUDGET)."""
    tickets = [t for q in queues.values() for t in q]
    if replays is None:
        replays = min(REPLAYS, CALL_BUDGET // max(len(tickets) + len(expected), 1) // 2 * 2 + 1)
    pool = [_Window(w, routing.special_categories(w.window, w.weights, config)) for w in windows]
    served: dict[tuple[str, str, str | None], list[int]] = {}  # a kind of ticket -> the pool windows that may serve it

    def serving(t: Ticket) -> list[int]:
        key = (t.category_id, t.service_id, t.target_window_id)
        if key not in served:
            served[key] = [i for i, w in enumerate(pool) if routing.serves(
                w.pool.window, w.pool.weights, t.service_id, t.category_id, t.target_window_id, config)]
        return served[key]

    day = _Day(config, now)
    draws = _Draws(profile, replays)
    callable_ = sum(1 for t in tickets if serving(t))
    arrivals = sorted((((t.queue_at - now).total_seconds(), t.seq, t, serving(t)) for t in expected),
                      key=lambda a: a[:2])  # bookings of one slot share both: keep their order
    expected_ids = {t.id for t in expected}
    times: dict[str, list[float]] = {t.id: [] for t in tickets}
    budget = CALL_BUDGET // replays
    for rep in range(replays):
        called = _replay(config, day, pool, queues, draws, ghosts, arrivals, expected_ids, callable_, budget, rep)
        if len(called) >= budget:  # stopped at the budget: the rest at the pace so far
            last = max(called.values(), default=0.0)
            rest = sorted((t for t in tickets if t.id not in called and serving(t)), key=lambda t: (t.queue_at, t.seq))
            for k, t in enumerate(rest, start=1):
                called[t.id] = last * (len(called) + k) / len(called)
        for tid, at in called.items():
            times[tid].append(at)
    out: dict[str, float | None] = {}
    for tid, ts in times.items():
        ts.sort()
        out[tid] = ts[replays // 2] if len(ts) > replays // 2 else None
    return out


@dataclass(frozen=True, slots=True)
class _Window:
    pool: PoolWindow
    by_service: set[str]  # routing.special_categories, once per forecast rather than per call


class _Day:
    """Seconds from now as times, and 午间值班 as seconds from now (calendar.calls_allowed asked only inside it)."""

    def __init__(self, config: HallConfig, now: datetime):
        self.now, self.hours = now, config.hours
        lunch = lunch_duty_on(now.date(), config.hours, now.tzinfo)
        self.lunch = None if lunch is None else ((lunch[0] - now).total_seconds(), (lunch[1] - now).total_seconds())

    def at(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    def next_call_s(self, window: Window, at_s: float) -> float:
        """When a window free at `at_s` may call: then, or when lunch ends if it has no lunch duty."""
        if (self.lunch is not None and self.lunch[0] <= at_s < self.lunch[1]
                and not calls_allowed(window, self.hours, self.at(at_s))):
            return self.lunch[1]
        return at_s


def _replay(config: HallConfig, day: _Day, windows: Sequence[_Window], queues: Mapping[str, CategoryQueue],
            draws: _Draws, ghosts: Collection[str], arrivals: Sequence[tuple[float, int, Ticket, list[int]]],
            expected: Collection[str], left: int, budget: int, rep: int) -> dict[str, float]:
    """One replay: when each ticket is called, up to `budget` of them. `left`: the tickets some window may serve
    (those expected only hold up others)."""
    queues = {cat: q.copy() for cat, q in queues.items() if len(q)}
    streak = [w.pool.streak for w in windows]
    free = []
    for i, w in enumerate(windows):
        start = w.pool.free_s
        if w.pool.serving is not None:
            start = max(start, draws.rest(w.pool.serving, w.pool.serving_s, rep))
        free.append((start, i))
    heapq.heapify(free)
    idle: set[int] = set()  # windows with nothing they may serve, until someone they may serve comes
    called: dict[str, float] = {}
    k = 0
    while left and len(called) < budget:
        if k < len(arrivals) and (not free or arrivals[k][0] <= free[0][0]):
            at_s, _, t, serving = arrivals[k]
            k += 1
            queues.setdefault(t.category_id, CategoryQueue()).add(t)
            for i in serving:
                if i in idle:
                    idle.discard(i)
                    heapq.heappush(free, (at_s, i))
            continue
        if not free:
            break
        at_s, i = heapq.heappop(free)
        w = windows[i]
        allowed = day.next_call_s(w.pool.window, at_s)
        if allowed > at_s:  # 午间值班: back when lunch ends
            heapq.heappush(free, (allowed, i))
            continue
        choice = routing.choose(w.pool.window, dict(w.pool.weights), streak[i],
                                routing.candidates(queues, w.pool.window, w.pool.weights, config, w.by_service),
                                day.at(at_s), config)
        if choice is None:
            idle.add(i)
            continue
        t = choice.ticket
        queues[t.category_id].remove(t)
        streak[i] = choice.streak
        if t.id not in expected:
            called[t.id] = at_s
            left -= 1
        heapq.heappush(free, (at_s if t.id in ghosts else at_s + draws.service(t, rep), i))
    return called


class _Draws:
    """Service times per ticket and replay, from uniforms seeded by the ticket's id (stable between estimates)."""

    def __init__(self, profile: Profile, replays: int):
        self.profile, self.replays = profile, replays
        self._uniforms: dict[str, list[float]] = {}

    def _u(self, key: str, rep: int) -> float:
        us = self._uniforms.get(key)
        if us is None:
            rng = random.Random(key)
            us = self._uniforms[key] = [rng.random() for _ in range(self.replays)]
        return us[rep]

    def service(self, t: Ticket, rep: int) -> float:
        mean, cs2 = self.profile(t)
        return lognormal(mean, cs2, self._u(t.id, rep))

    def rest(self, t: Ticket, lasted_s: float, rep: int) -> float:
        """The rest of a service in progress that has lasted `lasted_s`: drawn from the lengths beyond it."""
        mean, cs2 = self.profile(t)
        return lognormal(mean, cs2, self._u(t.id + "/rest", rep), beyond=lasted_s) - lasted_s


def lognormal(mean: float, cs2: float, u: float, beyond: float = 0.0) -> float:
    """The u-quantile of a lognormal length with this mean and squared coefficient of variation, given that
    it exceeds `beyond` (a service in progress; a long one is long-tailed and expected to go on)."""
    sigma = math.sqrt(math.log(1 + max(cs2, 0.01)))
    mu = math.log(max(mean, 1.0)) - sigma * sigma / 2
    low = _NORMAL.cdf((math.log(beyond) - mu) / sigma) if beyond > 0 else 0.0
    q = min(max(low + (1 - low) * u, 1e-12), 1 - 1e-12)
    return max(math.exp(mu + sigma * _NORMAL.inv_cdf(q)), beyond)
