"""The `[appointments]` section: slots, capacity, check-in window, no-show rules, the platform's key."""

from __future__ import annotations

import logging
from datetime import date

from hall_controller import config_loader as cfg
from hall_controller.core.passwords import hash_secret, parse_hash
from hall_controller.core.settings import HallConfig
from hall_controller.features.appointments.rules import (
    AppointmentSettings,
    CapacityOverride,
    Late,
    ServiceSlots,
)

log = logging.getLogger(__name__)


_KEYS = ("slot_minutes", "capacity", "days_ahead", "check_in_before_minutes", "grace_minutes", "late",
         "cancel_before_minutes", "no_show_limit", "no_show_days", "ban_days", "identity_key",
         "platform_key", "platform_key_hash", "services", "days")


def _platform_key(t: cfg.Table) -> str:
    """At most one of `platform_key` (clear, for demos) or `platform_key_hash`, like PINs; neither = no
    online booking is accepted."""
    if "platform_key" in t.data and "platform_key_hash" in t.data:
        t.fail("platform_key", 'give at most one of "platform_key" (clear, for demos) or "platform_key_hash"')
    if "platform_key_hash" in t.data:
        hashed = t.text("platform_key_hash")
        try:
            parse_hash(hashed)
        except ValueError as e:
            t.fail("platform_key_hash", f"is not a valid hash: {e}")
        return hashed
    if "platform_key" in t.data:
        plain = t.text("platform_key")
        if len(plain) < 16:
            t.fail("platform_key", "must be at least 16 characters (a long random secret shared with the platform)")
        return hash_secret(plain, iterations=cfg.CLEAR_SECRET_ITERATIONS)
    return ""


def parse(table: cfg.Table, core: HallConfig) -> AppointmentSettings:
    t = cfg.Table(table.source, table.path, table.data, _KEYS)
    d = AppointmentSettings()
    late = t.text("late", d.late.value)
    if late not in {x.value for x in Late}:
        t.fail("late", f'must be "ordinary" (late arrivals get an ordinary ticket) or "refuse", got "{late}"')
    slot_minutes = t.integer("slot_minutes", d.slot_minutes, low=5, high=480)
    capacity = t.integer("capacity", d.capacity, low=0, high=1000)
    services: dict[str, ServiceSlots] = {}
    for entry in t.tables("services", ("id", "slot_minutes", "capacity")):
        sid = entry.text("id")
        if core.service(sid) is None:
            entry.fail("id", f'unknown service "{sid}"')
        if sid in services:
            entry.fail("id", f'service "{sid}" is listed twice')
        services[sid] = ServiceSlots(entry.integer("slot_minutes", slot_minutes, low=5, high=480),
                                     entry.integer("capacity", capacity, low=0, high=1000))
    overrides: list[CapacityOverride] = []
    for entry in t.tables("days", ("date", "weekday", "service", "capacity")):
        if ("date" in entry.data) == ("weekday" in entry.data):
            entry.fail("date", 'give exactly one of "date" (YYYY-MM-DD) or "weekday" (1 = Monday … 7 = Sunday)')
        day = entry.text("date") if "date" in entry.data else None
        if day is not None:
            try:
                date.fromisoformat(day)
            except ValueError:
                entry.fail("date", f'must be a date YYYY-MM-DD, got "{day}"')
        sid = entry.text("service") if "service" in entry.data else None
        if sid is not None and core.service(sid) is None:
            entry.fail("service", f'unknown service "{sid}"')
        overrides.append(CapacityOverride(
            entry.integer("capacity", low=0, high=1000), day,
            entry.integer("weekday", low=1, high=7) if day is None else None, sid))
    return AppointmentSettings(
        slot_minutes=slot_minutes,
        capacity=capacity,
        days_ahead=t.integer("days_ahead", d.days_ahead, low=0, high=366),
        check_in_before_minutes=t.integer("check_in_before_minutes", d.check_in_before_minutes, low=0, high=480),
        grace_minutes=t.integer("grace_minutes", d.grace_minutes, low=0, high=480),
        late=Late(late),
        cancel_before_minutes=t.integer("cancel_before_minutes", d.cancel_before_minutes, low=0, high=10080),
        no_show_limit=t.integer("no_show_limit", d.no_show_limit, low=1, high=100),
        no_show_days=t.integer("no_show_days", d.no_show_days, low=1, high=3660),
        ban_days=t.integer("ban_days", d.ban_days, low=0, high=3660),
        identity_key=t.text("identity_key", d.identity_key, empty=True),
        platform_key_hash=_platform_key(t),
        services=services,
        overrides=tuple(overrides),
    )




def settings_of(config: HallConfig) -> AppointmentSettings:
    return config.sections.get("appointments") or AppointmentSettings()
