"""A day in the hall on a virtual clock, driving the real domain core (`Hall`) with simulated citizens and staff.

Citizens walk in (per service and minute, from the usual demand or a CSV of past tickets) or come for a booked
slot (checked in by the hall's own appointment rules), windows open and
close on their shifts, staff take breaks (暂停服务), call the next ticket the moment they are free, wait out
no-shows (过号) and finish services that last a lognormal time. Every state change is a `Hall` decision
applied in memory — no ledger, no HTTP — so the routing measured is exactly the routing the hall runs.

A `Day` (arrivals with their service times, no-shows and breaks) is drawn once from a seed and can be run
against several window configurations: common random numbers for a fair comparison.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import random
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hall_controller.core import routing
from hall_controller.core.calendar import is_working_day
from hall_controller.core.errors import HallError
from hall_controller.core.forecast import coming
from hall_controller.core.hall import Hall
from hall_controller.core.model import Ticket, TicketStatus
from hall_controller.core.settings import HallConfig, Staff
from hall_controller.core.waits import WaitEstimate
from hall_controller.features.appointments import rules as appointments
from hall_controller.features.appointments.settings import (
    settings_of as booking_settings,
)
from hall_controller.features.simulation import demand

REFUSALS = ("daily_cap_reached", "issuing_closed", "hall_closed")
MIN_BREAK_SESSION_S = 2 * 3600  # a break is taken only in sessions of two hours or more
OVERTIME_S = 3600  # after its shift a window serves those already waiting for at most this long


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # seconds after the day's midnight
    service_id: str
    priority: str | None
    service_s: float
    no_show: bool


@dataclass(frozen=True)
class Day:
    date: date
    arrivals: tuple[Arrival, ...]
    shifts: dict[str, tuple[tuple[float, float], ...]]  # window id -> open periods (seconds)
    breaks: tuple[tuple[float, str, float], ...]  # (at seconds, window id, seconds)
    no_show_wait_s: float


@dataclass
class WindowRecord:
    open_s: float = 0.0  # signed in and not on a break
    busy_s: float = 0.0
    idle_while_waiting_s: float = 0.0  # idle while a ticket (that another window must serve) waited
    served: int = 0
    no_shows: int = 0


@dataclass
class Result:
    config: HallConfig
    day: Day
    hall: Hall
    windows: dict[str, WindowRecord]
    turned_away: dict[str, int]  # category -> tickets refused (daily cap)
    outside_hours: dict[str, int]  # category -> arrivals refused outside the matter's issuing hours
    queue: list[tuple[float, dict[str, int]]]  # (seconds, waiting per category)
    end_s: float
    start: datetime = field(repr=False, default=datetime.min)
    # ticket id -> the wait estimate the kiosk showed when it was issued (run(..., estimates=True))
    estimates: dict[str, WaitEstimate] = field(repr=False, default_factory=dict)


# ---------------------------------------------------------------------------------------------- the day

def working_day(cfg: HallConfig, on: date | None = None) -> date:
    """The given date, or the first working day from 2026-11-23 (a Monday) when none is given."""
    d = on or date(2026, 11, 23)
    while not is_working_day(d, cfg.hours):
        d += timedelta(days=1)
    return d


def draw_day(cfg: HallConfig, seed: int, on: date | None = None, tickets_per_day: float | None = None,
             cv: float | None = None, exponential: bool = False, arrivals_csv: Path | None = None) -> Day:
    settings = demand.settings_of(cfg)
    if tickets_per_day is not None:
        settings = replace(settings, tickets_per_day=tickets_per_day)
    if cv is not None:
        settings = replace(settings, service_cv=cv, cv={})
    rng = random.Random(f"{seed}-arrivals")
    day = working_day(cfg, on)
    if arrivals_csv is not None:
        arrivals = read_arrivals(arrivals_csv, cfg, settings, rng, exponential, on)
    else:
        booked = draw_bookings(cfg, settings, day, random.Random(f"{seed}-appointments"), exponential)
        arrivals = sorted(generate_arrivals(cfg, settings, rng, exponential, len(booked)) + booked, key=lambda a: a.at)
    shifts = default_shifts(cfg, settings)
    return Day(day, tuple(arrivals), shifts, draw_breaks(shifts, settings, seed), settings.no_show_wait_minutes * 60)


def sampler(cfg: HallConfig, settings: demand.SimulationSettings, rng: random.Random, exponential: bool):
    """A function drawing one service time (seconds) for a service id."""
    params = {s.id: demand.lognormal_params(s.minutes * 60, settings.service_cv_of(s.id)) for s in cfg.services}
    means = {s.id: s.minutes * 60 for s in cfg.services}
    if exponential:
        return lambda sid: rng.expovariate(1 / means[sid])
    return lambda sid: rng.lognormvariate(*params[sid])


def generate_arrivals(cfg: HallConfig, settings: demand.SimulationSettings, rng: random.Random,
                      exponential: bool = False, booked: float = 0.0) -> list[Arrival]:
    """Walk-ins: a Poisson stream, piecewise constant per minute at `demand.rates_at` (the hall's profile, or a
    service's own), thinned by the share the `booked` appointments already bring."""
    draw_service_s = sampler(cfg, settings, rng, exponential)
    walk_in = max(0.0, 1 - booked / settings.tickets_per_day)
    hall_rates = demand.arrivals_per_hour(cfg, settings)
    slots = set(hall_rates) | {slot for p in settings.profiles.values() for slot in p}
    out: list[Arrival] = []
    for minute in sorted({m for slot in slots for m in range(slot, slot + demand.SLOT_MINUTES)}):
        rates = {sid: r for sid, r in demand.rates_at(cfg, settings, minute, hall_rates).items() if r > 0}
        per_hour = sum(rates.values()) * walk_in
        if per_hour <= 0:
            continue
        ids, weights = list(rates), list(rates.values())
        t, end = minute * 60.0, (minute + 1) * 60.0
        while (t := t + rng.expovariate(per_hour / 3600)) < end:
            out.append(_arrival(t, rng.choices(ids, weights)[0], rng, settings, draw_service_s))
    return out


def draw_bookings(cfg: HallConfig, settings: demand.SimulationSettings, day: date, rng: random.Random,
                  exponential: bool = False) -> list[Arrival]:
    """Citizens with a booked slot (预约): the bookable places of the day (`[appointments]`, laid out by the real
    `appointments.rules.slots`) are each booked with the probability that brings `appointment_share` of the
    day's citizens; a booker skips the day (爽约) with `no_show_share`, else arrives around the slot start
    (`appointment_early_minutes` early on average, `appointment_spread_minutes` spread). One who comes before
    check-in opens waits for it; the check-in itself is the hall's rule (`appointments.rules.check_in`): on
    time keeps the `appointment` priority, late follows `[appointments] late` (an ordinary ticket, or refused
    and then a walk-in ticket), and so does one past the slot.
    """
    book = booking_settings(cfg)
    tz = ZoneInfo(cfg.timezone)
    places = [(svc, slot) for svc in cfg.services for slot in appointments.slots(svc, cfg, book, day)
              for _ in range(slot.capacity)]
    if not places or settings.appointment_share <= 0:
        return []
    p = min(1.0, settings.appointment_share * settings.tickets_per_day / len(places))
    priority = "appointment" if cfg.priority("appointment") else None
    draw_service_s = sampler(cfg, settings, rng, exponential)
    out = []
    for n, (svc, slot) in enumerate(places):
        # Every place draws all its numbers, so one setting never shifts the stream of the others.
        u_book, u_show, offset, service_s = rng.random(), rng.random(), rng.gauss(), draw_service_s(svc.id)
        if u_book >= p or u_show < settings.no_show_share:
            continue
        start = datetime.combine(day, slot.start, tz)
        a = appointments.Appointment(f"sim-{n}", "", svc.id, day.isoformat(), f"{slot.start:%H:%M}",
                                     f"{slot.end:%H:%M}", "online", "", "", "", "", "simulation")
        arrive = start + timedelta(minutes=-settings.appointment_early_minutes
                                   + settings.appointment_spread_minutes * offset)
        arrive = max(arrive, start - timedelta(minutes=book.check_in_before_minutes))
        try:
            keeps = appointments.check_in(a, arrive, book)
        except HallError:  # refused late or past the slot: the kiosk sends the citizen to take a number
            keeps = False
        at = (arrive - datetime.combine(day, time(0), tz)).total_seconds()
        out.append(Arrival(at, svc.id, priority if keeps else None, service_s, False))
    return out


def _arrival(t: float, sid: str, rng: random.Random, settings: demand.SimulationSettings, draw_service_s) -> Arrival:
    # Always draw both numbers, so one setting never shifts the random stream of the others.
    service_s, u_show = draw_service_s(sid), rng.random()
    return Arrival(t, sid, None, service_s, u_show < settings.no_show_share)


ARRIVAL_COLUMNS = ("issued_at", "service_id", "priority", "service_minutes", "no_show")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


@dataclass(frozen=True)
class PastTicket:
    """One past ticket, validated: where it came from, when, what, and what is known of its service."""
    where: str  # "file: line n" for error messages
    on: date | None  # None: the source gave only a time of day
    at: float  # seconds after midnight
    service_id: str
    priority: str | None
    service_s: float | None  # None: drawn
    no_show: bool | None  # None: drawn


def read_arrivals(path: Path, cfg: HallConfig, settings: demand.SimulationSettings, rng: random.Random,
                  exponential: bool = False, on: date | None = None) -> list[Arrival]:
    """Past tickets from a CSV (columns `ARRIVAL_COLUMNS`, see docs/routing.md) or from the hall's own ledger
    (a `.db` file: every ticket it recorded), as one simulated day.

    A source spanning several dates is not stacked into one day: with `on` only that date's tickets are
    kept; otherwise each ticket is kept with probability 1 / (number of dates), an average day with the
    real times of day. Every row is checked first; a bad one raises ValueError naming file, line and value.
    """
    past = read_ledger(path, cfg) if path.suffix in (".db", ".sqlite", ".sqlite3") else read_csv(path, cfg)
    dates = {p.on for p in past}
    if None in dates and len(dates) > 1:
        raise ValueError(f"{path}: mixes rows with a date and rows with only a time of day")
    keep = 1.0
    if on is not None and dates != {None}:
        past = [p for p in past if p.on == on]
        if not past:
            raise ValueError(f"{path}: no ticket on {on}")
    elif len(dates) > 1:
        keep = 1 / len(dates)
    draw_service_s = sampler(cfg, settings, rng, exponential)
    out = []
    for p in sorted(past, key=lambda p: (p.on or date.min, p.at)):
        # Every row draws its numbers, so the choice of date or share never shifts the stream of the others.
        a, u_keep = _arrival(p.at, p.service_id, rng, settings, draw_service_s), rng.random()
        if u_keep < keep:
            out.append(replace(a, priority=p.priority, service_s=a.service_s if p.service_s is None else p.service_s,
                               no_show=a.no_show if p.no_show is None else p.no_show))
    return sorted(out, key=lambda a: a.at)


def read_csv(path: Path, cfg: HallConfig) -> list[PastTicket]:
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ARRIVAL_COLUMNS[:2] if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {', '.join(missing)} "
                             f"(columns: {', '.join(ARRIVAL_COLUMNS)})")
        for n, row in enumerate(reader, start=2):
            where = f"{path}: line {n}"
            raw = (row.get("issued_at") or "").strip()
            try:
                if "T" in raw or " " in raw:
                    stamp = datetime.fromisoformat(raw)
                    day, moment = stamp.date(), stamp.time()
                else:
                    day, moment = None, time.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{where}: issued_at {raw!r} is not a time (HH:MM[:SS]) or an ISO date-time") from None
            minutes, no_show = (row.get("service_minutes") or "").strip(), (row.get("no_show") or "").strip().lower()
            out.append(_past(where, cfg, day, moment, (row.get("service_id") or "").strip(),
                             (row.get("priority") or "").strip() or None, minutes, no_show))
    return out


def _past(where: str, cfg: HallConfig, day: date | None, moment: time, sid: str, priority: str | None,
          minutes: str, no_show: str) -> PastTicket:
    if cfg.service(sid) is None:
        raise ValueError(f"{where}: unknown service_id {sid!r}")
    if priority is not None and cfg.priority(priority) is None:
        known = ", ".join(p.id for p in cfg.queue.priorities) or "none configured"
        raise ValueError(f"{where}: unknown priority {priority!r} (known: {known}; empty for none)")
    try:
        service_s = float(minutes) * 60 if minutes else None
    except ValueError:
        service_s = -1.0
    if service_s is not None and not (0 < service_s < math.inf):
        raise ValueError(f"{where}: service_minutes {minutes!r} is not a number of minutes above 0")
    if no_show and no_show not in _TRUE + _FALSE:
        raise ValueError(f"{where}: no_show {no_show!r} is not 1/0, true/false or yes/no")
    return PastTicket(where, day, moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6,
                      sid, priority, service_s, no_show in _TRUE if no_show else None)


def read_ledger(path: Path, cfg: HallConfig) -> list[PastTicket]:
    """The tickets of the hall's own ledger (var/hall.db), read-only: issue time, matter, priority, the real
    service length (started → finished) and whether it was a no-show; tickets still open draw theirs."""
    if not path.exists():
        raise ValueError(f"{path}: no such ledger")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, data FROM tickets ORDER BY day, id").fetchall()
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: not a hall ledger ({exc})") from None
    finally:
        conn.close()
    tz = ZoneInfo(cfg.timezone)
    out = []
    for tid, data in rows:
        t = Ticket.from_dict(json.loads(data))
        issued = t.issued_at.astimezone(tz)
        minutes = ""
        began = t.started_at or t.called_at
        if t.status == TicketStatus.FINISHED and began and t.finished_at:
            minutes = f"{max((t.finished_at - began).total_seconds(), 1) / 60}"
        no_show = "1" if t.status == TicketStatus.NO_SHOW else "0" if t.status == TicketStatus.FINISHED else ""
        out.append(_past(f"{path}: ticket {tid}", cfg, issued.date(), issued.time(), t.service_id, t.priority,
                         minutes, no_show))
    return out


def default_shifts(cfg: HallConfig, settings: demand.SimulationSettings) -> dict[str, tuple[tuple[float, float], ...]]:
    """Every window works the hall's sessions (lunch-duty windows also the lunch period), unless
    `[[simulation.windows]]` gives its own hours."""
    own = {s.window_id: s.periods for s in settings.shifts}
    out = {}
    for w in cfg.windows:
        periods = own.get(w.id)
        if periods is None:
            periods = cfg.hours.sessions + ((cfg.hours.lunch_duty,) if w.lunch_duty and cfg.hours.lunch_duty else ())
        out[w.id] = _merge([(_s(p.start), _s(p.end)) for p in periods])
    return out


def _s(t: time) -> float:
    return t.hour * 3600.0 + t.minute * 60


def _merge(periods: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(periods):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def draw_breaks(shifts: dict[str, tuple[tuple[float, float], ...]], settings: demand.SimulationSettings,
                seed: int) -> tuple[tuple[float, str, float], ...]:
    """One break per window per long session, at a random time in the session's middle half."""
    if settings.break_minutes <= 0:
        return ()
    out = []
    for wid, periods in shifts.items():
        rng = random.Random(f"{seed}-break-{wid}")  # per window: the same breaks whatever the routing
        for a, b in periods:
            if b - a >= MIN_BREAK_SESSION_S:
                out.append((rng.uniform(a + (b - a) / 4, b - (b - a) / 4), wid, settings.break_minutes * 60))
    return tuple(sorted(out))


def sim_config(cfg: HallConfig) -> HallConfig:
    """The hall with one simulated staff member per window (the real roster is not needed to simulate)."""
    staff = tuple(Staff(f"sim-{w.id}", f"模拟{w.number}", "模拟", "", "", (w.id,)) for w in cfg.windows)
    return replace(cfg, staff=staff)


# ---------------------------------------------------------------------------------------------- the run

_ARRIVE, _DONE, _OPEN, _CLOSE, _BREAK, _RESUME, _SAMPLE = range(7)


def run(cfg: HallConfig, day: Day, sample_every_s: float = 300, estimates: bool = False) -> Result:
    """The day on the hall; with `estimates`, every ticket's wait estimate at issue is kept (it costs a scan
    of the waiting tickets per arrival, so load runs leave it off)."""
    return _Run(sim_config(cfg), day, sample_every_s, estimates).result()


class _Run:
    def __init__(self, cfg: HallConfig, day: Day, sample_every_s: float, estimates: bool = False):
        self.cfg, self.day = cfg, day
        self.estimates: dict[str, WaitEstimate] | None = {} if estimates else None
        self.start = datetime.combine(day.date, time(0), ZoneInfo(cfg.timezone))
        self.hall = Hall(cfg)
        self.heap: list[tuple[float, int, int, object]] = []
        self.n = 0
        self.records = {w.id: WindowRecord() for w in cfg.windows}
        self.state: dict[str, str] = {w.id: "off" for w in cfg.windows}  # off | idle | busy | break
        self.idle: dict[str, float] = {}  # idle windows, longest idle first -> busy-integral when idle began
        self.closing: dict[str, float] = {}  # window -> shift end: serve those who came before, then sign out
        self.pending_break: dict[str, float] = {}
        self.since: dict[str, float] = {}  # when the current open / busy stretch began
        self.holding: dict[str, bool] = {}  # window -> its ticket is a no-show
        self.arrival_of: dict[str, Arrival] = {}
        self.waiting = 0
        self.waited_integral = 0.0  # ∫ 1[someone waits] dt
        self.now_s = 0.0
        self.turned_away: dict[str, int] = {}
        self.outside_hours: dict[str, int] = {}
        self.queue: list[tuple[float, dict[str, int]]] = []
        for i, a in enumerate(day.arrivals):
            self._at(a.at, _ARRIVE, i)
        for wid, periods in day.shifts.items():
            for a, b in periods:
                self._at(a, _OPEN, wid)
                self._at(b, _CLOSE, (wid, b))
        for at, wid, length in day.breaks:
            self._at(at, _BREAK, (wid, length))
        self.sample_every_s = sample_every_s
        first = min((a.at for a in day.arrivals), default=0.0)
        self.last_arrival = max((a.at for a in day.arrivals), default=0.0)
        self._at(first // sample_every_s * sample_every_s, _SAMPLE, None)

    def _at(self, t: float, kind: int, payload: object) -> None:
        self.n += 1
        heapq.heappush(self.heap, (t, kind, self.n, payload))

    def _now(self) -> datetime:
        return self.start + timedelta(seconds=self.now_s)

    def result(self) -> Result:
        handlers = {_ARRIVE: self._arrive, _DONE: self._done, _OPEN: self._open, _CLOSE: self._close,
                    _BREAK: self._break, _RESUME: self._resume, _SAMPLE: self._sample}
        while self.heap:
            t, kind, _, payload = heapq.heappop(self.heap)
            if self.waiting:
                self.waited_integral += t - self.now_s
            self.now_s = t
            handlers[kind](payload)
        for wid in list(self.idle):
            self._leave_idle(wid)
        for wid, st in self.state.items():
            if st != "off":
                self.records[wid].open_s += self.now_s - self.since.pop(wid, self.now_s)
        return Result(self.cfg, self.day, self.hall, self.records, self.turned_away, self.outside_hours, self.queue,
                      self.now_s, self.start, self.estimates or {})

    # ---- citizens

    def _arrive(self, i: int) -> None:
        a = self.day.arrivals[i]
        svc = self.cfg.service(a.service_id)
        try:
            d = self.hall.issue(a.service_id, "appointment" if a.priority == "appointment" else "kiosk", self._now(),
                                f"sim{i}", priority=a.priority)
        except HallError as exc:
            # Refused as the real hall refuses: 每日限号 reached, or outside the matter's issuing hours.
            # Anything else is a fault in the simulated day, not a citizen to count.
            if exc.code not in REFUSALS:
                raise
            refused = self.turned_away if exc.code == "daily_cap_reached" else self.outside_hours
            refused[svc.category_id] = refused.get(svc.category_id, 0) + 1
            return
        self.hall.apply(d)
        t = d.result
        if self.estimates is not None:  # as the kiosk says it, with the day's shifts as the roster
            self.estimates[t.id] = self.hall.wait_estimate(t, staffed=self._rostered(), now=self._now(),
                                                           expected=self._booked())
        self.arrival_of[t.id] = a
        self.waiting += 1
        for wid in [w for w in self.idle
                    if routing.may_serve(self.hall.window_config(w), self.hall.weights(w), t, self.cfg)]:
            self._call(wid)
            if self.hall.tickets[t.id].status != TicketStatus.WAITING:
                break

    def _booked(self) -> list[Ticket]:
        """The appointments still to come today, as the hall's bookings know them (each at its arrival)."""
        return [coming(f"booked-{i}", self.cfg.service(a.service_id), self.start + timedelta(seconds=a.at),
                       "appointment", i) for i, a in enumerate(self.day.arrivals)
                if a.priority == "appointment" and a.at > self.now_s]

    def _rostered(self) -> dict[str, datetime]:
        """Each window at work now, or due to open later today, with the time it starts calling."""
        out = {}
        for wid, st in self.state.items():
            if st != "off" and wid not in self.closing:
                out[wid] = self._now()
                continue
            starts = [a for a, _ in self.day.shifts.get(wid, ()) if a >= self.now_s]
            if starts:
                out[wid] = self.start + timedelta(seconds=min(starts))
        return out

    # ---- windows

    def _call(self, wid: str) -> None:
        """The window is free: call the next ticket, or sit idle (or sign out when its shift is over)."""
        if wid in self.pending_break:
            self._pause(wid, self.pending_break.pop(wid))
            return
        if wid in self.closing and (self.now_s > self.closing[wid] + OVERTIME_S or not any(
                t.queue_at <= self.start + timedelta(seconds=self.closing[wid]) for t in self.hall.candidates(wid))):
            self._sign_out(wid)
            return
        try:
            d = self.hall.call_next(wid, self._now())
        except HallError as exc:  # 午间值班: only lunch-duty windows call at noon
            if exc.code != "lunch_break":
                raise
            d = None
        if d is None or d.empty:
            if wid in self.closing:
                self._sign_out(wid)
            elif wid not in self.idle:
                self.state[wid] = "idle"
                self.idle[wid] = self.waited_integral
            return
        self.hall.apply(d)
        self._leave_idle(wid)
        self.waiting -= 1
        a = self.arrival_of[d.result.id]
        self.state[wid] = "busy"
        self.holding[wid] = a.no_show
        length = self.day.no_show_wait_s if a.no_show else a.service_s
        self.records[wid].busy_s += length
        self._at(self.now_s + length, _DONE, wid)

    def _leave_idle(self, wid: str) -> None:
        began = self.idle.pop(wid, None)
        if began is not None:
            self.records[wid].idle_while_waiting_s += self.waited_integral - began

    def _done(self, wid: str) -> None:
        now, rec = self._now(), self.records[wid]
        if self.holding.pop(wid):
            self.hall.apply(self.hall.skip(wid, now))
            rec.no_shows += 1
        else:
            self.hall.apply(self.hall.finish(wid, now))
            rec.served += 1
        self.state[wid] = "idle"
        self._call(wid)

    def _open(self, wid: str) -> None:
        self.closing.pop(wid, None)
        if self.state[wid] != "off":  # still finishing the last shift's queue
            return
        self.hall.apply(self.hall.sign_in(wid, f"sim-{wid}", self._now()))
        self.state[wid] = "idle"
        self.since[wid] = self.now_s
        self._call(wid)

    def _close(self, payload: tuple[str, float]) -> None:
        wid, end = payload
        if self.state[wid] == "off":
            return
        self.closing[wid] = end
        self.pending_break.pop(wid, None)  # no break at the end of a shift
        if self.state[wid] == "idle":
            self._leave_idle(wid)
            self._call(wid)

    def _sign_out(self, wid: str) -> None:
        self._leave_idle(wid)
        self.closing.pop(wid, None)
        self.hall.apply(self.hall.sign_out(wid, self._now()))
        self.records[wid].open_s += self.now_s - self.since.pop(wid)
        self.state[wid] = "off"

    def _break(self, payload: tuple[str, float]) -> None:
        wid, length = payload
        st = self.state[wid]
        if st == "idle":
            self._pause(wid, length)
        elif st == "busy":
            self.pending_break[wid] = length

    def _pause(self, wid: str, length: float) -> None:
        self._leave_idle(wid)
        self.hall.apply(self.hall.pause(wid, self._now(), reason="休息"))
        self.records[wid].open_s += self.now_s - self.since.pop(wid)
        self.state[wid] = "break"
        self._at(self.now_s + length, _RESUME, wid)

    def _resume(self, wid: str) -> None:
        self.hall.apply(self.hall.resume(wid, self._now()))
        self.since[wid] = self.now_s
        self.state[wid] = "idle"
        self._call(wid)

    def _sample(self, _: object) -> None:
        self.queue.append((self.now_s, {cat: len(q) for cat, q in self.hall.waiting.items()}))
        if self.now_s < self.last_arrival or (self.waiting and any(s != "off" for s in self.state.values())):
            self._at(self.now_s + self.sample_every_s, _SAMPLE, None)


# ---------------------------------------------------------------------------------------------- comparisons

VARIANTS = {"dedicated": "分类专窗", "comprehensive": "全面综合", "hall": "本厅配置（分类综合+溢出）"}


def variants(cfg: HallConfig, day: Day) -> dict[str, HallConfig]:
    """The hall's general windows (comprehensive and categorised) three ways; special windows stay as they are.

    dedicated: each window serves one theme, windows shared out in proportion to the day's offered load
    (largest remainder; a categorised window keeps its heaviest theme when that theme has room);
    comprehensive: every one serves every theme; hall: as configured (categorised with overflow weights).
    """
    general = [w for w in cfg.windows if w.mode != "special"]
    themes = [c.id for c in cfg.categories if c.general]
    load = {c: 0.0 for c in themes}
    for a in day.arrivals:
        cat = cfg.service(a.service_id).category_id
        if cat in load:
            load[cat] += a.service_s
    quota = _share(len(general), load)
    assigned: dict[str, str] = {}
    for w in general:
        if w.weights:
            top = max(w.weights, key=w.weights.get)
            if quota.get(top, 0) > 0:
                assigned[w.id] = top
                quota[top] -= 1
    rest = [c for c in themes for _ in range(quota.get(c, 0))]
    for w in general:
        if w.id not in assigned:
            assigned[w.id] = rest.pop(0) if rest else max(load, key=load.get)
    dedicated = tuple(replace(w, mode="categorised", weights={assigned[w.id]: 1.0}) if w.id in assigned else w
                      for w in cfg.windows)
    pooled = tuple(replace(w, mode="comprehensive", weights={}) if w.mode != "special" else w for w in cfg.windows)
    return {"dedicated": replace(cfg, windows=dedicated), "comprehensive": replace(cfg, windows=pooled), "hall": cfg}


def _share(n: int, load: dict[str, float]) -> dict[str, int]:
    """n windows in proportion to load, largest remainder, at least one per loaded theme while they last."""
    total = sum(load.values())
    if not total:
        return {c: 0 for c in load}
    exact = {c: n * x / total for c, x in load.items()}
    out = {c: int(v) for c, v in exact.items()}
    for c in sorted(load, key=lambda c: -load[c]):
        if load[c] > 0 and out[c] == 0 and sum(out.values()) < n:
            out[c] = 1
    for c in sorted(exact, key=lambda c: out[c] - exact[c]):
        if sum(out.values()) >= n:
            break
        out[c] += 1
    return out


def compare(cfg: HallConfig, day: Day) -> dict[str, Result]:
    """The same day (arrivals, service times, no-shows, breaks) under each variant of the windows."""
    return {name: run(variant, day) for name, variant in variants(cfg, day).items()}


def scaled(cfg: HallConfig, windows: int) -> HallConfig:
    """The hall with its windows repeated (renumbered) until there are `windows` of them: load tests."""
    base = list(cfg.windows)
    out = []
    for i in range(windows):
        w = base[i % len(base)]
        out.append(replace(w, id=str(i + 1), number=i + 1, name=f"{i + 1}号 {w.label or w.mode}"))
    return replace(cfg, windows=tuple(out), staff=())
