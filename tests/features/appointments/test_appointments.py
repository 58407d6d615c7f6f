"""Appointments (预约): slot capacity, the check-in window, lateness, the no-show rule, and the HTTP API."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.app import open_ledger
from hall_controller.config_loader import ConfigError, Table
from hall_controller.core.errors import HallError
from hall_controller.core.passwords import hash_secret, verify_secret
from hall_controller.core.service import HallService
from hall_controller.core.settings import Manager
from hall_controller.features.appointments import rules
from hall_controller.features.appointments import service as appointment_service
from hall_controller.features.appointments import settings as appointment_settings
from hall_controller.features.appointments.feature import feature as appointments_f
from hall_controller.features.appointments.rules import (
    AppointmentSettings,
    BookingRequest,
    Late,
    ServiceSlots,
    Status,
)
from hall_controller.http.app import create_app
from tests.factory import KIOSK, MONDAY_10, TZ, small_hall, with_kiosk

KEY = "test-key"
PLATFORM_KEY = "platform-key-0123456789abcdef"
SETTINGS = AppointmentSettings(identity_key=KEY, capacity=2, services={"O1": ServiceSlots(60, 1)},
                               platform_key_hash=hash_secret(PLATFORM_KEY, iterations=1000))
AS_PLATFORM = {"authorization": f"Bearer {PLATFORM_KEY}"}
HALL = small_hall()
ID_ELDER = "110101195003010029"  # valid check character


def request(slot: str = "10:30", phone: str = "13800001111", day: str = "2026-11-23", service: str = "S1",
            **kw) -> BookingRequest:
    return BookingRequest(service, day, slot, kw.pop("name", "张三"), phone, kw.pop("channel", "online"), "platform", **kw)


def booked(req: BookingRequest, existing: list, now: datetime = MONDAY_10, n: int = 0, history: list | None = None,
           settings_: AppointmentSettings = SETTINGS) -> rules.Appointment:
    return rules.book(req, f"a{len(existing)}-{n}", f"{len(existing):08d}", now, HALL, settings_, existing,
                      existing if history is None else history)


# ---------------------------------------------------------------- slots and capacity


def test_slots_follow_issuing_periods_and_per_service_length():
    monday = date(2026, 11, 23)
    s1 = rules.slots(HALL.service("S1"), HALL, SETTINGS, monday)
    # 08:30–12:00 (7), lunch duty 12:00–14:00 (4), 14:00–17:30 (7) in 30-minute slots
    assert len(s1) == 18 and (s1[0].start.isoformat(), s1[-1].end.isoformat()) == ("08:30:00", "17:30:00")
    o1 = rules.slots(HALL.service("O1"), HALL, SETTINGS, monday)  # issuing 09:00–11:00, 60-minute slots
    assert [(s.start.hour, s.capacity) for s in o1] == [(9, 1), (10, 1)]
    assert rules.slots(HALL.service("S1"), HALL, SETTINGS, date(2026, 11, 29)) == []  # Sunday
    assert rules.slots(HALL.service("S1"), HALL, SETTINGS, date(2026, 12, 25)) == []  # holiday


def test_slot_capacity_and_cancel_frees_a_place():
    existing: list[rules.Appointment] = []
    for phone in ("13800000001", "13800000002"):
        existing.append(booked(request(phone=phone), existing, history=[]))
    with pytest.raises(HallError) as full:
        booked(request(phone="13800000003"), existing, history=[])
    assert full.value.code == "slot_full" and "约满" in full.value.message
    with pytest.raises(HallError) as too_late:  # a citizen cancels up to 2 h before; staff any time
        rules.cancel(existing[0], MONDAY_10, SETTINGS, "citizen", staff=False)
    assert too_late.value.code == "cancel_too_late"
    existing[0] = rules.cancel(existing[0], MONDAY_10, SETTINGS, "S001", staff=True)
    assert booked(request(phone="13800000003"), existing, history=[]).status == Status.BOOKED


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["book", "cancel"]), st.integers(0, 30)), max_size=40),
       st.integers(1, 4))
def test_a_slot_never_holds_more_than_its_capacity(ops, capacity):
    s = replace(SETTINGS, capacity=capacity)
    existing: list[rules.Appointment] = []
    for op, n in ops:
        if op == "book":
            try:
                existing.append(rules.book(request(phone=f"1380000{n:04d}"), f"id{len(existing)}", f"{len(existing):08d}",
                                           MONDAY_10, HALL, s, existing,
                                           [a for a in existing if a.phone_hash == rules.identity_hash(f"1380000{n:04d}", KEY)]))
            except HallError as e:
                assert e.code in ("slot_full", "already_booked")
        elif existing:
            i = n % len(existing)
            if existing[i].status == Status.BOOKED:
                existing[i] = rules.cancel(existing[i], MONDAY_10, s, "staff", staff=True)
        assert rules.taken(existing, "S1", "2026-11-23", "10:30") <= capacity


def test_booking_rejects_bad_requests_with_chinese_messages():
    cases = {
        "invalid_phone": request(phone="12345"),
        "invalid_id_number": request(id_number="110101195003010024"),  # wrong check character
        "slot_past": request(slot="09:30"),  # before 10:00 now
        "invalid_slot": request(slot="10:15"),
        "too_far_ahead": request(day="2026-12-23"),
        "hall_closed": request(day="2026-11-29"),
        "invalid_channel": request(channel="fax"),
    }
    for code, req in cases.items():
        with pytest.raises(HallError) as e:
            booked(req, [], history=[])
        assert e.value.code == code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.message)


def test_personal_data_is_hashed_and_masked():
    a = booked(request(name="欧阳修文", id_number=ID_ELDER), [], history=[])
    assert a.name_masked == "欧**文" and a.phone_masked == "138****1111" and a.id_masked == "1*************0029"
    assert a.phone_hash == rules.identity_hash("138 0000 1111", KEY) != rules.identity_hash("13800001111", "other")
    assert "13800001111" not in str(a.view()) and ID_ELDER not in str(a.view()) and "phone_hash" not in a.view()


# ---------------------------------------------------------------- check-in windows and lateness


def appointment(slot: str = "10:30") -> rules.Appointment:
    return booked(request(slot=slot), [], history=[])


@pytest.mark.parametrize("at, expected", [
    ("09:59", "early"), ("10:00", "on_time"), ("10:30", "on_time"), ("10:45", "on_time"),
    ("10:46", "late"), ("11:15", "late"), ("11:16", "missed"),
])
def test_check_in_window(at, expected):
    now = datetime.combine(date(2026, 11, 23), datetime.strptime(at, "%H:%M").time(), TZ)
    assert rules.timing(appointment(), now, SETTINGS).value == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(-120, 120))
def test_timing_is_monotonic_in_time(minutes):
    a = appointment()
    order = ["early", "on_time", "late", "missed"]
    start = a.start_at(TZ)
    t1 = rules.timing(a, start + timedelta(minutes=minutes), SETTINGS)
    t2 = rules.timing(a, start + timedelta(minutes=minutes + 1), SETTINGS)
    assert order.index(t1.value) <= order.index(t2.value)


def test_lateness_gives_an_ordinary_ticket_or_a_refusal():
    a = appointment()
    late = datetime(2026, 11, 23, 10, 50, tzinfo=TZ)
    assert rules.check_in(a, datetime(2026, 11, 23, 10, 10, tzinfo=TZ), SETTINGS) is True
    assert rules.check_in(a, late, SETTINGS) is False
    with pytest.raises(HallError) as refused:
        rules.check_in(a, late, replace(SETTINGS, late=Late.REFUSE))
    assert refused.value.code == "check_in_late" and "现场取号" in refused.value.message
    with pytest.raises(HallError) as early:
        rules.check_in(a, datetime(2026, 11, 23, 9, 0, tzinfo=TZ), SETTINGS)
    assert early.value.code == "check_in_early" and "10:00 后签到" in early.value.message


# ---------------------------------------------------------------- the no-show rule


def no_show(day: str) -> rules.Appointment:
    return replace(appointment(), day=day, status=Status.NO_SHOW)


def test_two_no_shows_in_thirty_days_suspend_booking_for_ninety():
    now = MONDAY_10
    assert rules.suspended_until([no_show("2026-11-02")], now, SETTINGS) is None
    assert rules.suspended_until([no_show("2026-09-01"), no_show("2026-11-02")], now, SETTINGS) is None  # 62 days apart
    until = rules.suspended_until([no_show("2026-11-02"), no_show("2026-11-16")], now, SETTINGS)
    assert until == date(2027, 2, 14)  # 90 days after the second
    assert rules.suspended_until([no_show("2026-08-01"), no_show("2026-08-10")], now, SETTINGS) is None  # served
    with pytest.raises(HallError) as e:
        booked(request(), [], history=[no_show("2026-11-02"), no_show("2026-11-16")])
    assert e.value.code == "booking_suspended" and "2027年02月14日前暂停预约" in e.value.message


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 200), max_size=6))
def test_no_show_rule_matches_its_definition(days_ago):
    now = MONDAY_10
    history = [no_show((now.date() - timedelta(days=d)).isoformat()) for d in days_ago]
    misses = sorted(now.date() - timedelta(days=d) for d in days_ago)
    expected = any((misses[i] - misses[i - 1]).days < 30 and misses[i] + timedelta(days=90) > now.date()
                   for i in range(1, len(misses)))
    assert (rules.suspended_until(history, now, SETTINGS) is not None) == expected


def test_due_no_shows():
    a = appointment()
    assert rules.due_no_shows([a], datetime(2026, 11, 23, 11, 15, tzinfo=TZ), SETTINGS) == []
    missed = rules.due_no_shows([a], datetime(2026, 11, 23, 11, 16, tzinfo=TZ), SETTINGS)
    assert [m.status for m in missed] == [Status.NO_SHOW]


# ---------------------------------------------------------------- through the service and HTTP


@pytest.fixture
def hall_app(tmp_path, clock):
    config = replace(small_hall(), managers=(Manager("manager", "值班长", "manager", hash_secret("pw", iterations=1000)),))
    config.sections["appointments"] = SETTINGS
    svc = HallService(config, open_ledger(tmp_path / "hall.db"), clock)
    app = with_kiosk(create_app(svc, [appointments_f]))
    with TestClient(app) as c:
        yield c, svc
    svc.ledger.close()


def book_http(c, slot="10:30", phone="13800001111", **kw):
    r = c.post("/api/appointments", json={"service_id": "S1", "date": "2026-11-23", "slot": slot, "name": "张三",
                                          "phone": phone, **kw}, headers=AS_PLATFORM)
    assert r.status_code == 201, r.text
    return r.json()


def test_book_check_in_and_repeat_gives_the_same_priority_ticket(hall_app, clock):
    c, svc = hall_app
    code = book_http(c, slot="11:00", id_number=ID_ELDER)["code"]
    assert len(code) == 8
    too_early = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code})
    assert too_early.status_code == 409 and "10:30 后签到" in too_early.json()["message"]
    clock.advance(minutes=35)  # 10:35
    # A phone number alone checks nobody in: others know it, and the answer carries the ticket's token.
    by_phone = c.post("/api/appointments/check-in", headers=KIOSK, json={"phone": "13800001111"})
    assert by_phone.status_code == 422 and by_phone.json()["error"] == "invalid_request"
    first = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()
    again = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()
    assert first["ticket"]["id"] == again["ticket"]["id"]
    # The token goes to the device that checked in (its repeat too); another device gets the number only
    # (tests/e2e/test_abuse.py).
    assert again["ticket"]["token"] == first["ticket"]["token"]
    assert first["ticket"]["priority"] == "appointment" and "appointment_id" not in first["ticket"]
    assert svc.hall.tickets[first["ticket"]["id"]].appointment_id == first["appointment"]["id"]
    assert first["ticket"]["channel"] == "appointment" and first["priority"] is True
    t = svc.hall.tickets[first["ticket"]["id"]]
    assert t.holder == rules.identity_hash(ID_ELDER, KEY)
    types = [e["type"] for e in c.get("/api/events").json()["events"]]
    assert types.count("appointment.checked_in") == 1 and types.count("ticket.issued") == 1
    # nothing personal in the clear in the ledger
    dump = "\n".join(str(r) for r in svc.ledger.query("SELECT * FROM appointments"))
    assert "13800001111" not in dump and ID_ELDER not in dump and "张三" not in dump


def test_late_check_in_becomes_an_ordinary_ticket(hall_app, clock):
    c, _ = hall_app
    code = book_http(c, slot="10:30")["code"]
    clock.set(datetime(2026, 11, 23, 10, 50, tzinfo=TZ))
    r = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()
    assert r["priority"] is False and r["ticket"]["priority"] is None and r["appointment"]["late"] is True


def test_no_show_sweep_and_the_ban_at_booking(hall_app, clock):
    c, _ = hall_app
    book_http(c, slot="10:30")
    book_http(c, slot="11:00", phone="13900002222")
    clock.set(datetime(2026, 11, 23, 11, 20, tzinfo=TZ))
    missed = c.app.state.appointments.sweep()
    assert [a.slot_start for a in missed] == ["10:30"]
    assert c.app.state.appointments.sweep() == []  # once only
    events = [e for e in c.get("/api/events").json()["events"] if e["type"] == "appointment.no_show"]
    assert len(events) == 1 and "phone_hash" not in events[0]["data"]["appointment"]
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=TZ))
    r = c.post("/api/appointments", json={"service_id": "S1", "date": "2026-11-24", "slot": "10:00", "name": "张三",
                                          "phone": "13800001111"}, headers=AS_PLATFORM)
    assert r.status_code == 201  # one no-show is not yet a ban
    clock.set(datetime(2026, 11, 24, 11, 0, tzinfo=TZ))
    c.app.state.appointments.sweep()
    r = c.post("/api/appointments", json={"service_id": "S1", "date": "2026-11-25", "slot": "10:00", "name": "张三",
                                          "phone": "13800001111"}, headers=AS_PLATFORM)
    assert r.status_code == 403 and r.json()["error"] == "booking_suspended" and "暂停预约" in r.json()["message"]


def test_cancel_needs_the_phone_or_staff_and_frees_the_slot(hall_app):
    c, _ = hall_app
    code = book_http(c, slot="14:00")["code"]
    assert c.post(f"/api/appointments/{code}/cancel", json={"phone": "13911112222"}).status_code == 403
    r = c.post(f"/api/appointments/{code}/cancel", json={"phone": "13800001111"})
    assert r.status_code == 200 and r.json()["appointment"]["status"] == "cancelled"
    slots = c.get("/api/appointments/slots", params={"service_id": "S1", "date": "2026-11-23"}).json()["slots"]
    assert next(s for s in slots if s["start"] == "14:00")["available"] == 2
    cancelled = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code})
    assert cancelled.status_code == 409 and "已取消" in cancelled.json()["message"]


def test_who_may_book_which_channel(hall_app):
    c, _ = hall_app
    body = {"service_id": "S1", "date": "2026-11-23", "name": "张三", "phone": "13800001111"}

    def post(slot, channel, headers=None):
        return c.post("/api/appointments", json={**body, "slot": slot, "channel": channel, "phone": f"1380000{slot[:2]}{slot[3:]}"},
                      headers=headers or {})

    manager = c.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "pw"}).json()["token"]
    staff = c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).json()["token"]
    as_manager, as_staff = {"authorization": f"Bearer {manager}"}, {"authorization": f"Bearer {staff}"}
    # 网上预约: the platform's key only — not anonymous, not a wrong key, not staff
    assert post("10:30", "online").status_code == 401
    assert post("10:30", "online", {"authorization": "Bearer not-the-platform-key"}).status_code == 401
    assert post("10:30", "online", as_staff).status_code == 403
    r = post("10:30", "online", AS_PLATFORM)
    assert r.status_code == 201 and r.json()["appointment"]["booked_by"] == "platform"
    assert post("11:00", "online", AS_PLATFORM).status_code == 201  # the verified key is remembered
    # 电话 / 当面: signed-in staff or managers, not anonymous, not the platform
    r = post("14:00", "电话")
    assert r.status_code == 401 and "工作人员" in r.json()["message"]
    assert post("14:00", "当面", AS_PLATFORM).status_code == 403
    assert post("14:00", "电话", as_staff).json()["appointment"]["booked_by"] == "S001"
    assert post("14:30", "当面", as_manager).json()["appointment"]["channel"] == "in_person"


def test_without_a_platform_key_no_online_booking_is_accepted(hall_app):
    c, svc = hall_app
    svc.config.sections["appointments"] = replace(SETTINGS, platform_key_hash="")
    r = c.post("/api/appointments", json={"service_id": "S1", "date": "2026-11-23", "slot": "10:30", "name": "张三",
                                          "phone": "13800001111"}, headers=AS_PLATFORM)
    assert r.status_code == 401


def test_platform_key_config():
    def parse(**kw):
        return appointment_settings.parse(Table("hall.toml", "appointments", kw, (), check=False), HALL)

    assert parse().platform_key_hash == ""
    assert verify_secret(PLATFORM_KEY, parse(platform_key=PLATFORM_KEY).platform_key_hash)
    hashed = hash_secret(PLATFORM_KEY, iterations=1000)
    assert parse(platform_key_hash=hashed).platform_key_hash == hashed
    for bad in ({"platform_key": "short"}, {"platform_key_hash": "nope"},
                {"platform_key": PLATFORM_KEY, "platform_key_hash": hashed}):
        with pytest.raises(ConfigError):
            parse(**bad)


def test_csv_import_by_a_manager(hall_app):
    c, _ = hall_app
    csv_text = ("service_id,date,slot,name,phone,id_number,channel\n"
                "S1,2026-11-23,14:00,李四,13700001111,,电话\n"
                "S1,2026-11-23,14:00,王五,13700002222,,当面\n"
                "S1,2026-11-23,14:00,赵六,13700003333,,网上\n"  # the slot holds two
                "S9,2026-11-23,14:00,钱七,13700004444,,网上\n")
    assert c.post("/api/appointments/import", content=csv_text.encode()).status_code == 401
    token = c.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "pw"}).json()["token"]
    r = c.post("/api/appointments/import", content=csv_text.encode("gb18030"),
               headers={"authorization": f"Bearer {token}", "content-type": "text/csv"})
    body = r.json()
    assert r.status_code == 200 and body["imported"] == 2 and body["failed"] == 2
    assert [(e["line"], e["error"]) for e in body["errors"]] == [(4, "slot_full"), (5, "unknown_service")]
    events = c.get("/api/events").json()["events"]
    assert {e["data"]["by"] for e in events if e["type"] in ("appointment.booked", "appointment.imported")} == {"manager"}
    listing = c.get("/api/appointments", params={"date": "2026-11-23"}, headers={"authorization": f"Bearer {token}"})
    assert [a["name"] for a in listing.json()["appointments"]] == ["李*", "王*"]


def test_an_oversized_csv_is_refused_before_anything_is_booked(hall_app, monkeypatch):
    c, svc = hall_app
    monkeypatch.setattr(appointment_service, "IMPORT_MAX_ROWS", 2)
    token = c.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "pw"}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    rows = [f"S1,2026-11-23,{slot},李四,1370000{n:04d},,电话,extra-cell" for n, slot in enumerate(("14:00", "14:30", "15:00"))]
    r = c.post("/api/appointments/import", content=("service_id,date,slot,name,phone,id_number,channel\n"
                                                     + "\n".join(rows) + "\n\n").encode(), headers=auth)
    assert r.status_code == 413 and r.json()["error"] == "csv_too_large" and "3 条" in r.json()["message"]
    assert svc.ledger.query("SELECT COUNT(*) FROM appointments")[0][0] == 0
    assert not [e for e in c.get("/api/events").json()["events"] if e["type"].startswith("appointment.")]
    r = c.post("/api/appointments/import", content=("service_id,date,slot,name,phone,id_number,channel\n"
                                                     + "\n".join(rows[:2]) + "\n").encode(), headers=auth)
    assert r.status_code == 200 and r.json()["imported"] == 2 and len({b["code"] for b in r.json()["booked"]}) == 2


def test_capacity_per_date_and_weekday_overrides():
    s = replace(SETTINGS, overrides=(
        rules.CapacityOverride(5, weekday=1),  # Mondays: 5 a slot for every service
        rules.CapacityOverride(0, weekday=1, service_id="S2"),  # … but S2 takes none on Mondays
        rules.CapacityOverride(1, date="2026-11-30"),  # this one Monday: 1 a slot
        rules.CapacityOverride(3, date="2026-11-30", service_id="S1"),  # … and 3 for S1
    ))
    cap = {d: s.capacity_on("S1", date.fromisoformat(d)) for d in ("2026-11-23", "2026-11-24", "2026-11-30")}
    assert cap == {"2026-11-23": 5, "2026-11-24": 2, "2026-11-30": 3}
    assert s.capacity_on("B1", date(2026, 11, 30)) == 1 and s.capacity_on("S2", date(2026, 11, 23)) == 0
    assert s.capacity_on("O1", date(2026, 11, 24)) == 1  # the service's own capacity on other days
    assert {x.capacity for x in rules.slots(HALL.service("S1"), HALL, s, date(2026, 11, 23))} == {5}
    assert rules.slots(HALL.service("S2"), HALL, s, date(2026, 11, 23)) == []
    with pytest.raises(HallError) as closed:
        booked(request(service="S2"), [], history=[], settings_=s)
    assert closed.value.code == "not_bookable" and "11月23日不提供预约" in closed.value.message
    existing: list[rules.Appointment] = []
    for n in range(5):
        existing.append(booked(request(phone=f"1380000000{n}"), existing, history=[], settings_=s))
    with pytest.raises(HallError) as full:
        booked(request(phone="13800000009"), existing, history=[], settings_=s)
    assert full.value.code == "slot_full"


def test_capacity_overrides_config():
    def parse(*days):
        return appointment_settings.parse(Table("hall.toml", "appointments", {"days": list(days)}, (), check=False), HALL)

    got = parse({"weekday": 5, "capacity": 1}, {"date": "2026-12-31", "service": "S1", "capacity": 0}).overrides
    assert got == (rules.CapacityOverride(1, weekday=5), rules.CapacityOverride(0, date="2026-12-31", service_id="S1"))
    for bad in ({"capacity": 1}, {"weekday": 8, "capacity": 1}, {"date": "2026-13-01", "capacity": 1},
                {"date": "2026-12-01", "weekday": 1, "capacity": 1}, {"weekday": 1, "service": "nope", "capacity": 1}):
        with pytest.raises(ConfigError):
            parse(bad)


def test_a_refused_late_arrival_is_recorded_late_not_as_a_no_show(hall_app, clock):
    c, svc = hall_app
    svc.config.sections["appointments"] = replace(SETTINGS, late=Late.REFUSE)
    code = book_http(c, slot="10:30")["code"]
    clock.set(datetime(2026, 11, 23, 10, 50, tzinfo=TZ))
    for _ in range(2):  # a second try is refused the same way and recorded once
        r = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code})
        assert r.status_code == 409 and r.json()["error"] == "check_in_late"
    a = c.app.state.appointments.by_code(code)
    assert a.status == Status.REFUSED_LATE and a.late and a.checked_in_at.startswith("2026-11-23T10:50")
    clock.set(datetime(2026, 11, 23, 11, 30, tzinfo=TZ))
    assert c.app.state.appointments.sweep() == []
    types = [e["type"] for e in c.get("/api/events").json()["events"]]
    assert types.count("appointment.refused_late") == 1 and "appointment.no_show" not in types
    assert rules.suspended_until([a, replace(a, status=Status.NO_SHOW)], clock.now(), SETTINGS) is None


def test_staff_cancel_by_id_from_their_list(hall_app):
    c, _ = hall_app
    a = book_http(c, slot="14:00")["appointment"]
    assert c.post(f"/api/appointments/id/{a['id']}/cancel").status_code == 401  # citizens cancel by code and phone
    staff = c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).json()["token"]
    r = c.post(f"/api/appointments/id/{a['id']}/cancel", headers={"authorization": f"Bearer {staff}"})
    assert r.status_code == 200 and r.json()["appointment"]["status_name"] == "已取消"
    assert c.post("/api/appointments/id/nope/cancel", headers={"authorization": f"Bearer {staff}"}).status_code == 404


def test_bookings_still_to_come_go_ahead_in_the_wait_estimate(hall_app, clock):
    """A walk-in's estimate counts the appointment booked for 10:30: it will be checked in as a priority ticket
    and called before the walk-ins still waiting then (core/forecast.py, `HallService.expected`)."""
    c, svc = hall_app
    svc.execute(lambda now: svc.hall.sign_in("1", "S001", now))
    walk_ins = [svc.issue_ticket("S1", "kiosk") for _ in range(6)]  # 8-minute matters on one window
    before = svc.ticket(walk_ins[-1]["id"])["estimated_wait_s"]
    assert before > 30 * 60  # called after 10:30
    book_http(c, slot="10:30")
    clock.advance(seconds=3)  # screens read the bookings and the forecast again once they are 2 s old
    after = svc.ticket(walk_ins[-1]["id"])["estimated_wait_s"]
    assert after > before - 3
