"""Appointment rules (预约): slots, booking limits, the check-in window and the no-show rule.

Pure functions over `Appointment` values: the caller passes `now`, the hall's config and whatever
bookings the rule needs; nothing here reads the database or the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from hall_controller.core.calendar import periods_on
from hall_controller.core.errors import HallError, not_found
from hall_controller.core.settings import HallConfig, Service


class Status(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"  # 爽约
    REFUSED_LATE = "refused_late"  # came after the grace period under `late = "refuse"`: late, not a no-show


STATUS_NAMES: dict[str, str] = {"booked": "已预约", "cancelled": "已取消", "checked_in": "已签到", "no_show": "爽约",
                                 "refused_late": "迟到未受理"}


class Late(StrEnum):
    ORDINARY = "ordinary"  # a late arrival gets an ordinary ticket
    REFUSE = "refuse"


# 当面 / 网上 / 电话预约
CHANNELS: dict[str, str] = {"online": "网上预约", "phone": "电话预约", "in_person": "当面预约"}
CHANNEL_BY_NAME = {name: code for code, name in CHANNELS.items()} | {"网上": "online", "电话": "phone", "当面": "in_person"}


@dataclass(frozen=True)
class ServiceSlots:
    slot_minutes: int
    capacity: int  # bookings per slot; 0 = not bookable


@dataclass(frozen=True)
class CapacityOverride:
    """Bookings per slot on one date or on one weekday, for one service or all of them."""
    capacity: int
    date: str | None = None  # YYYY-MM-DD
    weekday: int | None = None  # 1 = Monday … 7 = Sunday
    service_id: str | None = None

    def rank(self, service_id: str, day: date) -> int | None:
        """How closely it matches (higher wins: a date over a weekday, one service over all), or None."""
        if self.service_id not in (None, service_id):
            return None
        if self.date is not None:
            return 2 + (self.service_id is not None) if self.date == day.isoformat() else None
        return (self.service_id is not None) if self.weekday == day.isoweekday() else None


@dataclass(frozen=True)
class AppointmentSettings:
    slot_minutes: int = 30
    capacity: int = 2
    days_ahead: int = 7  # bookable from today up to this many calendar days ahead
    check_in_before_minutes: int = 30
    grace_minutes: int = 15
    late: Late = Late.ORDINARY
    cancel_before_minutes: int = 120  # a citizen cancels up to this long before the slot; staff any time
    no_show_limit: int = 2  # this many no-shows ...
    no_show_days: int = 30  # ... within this many days ...
    ban_days: int = 90  # ... suspend booking for this many days after the last one
    identity_key: str = ""  # HMAC key for phone and ID number hashes
    platform_key_hash: str = ""  # PBKDF2 hash of the platform's API key for online bookings; "" = none accepted
    services: dict[str, ServiceSlots] = field(default_factory=dict)
    overrides: tuple[CapacityOverride, ...] = ()  # per-date / per-weekday capacities

    def slots_of(self, service_id: str) -> ServiceSlots:
        return self.services.get(service_id) or ServiceSlots(self.slot_minutes, self.capacity)

    def bookable(self, service_id: str) -> bool:
        """Whether the service takes bookings on some day (its own capacity or an override)."""
        return self.slots_of(service_id).capacity > 0 or any(
            o.capacity > 0 and o.service_id in (None, service_id) for o in self.overrides)

    def capacity_on(self, service_id: str, day: date) -> int:
        """Bookings per slot of the service on that day: the closest override, else the service's own."""
        ranked = [(r, o.capacity) for o in self.overrides if (r := o.rank(service_id, day)) is not None]
        return max(ranked)[1] if ranked else self.slots_of(service_id).capacity


@dataclass(frozen=True)
class Slot:
    start: time
    end: time
    capacity: int


@dataclass(frozen=True)
class Appointment:
    id: str
    code: str  # 预约码 the citizen shows at the kiosk
    service_id: str
    day: str  # YYYY-MM-DD
    slot_start: str  # HH:MM
    slot_end: str
    channel: str
    name_masked: str
    phone_hash: str
    phone_masked: str
    booked_at: str
    booked_by: str  # staff / manager id, or "platform"
    id_hash: str | None = None
    id_masked: str | None = None
    status: Status = Status.BOOKED
    ticket_id: str | None = None
    checked_in_at: str | None = None
    late: bool = False
    cancelled_at: str | None = None
    cancelled_by: str | None = None
    no_show_at: str | None = None

    def start_at(self, tz) -> datetime:
        return datetime.combine(date.fromisoformat(self.day), time.fromisoformat(self.slot_start), tz)

    def end_at(self, tz) -> datetime:
        return datetime.combine(date.fromisoformat(self.day), time.fromisoformat(self.slot_end), tz)

    def view(self) -> dict[str, object]:
        """What clients and events see: no hashes, no code."""
        return {"id": self.id, "service_id": self.service_id, "day": self.day, "slot_start": self.slot_start,
                "slot_end": self.slot_end, "channel": self.channel, "channel_name": CHANNELS.get(self.channel, self.channel),
                "name": self.name_masked, "phone": self.phone_masked, "id_number": self.id_masked,
                "status": self.status.value, "status_name": STATUS_NAMES[self.status.value], "ticket_id": self.ticket_id, "checked_in_at": self.checked_in_at,
                "late": self.late, "booked_by": self.booked_by}


# ---------------------------------------------------------------- personal data


def identity_hash(value: str, key: str) -> str:
    """Keyed hash of a phone or ID number: a plain hash of 11 digits is reversed by enumeration."""
    return hmac.new(key.encode(), normalise_identity(value).encode(), hashlib.sha256).hexdigest()


def normalise_identity(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


_PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{9,11}")  # mobile, or landline with area code
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_phone(phone: str) -> bool:
    return bool(_PHONE.fullmatch(normalise_identity(phone)))


def valid_id_number(number: str) -> bool:
    """18-character 居民身份证号码 with its GB 11643 check character."""
    n = normalise_identity(number)
    if not re.fullmatch(r"[0-9]{17}[0-9X]", n):
        return False
    try:
        date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    check = "10X98765432"[sum(int(d) * w for d, w in zip(n[:17], _ID_WEIGHTS)) % 11]
    return n[17] == check


def mask_phone(phone: str) -> str:
    n = normalise_identity(phone)
    return n[:3] + "*" * (len(n) - 7) + n[-4:]


def mask_id_number(number: str) -> str:
    n = normalise_identity(number)
    return n[:1] + "*" * (len(n) - 5) + n[-4:]


def mask_name(name: str) -> str:
    """张三 → 张*; 欧阳修文 → 欧**文 (the same rule as hall-events.js maskName)."""
    chars = list(name.strip())
    if len(chars) <= 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def parse_channel(value: str) -> str | None:
    if value in CHANNELS:
        return value
    return CHANNEL_BY_NAME.get(value)


# ---------------------------------------------------------------- slots


def slots(service: Service, config: HallConfig, settings: AppointmentSettings, day: date) -> list[Slot]:
    """Slots of `slot_minutes` laid from the start of each issuing period that fit entirely inside it."""
    rule = settings.slots_of(service.id)
    capacity = settings.capacity_on(service.id, day)
    if capacity == 0:
        return []
    out: list[Slot] = []
    step = timedelta(minutes=rule.slot_minutes)
    for p in periods_on(service, config.hours, day):
        start = datetime.combine(day, p.start)
        end = datetime.combine(day, p.end)
        while start + step <= end:
            out.append(Slot(start.time(), (start + step).time(), capacity))
            start += step
    return out


def taken(appointments: list[Appointment], service_id: str, day: str, slot_start: str) -> int:
    """Bookings holding a place in the slot (a cancelled one frees its place)."""
    return sum(1 for a in appointments if a.service_id == service_id and a.day == day and a.slot_start == slot_start
               and a.status != Status.CANCELLED)


# ---------------------------------------------------------------- booking


@dataclass(frozen=True)
class BookingRequest:
    service_id: str
    day: str
    slot_start: str
    name: str
    phone: str
    channel: str
    booked_by: str
    id_number: str | None = None


def suspended_until(history: list[Appointment], now: datetime, settings: AppointmentSettings) -> date | None:
    """The day booking is allowed again under "N no-shows in D days → no booking for B days", or None.

    `history` is the person's appointments (matched by phone or ID hash) of any day.
    """
    misses = sorted(date.fromisoformat(a.day) for a in history if a.status == Status.NO_SHOW)
    today = now.date()
    # A ban starts at the no-show that completes N within D days and lasts B days from it.
    for i in range(settings.no_show_limit - 1, len(misses)):
        if (misses[i] - misses[i - settings.no_show_limit + 1]).days < settings.no_show_days:
            until = misses[i] + timedelta(days=settings.ban_days)
            if until > today:
                return until
    return None


def book(req: BookingRequest, appt_id: str, code: str, now: datetime, config: HallConfig,
         settings: AppointmentSettings, slot_bookings: list[Appointment], history: list[Appointment]) -> Appointment:
    """Validate a booking; `slot_bookings` are the service's bookings that day, `history` the person's."""
    svc = config.service(req.service_id)
    if svc is None:
        raise not_found("service", req.service_id)
    channel = parse_channel(req.channel)
    if channel is None:
        raise HallError("invalid_channel", f"预约渠道无效：{req.channel}（可选：网上、电话、当面）。", 422)
    name = req.name.strip()
    if not 1 <= len(name) <= 30:
        raise HallError("invalid_name", "请填写姓名（不超过 30 个字）。", 422)
    if not valid_phone(req.phone):
        raise HallError("invalid_phone", "手机号码格式不正确，请填写 11 位手机号或带区号的固定电话。", 422)
    if req.id_number and not valid_id_number(req.id_number):
        raise HallError("invalid_id_number", "身份证号码格式不正确，请核对后重新填写。", 422)
    try:
        day = date.fromisoformat(req.day)
        start = time.fromisoformat(req.slot_start)
    except ValueError:
        raise HallError("invalid_slot", "预约日期或时段格式不正确（日期 YYYY-MM-DD，时段 HH:MM）。", 422) from None
    today = now.date()
    if day < today:
        raise HallError("slot_past", "不能预约已过去的日期。", 422)
    if (day - today).days > settings.days_ahead:
        raise HallError("too_far_ahead", f"最多可预约 {settings.days_ahead} 天内的时段。", 422)
    available = slots(svc, config, settings, day)
    if settings.capacity_on(svc.id, day) == 0:
        raise HallError("not_bookable", f"“{svc.name}”{day:%m月%d日}不提供预约，请选择其他日期或现场取号。")
    if not available:
        raise HallError("hall_closed", f"{day:%Y年%m月%d日}大厅不办公，请选择其他工作日。")
    slot = next((s for s in available if s.start == start), None)
    if slot is None:
        raise HallError("invalid_slot", f"“{svc.name}”在该日没有 {req.slot_start} 开始的预约时段。", 422)
    if datetime.combine(day, slot.start, now.tzinfo) <= now:
        raise HallError("slot_past", "该时段已开始或已过去，请选择之后的时段。", 422)
    until = suspended_until(history, now, settings)
    if until is not None:
        raise HallError("booking_suspended",
                        f"您在 {settings.no_show_days} 天内有 {settings.no_show_limit} 次预约未按时签到（爽约），"
                        f"{until:%Y年%m月%d日}前暂停预约，可现场取号办理。", 403)
    if any(a.service_id == svc.id and a.day == req.day and a.status in (Status.BOOKED, Status.CHECKED_IN)
           for a in history):
        raise HallError("already_booked", f"您已预约{day:%m月%d日}的“{svc.name}”，同一事项每天只能预约一次。")
    if taken(slot_bookings, svc.id, req.day, req.slot_start) >= slot.capacity:
        raise HallError("slot_full", f"{req.slot_start} 时段已约满，请选择其他时段。")
    return Appointment(
        id=appt_id, code=code, service_id=svc.id, day=req.day, slot_start=f"{slot.start:%H:%M}",
        slot_end=f"{slot.end:%H:%M}", channel=channel, name_masked=mask_name(name),
        phone_hash=identity_hash(req.phone, settings.identity_key), phone_masked=mask_phone(req.phone),
        booked_at=now.isoformat(), booked_by=req.booked_by,
        id_hash=identity_hash(req.id_number, settings.identity_key) if req.id_number else None,
        id_masked=mask_id_number(req.id_number) if req.id_number else None,
    )


def cancel(a: Appointment, now: datetime, settings: AppointmentSettings, by: str, staff: bool) -> Appointment:
    if a.status == Status.CANCELLED:
        return a
    if a.status != Status.BOOKED:
        raise HallError("appointment_not_booked", "该预约已签到或已过期，不能取消。")
    if not staff and now > a.start_at(now.tzinfo) - timedelta(minutes=settings.cancel_before_minutes):
        raise HallError("cancel_too_late",
                        f"预约时段开始前 {settings.cancel_before_minutes} 分钟内不能自行取消，请联系大厅工作人员。")
    return replace(a, status=Status.CANCELLED, cancelled_at=now.isoformat(), cancelled_by=by)


# ---------------------------------------------------------------- check-in


class Timing(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"  # after slot start + grace, before the no-show cut-off
    MISSED = "missed"  # past the no-show cut-off, or another day


def timing(a: Appointment, now: datetime, settings: AppointmentSettings) -> Timing:
    start = a.start_at(now.tzinfo)
    if now.date().isoformat() != a.day:
        return Timing.EARLY if now.date().isoformat() < a.day else Timing.MISSED
    if now < start - timedelta(minutes=settings.check_in_before_minutes):
        return Timing.EARLY
    if now <= start + timedelta(minutes=settings.grace_minutes):
        return Timing.ON_TIME
    if now <= no_show_cutoff(a, now.tzinfo, settings):
        return Timing.LATE
    return Timing.MISSED


def no_show_cutoff(a: Appointment, tz, settings: AppointmentSettings) -> datetime:
    """A booking still unchecked after its slot's end plus the grace period is a no-show."""
    return a.end_at(tz) + timedelta(minutes=settings.grace_minutes)


def check_in(a: Appointment, now: datetime, settings: AppointmentSettings) -> bool:
    """Whether the check-in keeps appointment priority (True) or becomes an ordinary ticket (False).

    Raises with the citizen-facing reason when the appointment cannot be checked in now.
    """
    if a.status == Status.CANCELLED:
        raise HallError("appointment_cancelled", "该预约已取消，请现场取号办理。")
    if a.status == Status.NO_SHOW:
        raise HallError("appointment_missed", "该预约已过签到时间并记为未到，请现场取号办理。")
    if a.status == Status.REFUSED_LATE:
        raise _late(settings)
    when = timing(a, now, settings)
    if when == Timing.EARLY:
        opens = a.start_at(now.tzinfo) - timedelta(minutes=settings.check_in_before_minutes)
        if now.date().isoformat() != a.day:
            raise HallError("check_in_early", f"您预约的是 {a.day} {a.slot_start}–{a.slot_end}，请当天前来签到。")
        raise HallError("check_in_early",
                        f"您预约的时段是 {a.slot_start}–{a.slot_end}，请于 {opens:%H:%M} 后签到。")
    if when == Timing.MISSED:
        raise HallError("appointment_missed", f"您预约的时段 {a.day} {a.slot_start}–{a.slot_end} 已过，请现场取号办理。")
    if when == Timing.LATE:
        if settings.late == Late.REFUSE:
            raise _late(settings)
        return False
    return True


def _late(settings: AppointmentSettings) -> HallError:
    return HallError("check_in_late", f"您已超过预约时段开始后 {settings.grace_minutes} 分钟，预约失效，请现场取号办理。")


def refused_late(a: Appointment, now: datetime) -> Appointment:
    """The citizen came, too late to keep the booking: recorded as late (with the arrival time), so the
    sweep does not count it as a no-show and it does not weigh towards a booking ban."""
    return replace(a, status=Status.REFUSED_LATE, checked_in_at=now.isoformat(), late=True)


def checked_in(a: Appointment, now: datetime, ticket_id: str, priority: bool) -> Appointment:
    return replace(a, status=Status.CHECKED_IN, checked_in_at=now.isoformat(), ticket_id=ticket_id, late=not priority)


def due_no_shows(booked: list[Appointment], now: datetime, settings: AppointmentSettings) -> list[Appointment]:
    return [replace(a, status=Status.NO_SHOW, no_show_at=now.isoformat()) for a in booked
            if a.status == Status.BOOKED and now > no_show_cutoff(a, now.tzinfo, settings)]
