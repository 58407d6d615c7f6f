"""Property tests of routing over random days of a hall, run against the pure core (hall, routing, queues).

A day is hundreds of commands (200-500), valid in the state the hall is in when they run: the strategy
draws an operation *kind* plus a few numbers, and `Day.step` maps them onto what is possible now (finish,
skip, transfer only at a window holding a ticket; call-next at a signed-in, open window with work; a re-join
only for a recent no-show; a stand-in only when 员工3 is free to leave their own window...). When the kind has
nothing to act on, the next kind of its `FALLBACK` row is tried (a desk does what its state allows); only
when none is possible is the operation refused, counted and skipped. A command the runner deems valid that
the hall refuses fails the test. Every step advances the clock 0-59 s (plus, now and then, a 1-25 min lull;
lunch 12:00-14:00 is jumped over), so tickets age past `max_wait_minutes` and priority and normal tickets
wait together.

Checked on every call: a window only gets tickets it may serve (against the config, independently); the
fairness ratio (at most `ratio` priority calls in a row while a normal ticket waits, and a normal ticket only
goes ahead of a waiting priority ticket once that run is full; the test's own count equals the window's
streak); nothing waits past the maximum while an eligible window calls others (the oldest overdue goes
first); the indexed candidate set picks exactly what a full scan of every eligible ticket would. On every
transfer: the ticket keeps its original queue time. After every step: no ticket held twice, held tickets are
exactly the called/serving ones, no number repeats, the waiting index holds exactly the waiting tickets.

How often the days reach the interesting states. The run is derandomized (fixed seed, no example database),
so these figures are the same on every run; `test_the_random_days_reach_the_interesting_states` asserts
minimums under them, prints them (`pytest -s`) and records them (junit `record_property`);
`--hypothesis-show-statistics` shows the per-day events. 100 days, 33 977 operations:

- day length: median 268 operations (min 200, max 500); median peak of tickets waiting at once: 45
- 99.0 % of operations executed (80.6 % as drawn, 18.4 % as the next kind of their row), 1.0 % refused;
  the hall refused no command the runner chose
- 8 092 calls (247 of them at a window with nothing to call)
- priority and normal tickets waiting together at 80 % of calls, on 94 % of days
- overdue tickets (past `max_wait_minutes`) among the eligible at 42 % of calls; on 66 of the 72 days with a
  finite maximum (92 %): 22 of 28 days at 15 min, 29 of 29 at 30 min, 15 of 15 at 60 min (28 days have none)
- fairness cut-ins (a normal ticket called ahead of waiting priority tickets, the run full): 739, on 79 % of
  days
- transfers on 94 % of days: 957 to a category, 768 to a window (a window only while staffed and not paused)
- AB岗 stand-ins 181 (on 86 % of days), regular staff taking their window back 140, sign-outs 473
- pauses 521, cancels 675, skips 1 052, recalls 448, late re-joins 377 (on 86 % of days), windows closed 306
- the 6 days that reach none of this are hypothesis's degenerate first tries: 200 operations, (nearly) all
  "issue" at 08:30, not one ticket called
- runtime of the file: ~9 s of tests (14 s wall) on a lightly loaded 2-core machine, ~16-18 s (24-28 s wall)
  with two CPU-spinning processes, ~42 s at worst seen with the whole machine busy (load average 6)
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, time, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hall_controller.core import routing
from hall_controller.core.hall import Hall
from hall_controller.core.model import ACTIVE, TicketStatus, WindowState
from tests.factory import MONDAY_10, small_hall

SERVICES = ["S1", "S2", "B1", "O1", "P1"]
WINDOWS = ["1", "2", "3", "4", "9"]
PRIORITIES = [None, None, None, "green", "appointment", "assist"]
CATEGORIES = ["social", "business", "other"]
STANDIN, STANDIN_WINDOWS = "S003", ("1", "2")  # small_hall: 员工3 may stand in at windows 1 and 2 (AB岗)
LUNCH = (time(12), time(14))  # no window of small_hall has lunch duty: the day jumps over it
NO_MAX = 10_000  # minutes: a hall without ageing, where only the fairness ratio matters

# Drawn kinds, weighted by repetition (shrinking moves towards the first ones).
KINDS = (
    ["issue"] * 30 + ["call"] * 20 + ["finish"] * 12 + ["start"] * 4 + ["skip"] * 4 + ["transfer"] * 6
    + ["recall"] * 2 + ["cancel"] * 2 + ["rejoin"] * 2 + ["wait"] * 2 + ["pause"] * 2 + ["resume"] * 3
    + ["sign_out"] * 1 + ["sign_in"] * 3 + ["standin"] * 1 + ["close"] * 1 + ["open"] * 1
)
# When the drawn kind has nothing to act on now, the step tries the next one of its row instead: staff at a
# window do what their window's state allows, and the ways back into service (resume, sign in, open) also
# serve; the ways out of service (pause, sign out, close, stand-in) have no substitute.
BACK = ("resume", "sign_in", "open")
FALLBACK = {
    "call": ("call", "finish", *BACK, "idle_call"), "finish": ("finish", "call", *BACK, "idle_call"),
    **{k: (k, "finish", "call", *BACK, "idle_call") for k in ("start", "skip", "recall", "transfer")},
    "rejoin": ("rejoin", "issue"), "cancel": ("cancel", "issue"),
    **{k: (k, "call", "finish") for k in BACK},
}
DAYS = 100
STAFFED = (WindowState.OPEN, WindowState.SERVING)  # a window that can take a transferred ticket now

# An operation: its kind, where it acts (a), with what (b), and how long after the previous one (0-59 s).
# (Separate small draws: packed into one big integer, hypothesis's bias towards small values would stop the
# clock.)
op = st.tuples(st.sampled_from(KINDS), st.integers(0, 255), st.integers(0, 255), st.integers(0, 59))
day_ops = st.lists(op, min_size=200, max_size=500)

# Figures of every day run in this process, checked by test_the_random_days_reach_the_interesting_states.
STATS: Counter[str] = Counter()
DAY_LENGTHS: list[int] = []
PEAK_WAITING: list[int] = []  # per day, the most tickets waiting at once


def waited(now: datetime, t) -> float:
    return (now - t.queue_at).total_seconds()


def allowed(cfg, window, t) -> bool:
    if t.target_window_id is not None:
        return t.target_window_id == window.id
    if window.mode == "comprehensive":
        return cfg.category(t.category_id).general
    if window.mode == "categorised":
        return t.category_id in window.weights
    return t.service_id in window.services and cfg.service(t.service_id).category_id == t.category_id


class Day:
    """One day of a hall: commands with every invariant checked, and what the day reached, counted."""

    def __init__(self, max_wait: float, ratio: int, fairness: str = "ratio", head_start: float = 15):
        self.cfg = small_hall(max_wait=max_wait, ratio=ratio, fairness=fairness, head_start=head_start)
        self.hall = Hall(self.cfg)
        self.max_wait, self.ratio, self.fairness, self.head_s = max_wait, ratio, fairness, head_start * 60
        self.now = MONDAY_10.replace(hour=8, minute=30)
        self.queue_at_of: dict[str, datetime] = {}
        self.streak = {w: 0 for w in WINDOWS}  # the test's own count of each window's priority run
        self.token = 0
        self.seen: Counter[str] = Counter()
        for wid in WINDOWS:
            self.sign_in(wid, f"S{int(wid):03d}")

    # ------------------------------------------------------------ commands, each checked

    def apply(self, d):
        self.hall.apply(d)
        self.check()
        return d.result

    def issue(self, service_id: str, priority: str | None):
        self.token += 1
        t = self.apply(self.hall.issue(service_id, "kiosk", self.now, token=str(self.token), priority=priority,
                                       check_hours=False))
        self.queue_at_of[t.id] = t.queue_at
        return t

    def call(self, wid: str):
        hall, cfg, now = self.hall, self.cfg, self.now
        wcfg = cfg.window(wid)
        eligible = hall.eligible_waiting(wid)
        streak = self.streak[wid]
        assert streak == hall.windows[wid].priority_streak
        # the indexed candidate set picks exactly what a scan of every eligible ticket would
        full = routing.choose(wcfg, hall.weights(wid), hall.windows[wid].priority_streak, eligible, now, cfg)
        d = hall.call_next(wid, now)
        assert (full.ticket.id if full else None) == (d.result.id if d.result else None)
        t = self.apply(d)
        if t is None:
            assert not eligible
            self.seen["empty_call"] += 1
            return None
        self.seen["call"] += 1
        # 1. a window only gets tickets it may serve (checked against the config, independently)
        before = next(e for e in eligible if e.id == t.id)
        assert allowed(cfg, wcfg, before)
        normals_waiting = any(e.priority is None for e in eligible)
        priorities_waiting = any(e.priority is not None for e in eligible)
        if normals_waiting and priorities_waiting:
            self.seen["mixed_call"] += 1
        # 3. nothing starves past the maximum while an eligible window calls others
        overdue = [e for e in eligible if waited(now, e) >= self.max_wait * 60]
        if overdue:
            self.seen["overdue_call"] += 1
            assert waited(now, t) >= self.max_wait * 60
            assert t.queue_at == min(e.queue_at for e in overdue)
            # ageing overrides fairness, but the run still counts (a normal call ends it)
            self.streak[wid] = streak + 1 if t.priority is not None and normals_waiting else 0
        elif self.fairness == "head_start":
            self.check_head_start(wid, t, eligible)
            self.streak[wid] = hall.windows[wid].priority_streak  # the run is the ratio rule's, not this one's
        else:
            # 2. fairness: at most `ratio` priority calls in a row while a normal ticket waits
            if t.priority is not None and normals_waiting:
                self.streak[wid] = streak + 1
                assert self.streak[wid] <= self.ratio
            else:
                self.streak[wid] = 0
            if t.priority is None and priorities_waiting:
                # ... and a normal ticket goes ahead of waiting priority tickets only once that run is full
                assert streak >= self.ratio
                assert hall.windows[wid].priority_streak == 0
                self.seen["fairness_cut_in"] += 1
        assert self.streak[wid] == hall.windows[wid].priority_streak
        return t

    def check_head_start(self, wid: str, t, eligible) -> None:
        """2'. The head-start rule's bounds, checked against every ticket left waiting at this window."""
        now, weights = self.now, self.hall.weights(wid)
        for e in eligible:
            if e.id == t.id:
                continue
            # the most urgent is called: a normal ticket by waited × weight, a priority one by waited + H
            assert routing.urgency(t, weights, now, self.head_s) >= routing.urgency(e, weights, now, self.head_s)
            if weights.get(e.category_id, 1.0) != 1.0 or weights.get(t.category_id, 1.0) != 1.0:
                continue  # the bounds below are stated for a window of weight 1 (全面综合, special windows)
            if t.priority is not None and e.priority is None:
                # a normal ticket is overtaken only by a priority ticket issued less than H after it
                assert waited(now, t) + self.head_s >= waited(now, e)
                if waited(now, e) > self.head_s:
                    self.seen["head_start_bound_normal"] += 1
            if t.priority is None and e.priority is not None:
                # a priority ticket waits only for normal tickets issued at least H before it
                assert waited(now, t) >= waited(now, e) + self.head_s
                self.seen["head_start_cut_in"] += 1

    def transfer(self, wid: str, category_id: str | None = None, target_window_id: str | None = None):
        held = self.hall.tickets[self.hall.windows[wid].ticket_id]
        t = self.apply(self.hall.transfer(wid, self.now, category_id=category_id, target_window_id=target_window_id))
        # 4. transfer keeps the original time (the issue time, or the place a late re-join was given)
        assert t.queue_at == self.queue_at_of[t.id] == held.queue_at and t.issued_at == held.issued_at
        self.seen["transfer"] += 1
        self.seen["transfer_to_window" if target_window_id else "transfer_to_category"] += 1
        return t

    def rejoin(self, ticket_id: str):
        t = self.apply(self.hall.rejoin(ticket_id, self.now, by="S001"))
        self.queue_at_of[t.id] = t.queue_at
        self.seen["rejoin"] += 1
        return t

    def sign_in(self, wid: str, staff_id: str):
        ws = self.hall.windows[wid]
        if staff_id == STANDIN and wid in STANDIN_WINDOWS:
            self.seen["standin"] += 1
        elif ws.staff_id is not None:
            self.seen["takeback"] += 1  # a regular staff member takes their window back from a stand-in
        return self.apply(self.hall.sign_in(wid, staff_id, self.now))

    def sign_out(self, wid: str):
        self.streak[wid] = 0  # the hall starts a window's priority run afresh with the next staff member
        self.seen["sign_out"] += 1
        return self.apply(self.hall.sign_out(wid, self.now))

    def close(self, wid: str):
        self.streak[wid] = 0
        self.seen["close"] += 1
        return self.apply(self.hall.close_window(wid, self.now, by="manager"))

    def simple(self, kind: str, *args):
        """finish, skip, start, recall at a window; pause, resume, open; cancel a ticket."""
        method = {"pause": self.hall.pause, "resume": self.hall.resume, "open": self.hall.open_window,
                  "cancel": self.hall.cancel}.get(kind) or getattr(self.hall, kind)
        extra = {"by": "S001"} if kind == "cancel" else {"by": "manager"} if kind == "open" else {}
        self.seen[kind] += 1
        return self.apply(method(*args, self.now, **extra))

    def advance(self, seconds: float) -> None:
        now = self.now + timedelta(seconds=seconds)
        lunch_start, lunch_end = (datetime.combine(now.date(), t, now.tzinfo) for t in LUNCH)
        if self.now < lunch_end and now >= lunch_start:
            now = lunch_end + (now - max(self.now, lunch_start))
        self.now = now

    # ------------------------------------------------------------ invariants after every step

    def check(self) -> None:
        hall = self.hall
        active, waiting, numbers = set(), set(), set()
        for t in hall.tickets.values():
            numbers.add((t.day, t.number))
            if t.status in ACTIVE:
                active.add(t.id)
            elif t.status == TicketStatus.WAITING:
                waiting.add(t.id)
        # 5. no ticket held twice, no window holding two tickets, numbers unique
        held = [ws.ticket_id for ws in hall.windows.values() if ws.ticket_id]
        assert len(held) == len(set(held))
        assert active == set(held)
        assert len(numbers) == len(hall.tickets)
        for ws in hall.windows.values():
            assert (ws.state == WindowState.SERVING) == (ws.ticket_id is not None)
            if ws.ticket_id:
                assert hall.tickets[ws.ticket_id].window_id == ws.id
        # the waiting index holds exactly the waiting tickets
        indexed = [t.id for t in hall.waiting_tickets()]
        assert len(indexed) == len(waiting) and set(indexed) == waiting

    # ------------------------------------------------------------ drawn numbers -> a command possible now

    def step(self, kind: str, a: int, b: int) -> bool:
        """Runs the command `kind` at the a-th possible place; False when nothing can take it now."""
        hall, now = self.hall, self.now
        windows = hall.windows
        holding = [w for w in WINDOWS if windows[w].ticket_id]

        def pick(options):
            return options[a % len(options)] if options else None

        if kind == "issue":
            day = now.date().isoformat()
            services = [s for s in SERVICES if (cap := self.cfg.service(s).daily_cap) is None
                        or hall.issued_per_service.get((day, s), 0) < cap]
            self.issue(pick(services), PRIORITIES[b % len(PRIORITIES)])
            return True
        if kind in ("call", "idle_call"):
            open_ = [w for w in WINDOWS if windows[w].state == WindowState.OPEN]
            if kind == "call":  # at a window with work; an idle call only when nothing else is possible
                open_ = [w for w in open_ if hall.candidates(w)]
            wid = pick(open_)
            if wid is None:
                return False
            self.call(wid)
            return True
        if kind in ("finish", "transfer", "recall", "start", "skip"):
            held = {w: hall.tickets[windows[w].ticket_id] for w in holding}
            if kind == "recall":
                holding = [w for w in holding if held[w].recalls < self.cfg.queue.recall_limit]
            if kind in ("start", "skip"):
                holding = [w for w in holding if held[w].status == TicketStatus.CALLED]
            wid = pick(holding)
            if wid is None:
                return False
            if kind != "transfer":
                self.simple(kind, wid)
            elif b % 2 and (targets := [w for w in WINDOWS if w != wid and windows[w].state in STAFFED]):
                self.transfer(wid, target_window_id=targets[b // 2 % len(targets)])
            else:
                self.transfer(wid, category_id=CATEGORIES[b // 2 % len(CATEGORIES)])
            return True
        if kind == "cancel":
            waiting = sorted(t.id for t in hall.waiting_tickets())
            if not waiting:
                return False
            self.simple("cancel", pick(waiting))
            return True
        if kind == "rejoin":
            late = sorted(t.id for t in hall.tickets.values() if t.status == TicketStatus.NO_SHOW and not t.rejoined
                          and (now - t.skipped_at).total_seconds() <= self.cfg.queue.rejoin_within_minutes * 60)
            if not late:
                return False
            self.rejoin(pick(late))
            return True
        if kind == "wait":
            self.advance(60 * (1 + b % 25))
            return True
        if kind in ("pause", "sign_out", "close", "resume", "open"):
            want = {"pause": (WindowState.OPEN,), "sign_out": (WindowState.OPEN, WindowState.PAUSED),
                    "close": (WindowState.SIGNED_OUT, WindowState.OPEN, WindowState.PAUSED),
                    "resume": (WindowState.PAUSED,), "open": (WindowState.CLOSED,)}[kind]
            wid = pick([w for w in WINDOWS if windows[w].state in want])
            if wid is None:
                return False
            if kind == "sign_out":
                self.sign_out(wid)
            elif kind == "close":
                self.close(wid)
            else:
                self.simple(kind, wid)
            if kind == "open" and (staff := f"S{int(wid):03d}") not in {ws.staff_id for ws in windows.values()}:
                self.sign_in(wid, staff)  # the manager opens a window for its regular staff member
            return True
        if kind == "sign_in":
            # a regular staff member signs in at their window: empty, or held by a stand-in (AB岗 take-back)
            signed = {ws.staff_id for ws in windows.values()}
            free = [w for w in WINDOWS if windows[w].state != WindowState.CLOSED and f"S{int(w):03d}" not in signed
                    and (windows[w].staff_id is None or windows[w].standin)]
            wid = pick(free)
            if wid is None:
                return False
            self.sign_in(wid, f"S{int(wid):03d}")
            return True
        if kind == "standin":
            # 员工3 leaves their own window (or another stand-in post) and takes over window 1 or 2
            current = next((w for w in WINDOWS if windows[w].staff_id == STANDIN), None)
            targets = [w for w in STANDIN_WINDOWS if w != current and windows[w].state != WindowState.CLOSED]
            if not targets or (current is not None and windows[current].ticket_id is not None):
                return False
            if current is not None:
                self.sign_out(current)
            self.sign_in(pick(targets), STANDIN)
            return True
        raise AssertionError(kind)


def run_day(ops, max_wait: float, ratio: int, fairness: str = "ratio", head_start: float = 15) -> Day:
    day = Day(max_wait, ratio, fairness, head_start)
    peak = 0
    for kind, a, b, seconds in ops:
        day.advance(seconds)
        peak = max(peak, sum(len(q) for q in day.hall.waiting.values()))
        for i, instead in enumerate(FALLBACK.get(kind, (kind,))):
            if day.step(instead, a, b):
                day.seen["fallback" if i else "as_drawn"] += 1
                break
        else:
            day.seen["refused"] += 1
            day.seen[f"refused_{kind}"] += 1
    if fairness == "ratio":  # the figures below describe the ratio rule's days, as the module docstring does
        record(day, ops, max_wait, peak)
    return day


def record(day: Day, ops, max_wait: float, peak: int) -> None:
    STATS["days"] += 1
    STATS["ops"] += len(ops)
    STATS["finite_max_days"] += max_wait != NO_MAX
    STATS[f"days_max_wait_{max_wait}"] += 1
    STATS[f"days_max_wait_{max_wait}_overdue"] += day.seen["overdue_call"] > 0
    STATS.update(day.seen)
    for what in ("mixed_call", "overdue_call", "fairness_cut_in", "standin", "rejoin", "transfer", "sign_out",
                 "takeback"):
        if day.seen[what]:
            STATS[f"days_with_{what}"] += 1
            event(f"day reached {what}")
    DAY_LENGTHS.append(len(ops))
    PEAK_WAITING.append(peak)
    tenth = 10 * day.seen["refused"] // len(ops) * 10
    event(f"operations refused: {tenth}-{tenth + 10} %")


@settings(max_examples=DAYS, deadline=None, derandomize=True, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(ops=day_ops, max_wait=st.sampled_from([15, 30, 60, NO_MAX]), ratio=st.integers(1, 3))
def test_routing_invariants(ops, max_wait, ratio):
    run_day(ops, max_wait, ratio)


HEAD_START = Counter()


@settings(max_examples=30, deadline=None, derandomize=True, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(ops=day_ops, max_wait=st.sampled_from([30, 60, NO_MAX]), head_start=st.sampled_from([0, 5, 15, 30]))
def test_head_start_fairness_bounds(ops, max_wait, head_start):
    """The default fairness rule over random days: the most urgent ticket is called, a normal ticket is never
    overtaken by a priority ticket issued H or more after it, and a priority ticket never waits for a normal
    one issued less than H before it (ageing past the maximum still comes first)."""
    day = run_day(ops, max_wait, 1, "head_start", head_start)
    HEAD_START.update({k: v for k, v in day.seen.items() if k.startswith("head_start")})


def test_head_start_days_reach_both_bounds():
    if not HEAD_START:
        test_head_start_fairness_bounds()
    # both sides of the rule are exercised: normals that waited past H while priority tickets were called,
    # and normal tickets called ahead of waiting priority tickets
    assert HEAD_START["head_start_bound_normal"] >= 100 and HEAD_START["head_start_cut_in"] >= 100, HEAD_START


def test_a_pickup_ticket_transferred_to_social_leaves_the_special_window():
    """Found by the property test: a 统一出件 ticket transferred to 社会事务 belongs to the social queue."""
    day = Day(max_wait=15, ratio=1)
    day.issue("P1", None)
    assert day.call("9") is not None
    day.transfer("9", category_id="social")
    assert day.call("9") is None
    assert day.call("3").service_id == "P1"


def test_the_random_days_reach_the_interesting_states(record_property):
    """The property test's days are long, mostly valid, and reach ageing, fairness, transfers and AB岗."""
    if not STATS["days"]:  # run alone (-k): play the days here
        test_routing_invariants()
    s, days = STATS, STATS["days"]
    calls = s["call"]
    figures = {
        "days": days,
        "ops": s["ops"],
        "median_day_length": statistics.median(DAY_LENGTHS),
        "day_length_range": (min(DAY_LENGTHS), max(DAY_LENGTHS)),
        "executed_share": round((s["as_drawn"] + s["fallback"]) / s["ops"], 3),
        "as_drawn_share": round(s["as_drawn"] / s["ops"], 3),
        "fallback_share": round(s["fallback"] / s["ops"], 3),
        "refused_share": round(s["refused"] / s["ops"], 3),
        "median_peak_waiting": statistics.median(PEAK_WAITING),
        "calls": calls,
        "empty_calls": s["empty_call"],
        "mixed_call_share": round(s["mixed_call"] / calls, 3),
        "overdue_call_share": round(s["overdue_call"] / calls, 3),
        "days_with_mixed": round(s["days_with_mixed_call"] / days, 3),
        "finite_max_days": s["finite_max_days"],
        "finite_max_days_with_overdue": round(s["days_with_overdue_call"] / max(1, s["finite_max_days"]), 3),
        "fairness_cut_ins": s["fairness_cut_in"],
        "days_with_fairness_cut_in": round(s["days_with_fairness_cut_in"] / days, 3),
        "transfers_to_category": s["transfer_to_category"],
        "transfers_to_window": s["transfer_to_window"],
        "days_with_transfer": round(s["days_with_transfer"] / days, 3),
        "standins": s["standin"],
        "days_with_standin": round(s["days_with_standin"] / days, 3),
        "takebacks": s["takeback"],
        "sign_outs": s["sign_out"],
        "pauses": s["pause"],
        "cancels": s["cancel"],
        "rejoins": s["rejoin"],
        "days_with_rejoin": round(s["days_with_rejoin"] / days, 3),
        "closes": s["close"],
        "skips": s["skip"],
        "recalls": s["recall"],
    }
    figures.update({k: v for k, v in sorted(s.items()) if k.startswith("days_max_wait")})
    record_property("routing_day_coverage", figures)
    print("\nrouting property days:", ", ".join(f"{k}={v}" for k, v in figures.items()))
    assert days >= DAYS
    assert figures["median_day_length"] >= 250
    assert figures["executed_share"] >= 0.95 and figures["as_drawn_share"] >= 0.7
    assert figures["days_with_mixed"] >= 0.9 and figures["mixed_call_share"] >= 0.3
    assert figures["finite_max_days_with_overdue"] >= 0.85 and figures["overdue_call_share"] >= 0.15
    assert figures["days_with_fairness_cut_in"] >= 0.7
    assert figures["days_with_transfer"] >= 0.9
    assert figures["transfers_to_category"] >= days and figures["transfers_to_window"] >= days
    assert figures["days_with_standin"] >= 0.6 and figures["takebacks"] >= days
    assert figures["days_with_rejoin"] >= 0.7 and figures["cancels"] >= days and figures["pauses"] >= days
    assert figures["closes"] >= days // 2 and figures["empty_calls"] >= 1


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(n_prio=st.integers(0, 12), n_norm=st.integers(0, 12), ratio=st.integers(1, 4))
def test_fairness_ratio_exact_on_one_window(n_prio, n_norm, ratio):
    """With both classes waiting, priority and normal calls interleave exactly `ratio`:1."""
    hall = Hall(small_hall(max_wait=10_000, ratio=ratio))
    for i in range(n_norm):
        hall.apply(hall.issue("S1", "kiosk", MONDAY_10, token=f"n{i}"))
    for i in range(n_prio):
        hall.apply(hall.issue("S1", "kiosk", MONDAY_10, token=f"p{i}", priority="assist"))
    hall.apply(hall.sign_in("1", "S001", MONDAY_10))
    pattern = ""
    while (d := hall.call_next("1", MONDAY_10)).result is not None:
        hall.apply(d)
        pattern += "P" if d.result.priority else "N"
        hall.apply(hall.finish("1", MONDAY_10))
    assert pattern.count("P") == n_prio and pattern.count("N") == n_norm
    both = pattern[: _both_waiting_prefix(pattern, n_prio, n_norm)]
    assert "P" * (ratio + 1) not in both
    assert "NN" not in both  # a normal call only when the priority run is full


def _both_waiting_prefix(pattern: str, n_prio: int, n_norm: int) -> int:
    p = n = 0
    for i, c in enumerate(pattern):
        if p == n_prio or n == n_norm:
            return i
        p += c == "P"
        n += c == "N"
    return len(pattern)
