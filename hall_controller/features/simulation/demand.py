"""The hall's usual demand: the `[simulation]` section, half-hour arrival profile, service mix and CVs.

The simulator draws its days from it and the staffing advice forecasts the rest of today with it, so both
speak of the same "usual day". Slots are half-hours keyed by their start in minutes after midnight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import time

from hall_controller import config_loader as config
from hall_controller.core.calendar import issuing_periods
from hall_controller.core.settings import HallConfig, Period, Service

SLOT_MINUTES = 30
PEAK_SLOT = 10 * 60  # weekday peak at 10:00 ...
PEAK_RATIO = 1.3  # ... at about 1.3× the daily mean (hall-standards notes)
LUNCH_LEVEL = 0.35  # relative arrivals during 午间值班 before scaling
DEFAULT_TICKETS_PER_DAY = 1000.0  # a county hall: ~600 cases + ~600 enquiries a day
ALLOWED_KEYS = ("tickets_per_day", "profile", "profiles", "mix", "service_cv", "cv", "no_show_share",
                "no_show_wait_minutes", "appointment_share", "appointment_early_minutes", "appointment_spread_minutes",
                "break_minutes", "windows")


@dataclass(frozen=True)
class WindowShift:
    window_id: str
    periods: tuple[Period, ...]  # empty: the window stays closed all day


@dataclass(frozen=True)
class SimulationSettings:
    tickets_per_day: float = DEFAULT_TICKETS_PER_DAY
    profile: dict[int, float] = field(default_factory=dict)  # slot start (minutes) -> relative weight; {} = default
    profiles: dict[str, dict[int, float]] = field(default_factory=dict)  # a service's own shape over the day
    mix: dict[str, float] = field(default_factory=dict)  # service id -> relative weight; unlisted = 1
    service_cv: float = 1.5
    cv: dict[str, float] = field(default_factory=dict)  # per-service CV overrides
    no_show_share: float = 0.05
    no_show_wait_minutes: float = 1.5  # recalls before 过号
    appointment_share: float = 0.1  # of the day's citizens, those with a booking (bookable services)
    appointment_early_minutes: float = 10  # bookers arrive on average this long before their slot ...
    appointment_spread_minutes: float = 15  # ... give or take this (standard deviation)
    break_minutes: float = 15  # one break per window per session of 2 h or more; 0 = none
    shifts: tuple[WindowShift, ...] = ()  # windows whose hours differ from the hall's

    def service_cv_of(self, service_id: str) -> float:
        return self.cv.get(service_id, self.service_cv)


def parse(table: config.Table, core: HallConfig) -> SimulationSettings:
    t = config.Table(table.source, table.path, table.data, ALLOWED_KEYS)
    d = SimulationSettings()
    profile = _profile(t, "profile")
    services = {s.id for s in core.services}
    raw_profiles = t.raw("profiles", {})
    own = config.Table(t.source, t.at("profiles"), raw_profiles, tuple(services))
    profiles = {sid: _profile(own, sid) for sid in own.data}
    mix = _per_service(t, "mix", services, positive=False)
    if mix and not any(mix.values()):
        t.fail("mix", "must give at least one service a weight above 0")
    shifts: list[WindowShift] = []
    seen: set[str] = set()
    for entry in t.tables("windows", ("window", "open")):
        raw_id = entry.raw("window")
        wid = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else entry.text("window")
        if core.window(wid) is None:
            entry.fail("window", f'unknown window "{wid}"')
        if wid in seen:
            entry.fail("window", f'window "{wid}" is listed twice')
        seen.add(wid)
        shifts.append(WindowShift(wid, config._periods(entry, "open", required=False)))
    return SimulationSettings(
        tickets_per_day=t.number("tickets_per_day", d.tickets_per_day, positive=True, high=1_000_000),
        profile=profile,
        profiles=profiles,
        mix=mix,
        service_cv=t.number("service_cv", d.service_cv, positive=True, high=10),
        cv=_per_service(t, "cv", services, positive=True),
        no_show_share=t.number("no_show_share", d.no_show_share, positive=False, high=0.9),
        no_show_wait_minutes=t.number("no_show_wait_minutes", d.no_show_wait_minutes, positive=False, high=30),
        appointment_share=t.number("appointment_share", d.appointment_share, positive=False, high=1),
        appointment_early_minutes=t.number("appointment_early_minutes", d.appointment_early_minutes, positive=False,
                                           high=120),
        appointment_spread_minutes=t.number("appointment_spread_minutes", d.appointment_spread_minutes,
                                            positive=False, high=120),
        break_minutes=t.number("break_minutes", d.break_minutes, positive=False, high=120),
        shifts=tuple(shifts),
    )


def _profile(t: config.Table, key: str) -> dict[int, float]:
    """A half-hour profile `{ "HH:MM" = weight }` under `key`; {} when absent."""
    raw = t.raw(key, {})
    prof = config.Table(t.source, t.at(key), raw, tuple(raw) if isinstance(raw, dict) else ())
    out: dict[int, float] = {}
    for k in prof.data:
        slot = parse_slot(str(k))
        if slot is None:
            prof.fail(k, 'must be a half-hour slot start "HH:00" or "HH:30" (e.g. "09:30")')
        out[slot] = prof.number(k, positive=False)
    if out and not any(out.values()):
        t.fail(key, "must give at least one slot a weight above 0")
    return out


def _per_service(t: config.Table, key: str, services: set[str], *, positive: bool) -> dict[str, float]:
    raw = t.raw(key, {})
    table = config.Table(t.source, t.at(key), raw, tuple(services))
    return {sid: table.number(sid, positive=positive, high=10 if key == "cv" else math.inf) for sid in table.data}


def parse_slot(text: str) -> int | None:
    if len(text) != 5 or text[2] != ":" or not (text[:2].isdigit() and text[3:].isdigit()):
        return None
    h, m = int(text[:2]), int(text[3:])
    return h * 60 + m if h < 24 and m in (0, 30) else None



def settings_of(cfg: HallConfig) -> SimulationSettings:
    return cfg.sections.get("simulation") or SimulationSettings()


def slot_label(slot: int) -> str:
    return f"{slot // 60:02d}:{slot % 60:02d}"


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def open_slots(cfg: HallConfig) -> list[int]:
    """Half-hour slots in which the hall issues tickets (sessions and 午间值班)."""
    periods = list(cfg.hours.sessions) + ([cfg.hours.lunch_duty] if cfg.hours.lunch_duty else [])
    slots = set()
    for p in periods:
        start = _minutes(p.start) // SLOT_MINUTES * SLOT_MINUTES
        slots.update(range(start, _minutes(p.end), SLOT_MINUTES))
    return sorted(slots)


def default_profile(cfg: HallConfig) -> dict[int, float]:
    """A weekday shape: morning peak at 10:00 (≈ 1.3× the mean), a smaller one mid-afternoon, quiet lunch."""
    lunch = cfg.hours.lunch_duty
    raw: dict[int, float] = {}
    for slot in open_slots(cfg):
        h = (slot + SLOT_MINUTES / 2) / 60
        if lunch and _minutes(lunch.start) <= slot < _minutes(lunch.end):
            raw[slot] = LUNCH_LEVEL
        else:
            raw[slot] = 0.8 + 0.6 * math.exp(-((h - 10.25) / 0.9) ** 2) + 0.3 * math.exp(-((h - 15.25) / 0.9) ** 2)
    if not raw:
        return raw
    mean = sum(raw.values()) / len(raw)
    if PEAK_SLOT in raw and raw[PEAK_SLOT] > mean:
        # Stretch around the mean (which it keeps) so that the 10:00 slot is PEAK_RATIO × the mean.
        s = (PEAK_RATIO - 1) * mean / (raw[PEAK_SLOT] - mean)
        raw = {k: max(0.05 * mean, mean + s * (v - mean)) for k, v in raw.items()}
    return raw


def profile_of(cfg: HallConfig, settings: SimulationSettings) -> dict[int, float]:
    return dict(settings.profile) or default_profile(cfg)


def arrivals_per_hour(cfg: HallConfig, settings: SimulationSettings) -> dict[int, float]:
    """Expected arrivals per hour in each slot, over all services (sums to tickets_per_day over the day)."""
    profile = profile_of(cfg, settings)
    total = sum(profile.values())
    return {slot: settings.tickets_per_day * w / total * (60 / SLOT_MINUTES) for slot, w in profile.items()}


def issuing(service: Service, cfg: HallConfig, minute: float) -> bool:
    t = time(int(minute // 60) % 24, int(minute % 60))
    return any(p.contains(t) for p in issuing_periods(service, cfg.hours))


def mix_weights(cfg: HallConfig, settings: SimulationSettings, minute: float) -> dict[str, float]:
    """Relative share of each service among those issuing at this minute of the day."""
    weights = {s.id: settings.mix.get(s.id, 1.0) for s in cfg.services if issuing(s, cfg, minute)}
    return {sid: w for sid, w in weights.items() if w > 0}


def rates_at(cfg: HallConfig, settings: SimulationSettings, minute: float,
             hall_rates: dict[int, float] | None = None) -> dict[str, float]:
    """Arrivals per hour of each service at this minute of the day.

    A service with its own profile (`[simulation.profiles]`) gets its share of the day's tickets (its `mix`
    weight over all services') spread by that profile; the others share the rest of the stream, shaped by the
    hall's profile, by `mix` among those issuing at this minute.
    """
    hall_rates = arrivals_per_hour(cfg, settings) if hall_rates is None else hall_rates
    slot = int(minute // SLOT_MINUTES * SLOT_MINUTES)
    everyone = sum(settings.mix.get(s.id, 1.0) for s in cfg.services) or 1.0
    own_share = sum(settings.mix.get(sid, 1.0) for sid in settings.profiles) / everyone
    weights = {sid: w for sid, w in mix_weights(cfg, settings, minute).items() if sid not in settings.profiles}
    total = sum(weights.values())
    rest = hall_rates.get(slot, 0.0) * (1 - own_share)
    out = {sid: rest * w / total for sid, w in weights.items()} if total else {}
    for sid, profile in settings.profiles.items():
        if profile.get(slot) and issuing(cfg.service(sid), cfg, minute):
            day = settings.tickets_per_day * settings.mix.get(sid, 1.0) / everyone
            out[sid] = day * profile[slot] / sum(profile.values()) * (60 / SLOT_MINUTES)
    return out


def service_rates(cfg: HallConfig, settings: SimulationSettings) -> dict[int, dict[str, float]]:
    """Usual arrivals per hour of each service in each slot (judged at the slot's middle)."""
    hall_rates = arrivals_per_hour(cfg, settings)
    slots = set(hall_rates) | {slot for p in settings.profiles.values() for slot, w in p.items() if w > 0}
    return {slot: rates_at(cfg, settings, slot + SLOT_MINUTES / 2, hall_rates) for slot in sorted(slots)}


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(μ, σ) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log(1 + cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
