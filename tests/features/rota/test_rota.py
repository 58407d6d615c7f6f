"""排班 and 请销假: the pure rules (who is rostered, leave, B岗 limits), the API through the one write path, and
what uses them: attendance counts leave as leave, the B岗 sign-in limit, window hints, special service days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient

from hall_controller.app import open_ledger, parse_config
from hall_controller.config_loader import ConfigError
from hall_controller.core.calendar import issuing_open, periods_on, service_day
from hall_controller.core.clock import ManualClock
from hall_controller.core.errors import HallError
from hall_controller.core.passwords import hash_secret
from hall_controller.core.service import HallService
from hall_controller.core.settings import Manager, Period, ServiceDay
from hall_controller.features.day.service import status as day_status
from hall_controller.features.reports import service as reports_service
from hall_controller.features.rota import rules
from hall_controller.features.rota import service as rota
from hall_controller.features.rota.feature import feature as rota_f
from hall_controller.features.rota.rules import Duty, RotaSettings
from hall_controller.http.app import create_app
from tests.factory import MONDAY_10, TZ, small_hall

MONDAY = MONDAY_10.date()  # 2026-11-23; Saturday 2026-11-28 is a 调休 workday in the small hall


def leave(staff_id="S001", start="2026-11-24", end="2026-11-24", half="", state="approved", **kw):
    return {"id": "L1", "staff_id": staff_id, "type": "personal", "start": start, "end": end, "half": half,
            "state": state, "returned_on": None, **kw}


# ------------------------------------------------------------------------------------ pure rules


def test_standing_arrangement_without_a_rota_and_leave_taken_off():
    cfg = small_hall()
    tuesday = MONDAY + timedelta(days=1)
    on = rules.rostered(tuesday, None, [], cfg)
    assert set(on) == {"S001", "S002", "S003", "S004", "S009"} and on["S001"] == Duty("S001", "1", source="standing")
    assert rules.rostered(MONDAY + timedelta(days=6), None, [], cfg) == {}  # Sunday: nobody
    off = rules.rostered(tuesday, None, [leave(), leave("S002", half="am"), leave("S003", state="pending")], cfg)
    assert "S001" not in off and off["S002"].shift == "pm" and "S003" in off
    assert rules.expected_sessions(tuesday, off, cfg.hours)["S002"] == (1,)


def test_a_published_week_says_exactly_who_works():
    cfg = small_hall()
    week = {"entries": [{"day": "2026-11-24", "staff_id": "S003", "window_id": "1", "shift": "am", "lunch_duty": False}]}
    assert rules.rostered(MONDAY + timedelta(days=1), week, [], cfg) == {"S003": Duty("S003", "1", "am")}
    assert rules.rostered(MONDAY, week, [], cfg) == {}  # published week, nobody on Monday


def test_week_entries_are_checked():
    cfg = small_hall()
    ok = [{"day": "2026-11-24", "staff_id": "S003", "window_id": "2", "shift": "full", "lunch_duty": False}]
    assert rules.check_week(MONDAY, ok, cfg, []) == [("2026-11-24", Duty("S003", "2"))]
    bad = [
        ({"day": "2026-12-01", "staff_id": "S001", "window_id": "1"}, "invalid_rota"),  # another week
        ({"day": "2026-11-29", "staff_id": "S001", "window_id": "1"}, "day_closed"),  # Sunday
        ({"day": "2026-11-24", "staff_id": "S001", "window_id": "4"}, "not_assigned"),
        ({"day": "2026-11-24", "staff_id": "nobody", "window_id": "1"}, "unknown_staff"),
        ({"day": "2026-11-24", "staff_id": "S001", "window_id": "1", "shift": "night"}, "invalid_rota"),
        ({"day": "2026-11-24", "staff_id": "S001", "window_id": "1", "shift": "am", "lunch_duty": True}, "invalid_rota"),
    ]
    for entry, code in bad:
        with pytest.raises(HallError) as e:
            rules.check_week(MONDAY, [entry], cfg, [])
        assert e.value.code == code, entry
    with pytest.raises(HallError) as e:
        rules.check_week(MONDAY, [{"day": "2026-11-24", "staff_id": "S001", "window_id": "1"}], cfg, [leave()])
    assert e.value.code == "on_leave"
    # A half-day leave leaves the other half to roster.
    assert rules.check_week(MONDAY, [{"day": "2026-11-24", "staff_id": "S001", "window_id": "1", "shift": "pm"}],
                            cfg, [leave(half="am")])


def test_leave_requests_are_before_the_fact_for_staff():
    cfg, s = small_hall(), RotaSettings()
    now = MONDAY_10
    d = rules.request_leave("L1", "S001", "sick", "2026-11-24", "2026-11-25", "", "发烧", "S001", False, cfg, s, [], now)
    row = d.result
    assert row["state"] == "pending" and not row["late"] and d.events[0][0] == "leave.requested"
    assert "reason" not in d.events[0][1]  # the reason stays on the row and the manager's page
    with pytest.raises(HallError) as e:
        rules.request_leave("L2", "S001", "sick", "2026-11-20", "2026-11-20", "", "补", "S001", False, cfg, s, [], now)
    assert e.value.code == "leave_after_start"
    late = rules.request_leave("L2", "S001", "sick", "2026-11-20", "2026-11-20", "", "补登记", "boss", True, cfg, s, [], now)
    assert late.result["late"]
    with pytest.raises(HallError) as e:
        rules.request_leave("L3", "S001", "annual", "2026-11-25", "2026-11-26", "", "x", "S001", False, cfg, s, [row], now)
    assert e.value.code == "leave_overlaps"
    for args, code in ((("nope",), "invalid_leave_type"), (("sick", "2026-11-26", "2026-11-25"), "invalid_leave")):
        with pytest.raises(HallError) as e:
            rules.request_leave("L4", "S002", *args, *("2026-11-24", "2026-11-24")[len(args) - 1:], "", "x", "S002",
                                False, cfg, s, [], now)
        assert e.value.code == code
    approved = rules.decide_leave(row, True, "", "boss", s, now).result
    assert approved["state"] == "approved"
    with pytest.raises(HallError):
        rules.decide_leave(approved, False, "", "boss", s, now)
    back = rules.return_from_leave(approved, "2026-11-25", "boss", s, now.replace(day=25)).result
    assert back["state"] == "returned" and rules.covers(back, date(2026, 11, 24)) and not rules.covers(back, date(2026, 11, 25))


def test_standin_spell_counts_working_days_and_the_year():
    hours, s = small_hall().hours, RotaSettings()
    # Monday 2026-11-02 to Friday 2026-11-27, weekends skipped (Saturday the 28th is a 调休 workday).
    days = {d.isoformat() for d in (date(2026, 11, 2) + timedelta(days=i) for i in range(26)) if d.isoweekday() < 6}
    assert len(days) == 20
    count = rules.standin_count(date(2026, 11, 28), days, hours, s)
    assert (count.run, count.year, count.verdict) == (21, 21, "refuse")
    gap = days - {"2026-11-16"}  # one working day without a stand-in ends the spell
    assert rules.standin_count(date(2026, 11, 28), gap, hours, s).run == 10
    near = {d for d in days if d >= "2026-11-09"}  # 15 days, the next is the 16th: warn (3 before 20)
    assert rules.standin_count(date(2026, 11, 28), near, hours, s).verdict == "ok"
    near |= {"2026-11-06", "2026-11-05"}
    assert rules.standin_count(date(2026, 11, 28), near, hours, s).verdict == "warn"
    spread = {f"2026-{m:02d}-{d:02d}" for m in range(1, 11) for d in (5, 12, 19, 26) if
              date(2026, m, d).isoweekday() < 6 and date(2026, m, d).isoformat() not in hours.holidays}
    year = rules.standin_count(date(2026, 11, 30), spread, hours, s)
    assert year.run == 1 and (year.verdict == "refuse") == (year.year > 40)


# ------------------------------------------------------------------------------------ API and uses


def sign_in_manager(client: TestClient) -> None:
    r = client.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw-1"})
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"


@pytest.fixture
def hall(tmp_path):
    cfg = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", hash_secret("pw-1", iterations=1000)),))
    clock = ManualClock(MONDAY_10.replace(hour=8, minute=0))
    service = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    app = create_app(service, [rota_f])
    with TestClient(app) as client:
        sign_in_manager(client)
        yield client, service, clock
    service.ledger.close()


def test_publish_a_week_and_read_it_back(hall):
    client, service, _ = hall
    entries = [{"day": "2026-11-24", "staff_id": "S001", "window_id": "1", "lunch_duty": False},
               {"day": "2026-11-24", "staff_id": "S003", "window_id": "2", "shift": "am"},
               {"day": "2026-11-28", "staff_id": "S002", "window_id": "2"}]
    r = client.put("/api/rota/weeks/2026-11-23", json={"entries": entries, "note": "周六调休上班"})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []
    week = client.get("/api/rota?week=2026-11-25").json()
    assert week["published"] and week["week"] == "2026-11-23" and week["note"] == "周六调休上班"
    tuesday = next(d for d in week["days"] if d["day"] == "2026-11-24")
    assert {d["staff_id"] for d in tuesday["duties"]} == {"S001", "S003"}
    assert not next(d for d in week["days"] if d["day"] == "2026-11-29")["open"]
    assert set(rota.rostered_on(service, date(2026, 11, 24))) == {"S001", "S003"}
    assert client.put("/api/rota/weeks/2026-11-24", json={"entries": []}).json()["error"] == "invalid_rota"  # not a Monday
    assert client.put("/api/rota/weeks/2026-11-16", json={"entries": []}).json()["error"] == "rota_past"
    bad = client.put("/api/rota/weeks/2026-11-23", json={"entries": [{"day": "2026-11-24", "staff_id": "S001", "window_id": "9"}]})
    assert bad.status_code == 422 and bad.json()["error"] == "not_assigned"
    assert [e["type"] for e in service.ledger.events_since(0) if e["type"].startswith("rota.")] == ["rota.published"]
    assert TestClient(client.app).get("/api/rota").status_code == 401


def test_leave_flow_and_attendance_counts_leave_not_absence(hall):
    client, service, clock = hall
    staff = client.post("/api/windows/2/sign-in", json={"staff_id": "S002", "pin": "1234"}).json()["token"]
    own = client.post("/api/leaves", headers={"Authorization": f"Bearer {staff}"},
                      json={"type": "sick", "start": "2026-11-24", "end": "2026-11-24", "reason": "就医"})
    assert own.status_code == 200 and own.json()["staff_id"] == "S002" and own.json()["state"] == "pending"
    other = client.post("/api/leaves", headers={"Authorization": f"Bearer {staff}"},
                        json={"staff_id": "S001", "type": "sick", "start": "2026-11-24", "end": "2026-11-24", "reason": "x"})
    assert other.status_code == 403
    lid = own.json()["leave_id"]
    assert client.post(f"/api/leaves/{lid}/decision", json={"approve": True}).json()["state"] == "approved"
    # A manager registers leave for S004 (half a day today) and one already past (补登记, marked late).
    late = client.post("/api/leaves", json={"staff_id": "S004", "type": "personal", "start": "2026-11-23",
                                            "end": "2026-11-23", "half": "am", "reason": "家中有事"}).json()
    assert client.post(f"/api/leaves/{late['leave_id']}/decision", json={"approve": True}).status_code == 200
    past = client.post("/api/leaves", json={"staff_id": "S009", "type": "official", "start": "2026-11-20",
                                            "end": "2026-11-20", "reason": "外出勘察"}).json()
    assert past["late"] and past["type_name"] == "因公外出"
    listed = client.get("/api/leaves").json()["leaves"]
    assert {lv["leave_id"] for lv in listed} == {lid, late["leave_id"], past["leave_id"]} and listed[0]["reason"]
    # Tuesday: S002 is on leave, the others sign in on time; Wednesday evening the month is judged.
    clock.set(datetime(2026, 11, 24, 8, 25, tzinfo=TZ))
    service.window_command("2", "sign-out")
    for w, sid in (("1", "S001"), ("3", "S003"), ("4", "S004"), ("9", "S009")):
        service.sign_in(w, sid, "1234")
    clock.set(datetime(2026, 11, 24, 18, 0, tzinfo=TZ))
    report = reports_service.attendance_report(service, "2026-11")
    by = {s["staff_id"]: s for s in report["staff"]}
    tuesday = [m for m in by["S002"]["marks"] if m["day"] == "2026-11-24"]
    assert [m["status"] for m in tuesday] == ["leave", "leave"] and tuesday[0]["leave"] == "病假"
    assert by["S002"]["leave_sessions"] == 2
    monday = {m["session"]: m["status"] for m in by["S004"]["marks"] if m["day"] == "2026-11-23"}
    assert monday == {"上午": "leave", "下午": "absent"}
    sign_in_manager(client)  # the morning's sign-in has expired
    today = client.get("/api/rota/today").json()
    assert today["leave"] == [{"staff_id": "S002", "type_name": "病假", "half": ""}]


def test_a_published_rota_limits_who_is_expected(hall):
    client, service, clock = hall
    entries = [{"day": "2026-11-24", "staff_id": sid, "window_id": w} for sid, w in (("S001", "1"), ("S002", "2"))]
    assert client.put("/api/rota/weeks/2026-11-23", json={"entries": entries}).status_code == 200
    clock.set(datetime(2026, 11, 24, 8, 25, tzinfo=TZ))
    service.sign_in("1", "S001", "1234")
    service.sign_in("2", "S002", "1234")
    clock.set(datetime(2026, 11, 24, 18, 0, tzinfo=TZ))
    by = {s["staff_id"]: s for s in reports_service.attendance_report(service, "2026-11")["staff"]}
    assert by["S003"]["absent_sessions"] == 0 and by["S003"]["marks"] == []  # not rostered: not absent
    assert by["S001"]["days_present"] == 1


def test_standin_sign_in_is_refused_past_the_limit_and_warned_near_it(hall):
    client, service, clock = hall
    clock.set(datetime(2026, 11, 24, 8, 25, tzinfo=TZ))
    tuesday = date(2026, 11, 24)
    before = [d for d in (tuesday - timedelta(days=i) for i in range(1, 40)) if d.isoweekday() < 6][:19]
    service.write_rows([("standin_days", {"staff_id": "S003", "day": d.isoformat(), "window_id": "1", "at": "x"})
                        for d in before[:17]])
    service.sign_in("1", "S003", "1234")  # the 18th day of the spell: allowed, with a warning
    warnings = [e for e in service.ledger.events_since(0) if e["type"] == "rota.standin_warning"]
    assert warnings and warnings[0]["data"]["run_days"] == 18
    assert service.ledger.query("SELECT window_id FROM standin_days WHERE staff_id='S003' AND day='2026-11-24'")[0][0] == "1"
    service.window_command("1", "sign-out")
    service.sign_in("1", "S003", "1234")  # the same day again: counted once
    service.window_command("1", "sign-out")
    service.write_rows([("standin_days", {"staff_id": "S003", "day": d.isoformat(), "window_id": "1", "at": "x"})
                        for d in (date(2026, 11, 25), date(2026, 11, 26))])
    clock.set(datetime(2026, 11, 27, 8, 25, tzinfo=TZ))
    r = client.post("/api/windows/2/sign-in", json={"staff_id": "S003", "pin": "1234"})
    assert r.status_code == 403 and r.json()["error"] == "standin_limit" and "21" in r.json()["message"]
    assert client.post("/api/windows/3/sign-in", json={"staff_id": "S003", "pin": "1234"}).status_code == 200  # own window
    sign_in_manager(client)
    usage = {u["staff_id"]: u for u in client.get("/api/rota/standin").json()["staff"]}
    assert usage["S003"]["year_days"] == 20


def test_planned_standins_past_the_limit_are_refused(hall):
    client, service, clock = hall
    days = [d for d in (date(2026, 11, 20) - timedelta(days=i) for i in range(40)) if d.isoweekday() < 6][:19]
    service.write_rows([("standin_days", {"staff_id": "S003", "day": d.isoformat(), "window_id": "1", "at": "x"})
                        for d in days])
    entries = [{"day": d, "staff_id": "S003", "window_id": "1"} for d in ("2026-11-23", "2026-11-24")]
    r = client.put("/api/rota/weeks/2026-11-23", json={"entries": entries})
    assert r.status_code == 409 and r.json()["error"] == "standin_limit"
    r = client.put("/api/rota/weeks/2026-11-23", json={"entries": entries[:1]})
    assert r.status_code == 200 and r.json()["warnings"] and "20/20" in r.json()["warnings"][0]


def test_window_hints_follow_who_is_there_or_rostered(hall):
    client, service, clock = hall
    assert rota.hint_windows(service, ["1", "2", "3"]) == ["1", "2", "3"]  # standing arrangement: everyone
    client.put("/api/rota/weeks/2026-11-23", json={"entries": [{"day": "2026-11-23", "staff_id": "S002", "window_id": "2"}]})
    assert rota.hint_windows(service, ["1", "2", "3"]) == ["2"]
    service.sign_in("3", "S003", "1234")
    assert rota.hint_windows(service, ["1", "2", "3"]) == ["2", "3"]
    assert rota.hint_windows(service, ["1"]) == ["1"]  # nobody there: the hall's own list


def test_rota_page_is_served(hall):
    client, _, _ = hall
    r = client.get("/manage/rota")
    assert r.status_code == 200 and "排班与请销假" in r.text


# ------------------------------------------------------------------------------------ special service days


SATURDAY = date(2026, 11, 21)  # a plain Saturday in the small hall


def weekend_hall():
    cfg = small_hall()
    special = ServiceDay(SATURDAY.isoformat(), (Period(time(9), time(12)),), ("S1", "B1"), "周末延时服务")
    return replace(cfg, hours=replace(cfg.hours, service_days=(special,)))


def test_a_service_day_opens_its_sessions_for_its_services_only():
    cfg = weekend_hall()
    s1, s2 = cfg.service("S1"), cfg.service("S2")
    assert service_day(SATURDAY, cfg.hours).name == "周末延时服务"
    assert periods_on(s1, cfg.hours, SATURDAY) == (Period(time(9), time(12)),)
    assert periods_on(s2, cfg.hours, SATURDAY) == ()
    assert issuing_open(s1, cfg.hours, datetime(2026, 11, 21, 10, 0, tzinfo=TZ))
    assert not issuing_open(s1, cfg.hours, datetime(2026, 11, 21, 13, 0, tzinfo=TZ))


def test_appointments_can_be_booked_and_tickets_issued_on_a_service_day(tmp_path):
    from hall_controller.features.appointments import rules as appt
    cfg = weekend_hall()
    settings = appt.AppointmentSettings(identity_key="k")
    slots = appt.slots(cfg.service("S1"), cfg, settings, SATURDAY)
    assert [f"{s.start:%H:%M}" for s in slots] == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    req = appt.BookingRequest("S1", SATURDAY.isoformat(), "09:30", "张三", "13800138000", "online", "platform")
    booked = appt.book(req, "A1", "123456", datetime(2026, 11, 19, 10, 0, tzinfo=TZ), cfg, settings, [], [])
    assert booked.day == "2026-11-21"
    other = appt.BookingRequest("S2", SATURDAY.isoformat(), "09:30", "李四", "13800138001", "online", "platform")
    with pytest.raises(HallError) as e:
        appt.book(other, "A2", "123457", datetime(2026, 11, 19, 10, 0, tzinfo=TZ), cfg, settings, [], [])
    assert e.value.code == "hall_closed"
    clock = ManualClock(datetime(2026, 11, 21, 9, 5, tzinfo=TZ))
    service = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    assert day_status(service)["phase"] == "service_day" and day_status(service)["service_day"]["name"] == "周末延时服务"
    assert service.issue_ticket("S1", "kiosk")["number"] == "A001"
    with pytest.raises(HallError) as e:
        service.issue_ticket("S2", "kiosk")
    assert e.value.code == "issuing_closed"
    service.ledger.close()


CONFIG = """
[hall]
name = "测试"
timezone = "Asia/Shanghai"
[hall.hours]
sessions = [["08:30", "12:00"], ["14:00", "17:30"]]
holidays = ["2026-10-01"]
{extra}
[[categories]]
id = "social"
name = "社会事务"
[[services]]
id = "S1"
name = "户籍迁移"
category = "social"
prefix = "A"
minutes = 10
time_limit = "即办"
[[windows]]
number = 1
name = "1号窗口"
mode = "comprehensive"
"""


def test_service_days_in_the_config_are_checked():
    ok = parse_config(CONFIG.format(extra='[[hall.hours.service_days]]\ndate = "2026-10-01"\nsessions = [["09:00", "12:00"]]\n'
                                          'services = ["S1"]\nname = "国庆便民服务"'))
    assert ok.hours.service_days == (ServiceDay("2026-10-01", (Period(time(9), time(12)),), ("S1",), "国庆便民服务"),)
    for extra, key in (('date = "2026-10-02"\nsessions = [["09:00", "12:00"]]', "date"),  # a Friday: already open
                       ('date = "2026-10-03"\nsessions = [["09:00", "12:00"]]\nservices = ["X"]', "services[0]"),
                       ('date = "2026-10-03"', "sessions")):
        with pytest.raises(ConfigError) as e:
            parse_config(CONFIG.format(extra="[[hall.hours.service_days]]\n" + extra))
        assert e.value.key.startswith("hall.hours.service_days[0]") and e.value.key.endswith(key), e.value
