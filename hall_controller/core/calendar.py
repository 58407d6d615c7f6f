"""The hall's calendar: working days (weekends, holidays, 调休 workdays), special service days (weekend and
holiday sessions, which open the hall without making the day a working day for deadlines) and issuing hours."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from hall_controller.core.settings import Hours, Period, Service, ServiceDay, Window


def is_working_day(d: date, hours: Hours) -> bool:
    iso = d.isoformat()
    if iso in hours.workdays:
        return True
    if iso in hours.holidays:
        return False
    return d.isoweekday() in hours.weekdays


def service_day(d: date, hours: Hours) -> ServiceDay | None:
    """The special service session on a day that is not a working day, or None."""
    if is_working_day(d, hours):
        return None
    iso = d.isoformat()
    return next((s for s in hours.service_days if s.date == iso), None)


def is_open_day(d: date, hours: Hours) -> bool:
    """A working day or a special service day: the hall opens at all."""
    return is_working_day(d, hours) or service_day(d, hours) is not None


def sessions_on(d: date, hours: Hours) -> tuple[Period, ...]:
    """The opening sessions of the day: the hall's on a working day, the service day's own on a service day."""
    if is_working_day(d, hours):
        return hours.sessions
    special = service_day(d, hours)
    return special.sessions if special else ()


def add_working_days(start: datetime, days: int, hours: Hours) -> datetime:
    """The moment `days` working days after `start` (the deadline counts whole working days, end of day)."""
    d = start.date()
    left = days
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d, hours):
            left -= 1
    return datetime.combine(d, hours.sessions[-1].end if hours.sessions else start.time(), start.tzinfo)


def working_days_between(start: date, end: date, hours: Hours) -> int:
    """Working days in (start, end]: how many `add_working_days` steps separate two dates (0 if end <= start)."""
    return sum(1 for i in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=i), hours))


def issuing_periods(service: Service, hours: Hours) -> tuple[Period, ...]:
    periods = service.issuing_hours or hours.sessions
    if hours.lunch_duty is not None and not service.issuing_hours:
        periods = periods + (hours.lunch_duty,)
    return periods


def issuing_open(service: Service, hours: Hours, now: datetime) -> bool:
    t = now.time()
    return any(p.contains(t) for p in periods_on(service, hours, now.date()))


def describe_periods(periods: tuple[Period, ...]) -> str:
    return "、".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in sorted(periods, key=lambda p: p.start))


def periods_on(service: Service, hours: Hours, d: date) -> tuple[Period, ...]:
    """The service's issuing periods on day `d`, in time order; empty when the hall is closed that day. On a
    special service day: its sessions, for the services it lists."""
    if not is_working_day(d, hours):
        special = service_day(d, hours)
        return special.sessions if special and special.serves(service.id) else ()
    return tuple(sorted(issuing_periods(service, hours), key=lambda p: p.start))


def opening_time(d: date, hours: Hours, tz: tzinfo | None) -> datetime | None:
    """When the hall opens on this day (first session start), or None on a non-working day."""
    if not is_working_day(d, hours) or not hours.sessions:
        return None
    return datetime.combine(d, hours.sessions[0].start, tz)


def closing_time(d: date, hours: Hours, tz: tzinfo | None) -> datetime | None:
    """When the hall's last session ends on this day, or None on a non-working day."""
    if not is_working_day(d, hours) or not hours.sessions:
        return None
    return datetime.combine(d, hours.sessions[-1].end, tz)


def lunch_duty_on(d: date, hours: Hours, tz: tzinfo | None) -> tuple[datetime, datetime] | None:
    """The 午间值班 period of a working day (None on other days, or without one)."""
    if hours.lunch_duty is None or not is_working_day(d, hours):
        return None
    return datetime.combine(d, hours.lunch_duty.start, tz), datetime.combine(d, hours.lunch_duty.end, tz)


def in_lunch_duty(now: datetime, hours: Hours) -> bool:
    """Within the 午间值班 period of a working day."""
    lunch = lunch_duty_on(now.date(), hours, now.tzinfo)
    return lunch is not None and lunch[0] <= now < lunch[1]


def lunch_end(now: datetime, hours: Hours) -> datetime | None:
    """When the 午间值班 period now in progress ends (None outside it)."""
    if not in_lunch_duty(now, hours):
        return None
    return now.replace(hour=hours.lunch_duty.end.hour, minute=hours.lunch_duty.end.minute, second=0, microsecond=0)


def calls_allowed(window: Window, hours: Hours, now: datetime) -> bool:
    """Whether a window may call a new ticket now: at lunch only lunch-duty windows do (午间值班)."""
    return window.lunch_duty or not in_lunch_duty(now, hours)


def working_days(start: date, end: date, hours: Hours) -> list[date]:
    """Working days in [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days) if is_working_day(start + timedelta(days=i), hours)]
