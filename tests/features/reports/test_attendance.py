"""Attendance edge cases (考勤): late, early, absent, stand-in, across lunch, forgotten sign-out."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hall_controller.features.day.rules import DaySettings
from hall_controller.features.reports.attendance import attendance
from tests.factory import TZ, small_hall

CFG = small_hall()
SETTINGS = DaySettings(late_grace_minutes=5, early_grace_minutes=0, absent_after_minutes=60)
EVENING = datetime(2026, 11, 23, 20, 0, tzinfo=TZ)  # Monday evening: the whole day can be judged


def t(hh, mm, d=23):
    return datetime(2026, 11, d, hh, mm, tzinfo=TZ).isoformat()


def signed_in(at, staff, window="1", standin=False):
    return {"type": "staff.signed_in", "at": at, "data": {"staff_id": staff, "window_id": window, "standin": standin}}


def signed_out(at, staff, reason="sign_out"):
    return {"type": "staff.signed_out", "at": at, "data": {"staff_id": staff, "reason": reason}}


def staff_row(events, staff, now=EVENING):
    report = attendance(events, CFG, SETTINGS, date(2026, 11, 23), date(2026, 11, 24), now)
    return next(s for s in report["staff"] if s["staff_id"] == staff)


def test_on_time_across_lunch_counts_both_sessions():
    row = staff_row([signed_in(t(8, 25), "S001"), signed_out(t(17, 35), "S001")], "S001")
    assert [m["status"] for m in row["marks"]] == ["on_time", "on_time"]
    assert (row["late"], row["early"], row["absent_sessions"], row["days_present"]) == (0, 0, 0, 1)
    assert row["worked_hours"] == pytest.approx(9.08, abs=0.01)  # 08:25–17:30 (counted to the closing time)


def test_late_within_and_beyond_grace():
    assert staff_row([signed_in(t(8, 34), "S001")], "S001")["late"] == 0  # 4 min: within the 5-minute grace
    row = staff_row([signed_in(t(8, 50), "S001"), signed_out(t(17, 30), "S001")], "S001")
    assert row["late"] == 1 and row["late_minutes"] == 20


def test_an_hour_late_is_absent_for_the_session():
    row = staff_row([signed_in(t(9, 30), "S001"), signed_out(t(17, 30), "S001")], "S001")
    assert row["absent_sessions"] == 1 and row["late"] == 0
    assert [m["status"] for m in row["marks"]] == ["absent", "on_time"]


def test_early_sign_out_and_no_afternoon():
    row = staff_row([signed_in(t(8, 30), "S001"), signed_out(t(11, 40), "S001")], "S001")
    assert row["early"] == 1 and row["early_minutes"] == 20
    assert row["absent_sessions"] == 1  # never came back after lunch


def test_absent_all_day_and_sessions_not_yet_due():
    assert staff_row([], "S002")["absent_sessions"] == 2
    morning = staff_row([], "S002", now=datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
    assert [m["status"] for m in morning["marks"]] == ["pending"]  # not absent before 60 minutes have passed


def test_stand_in_is_recorded_and_takeover_ends_the_regular_staff_session():
    events = [signed_in(t(8, 30), "S001"), signed_out(t(14, 50), "S001", reason="takeover"),
              signed_in(t(14, 50), "S003", window="1", standin=True), signed_out(t(17, 30), "S003")]
    s1, s3 = staff_row(events, "S001"), staff_row(events, "S003")
    assert s1["early"] == 1 and s1["early_minutes"] == 160
    assert s3["standin_sign_ins"] == 1 and s3["marks"][-1]["standin"] is True
    assert s3["absent_sessions"] == 1 and s3["late"] == 1  # the stand-in's own day: absent a.m., late p.m.


def test_forgotten_sign_out_is_flagged_not_early():
    events = [signed_in(t(8, 30), "S001"), signed_out(t(8, 30, d=24), "S001", reason="forgotten")]
    row = staff_row(events, "S001")
    assert row["forgotten_sign_outs"] == 1 and row["early"] == 0
    assert row["worked_hours"] == pytest.approx(9.0)  # counted to the closing time, not to the next morning
    still_open = staff_row([signed_in(t(8, 30), "S001")], "S001", now=datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    assert still_open["forgotten_sign_outs"] == 1


def test_sign_out_for_lunch_and_back_on_time():
    events = [signed_in(t(8, 28), "S001"), signed_out(t(12, 0), "S001"), signed_in(t(13, 58), "S001"),
              signed_out(t(17, 31), "S001")]
    row = staff_row(events, "S001")
    assert [m["status"] for m in row["marks"]] == ["on_time", "on_time"] and row["early"] == 0


def test_no_absence_before_the_ledger_has_data():
    """A month the system started in: the working days before its first day are not judged."""
    month = attendance([signed_in(t(8, 30), "S001"), signed_out(t(17, 30), "S001")], CFG, SETTINGS,
                       date(2026, 11, 1), date(2026, 12, 1), EVENING, since=date(2026, 11, 23))
    rows = {s["staff_id"]: s for s in month["staff"]}
    assert month["counted_from"] == "2026-11-23"
    assert rows["S001"]["absent_sessions"] == 0 and rows["S001"]["days_present"] == 1
    assert rows["S002"]["absent_sessions"] == 2  # on the roster that day, never came
    assert {m["day"] for m in rows["S002"]["marks"]} == {"2026-11-23"}
    everything = attendance([], CFG, SETTINGS, date(2026, 11, 1), date(2026, 12, 1), EVENING)
    assert everything["counted_from"] == "2026-11-01"
    assert next(s for s in everything["staff"] if s["staff_id"] == "S002")["absent_sessions"] == 32  # 16 working days
    later = attendance([], CFG, SETTINGS, date(2026, 11, 1), date(2026, 12, 1), EVENING, since=date(2026, 12, 5))
    assert all(s["marks"] == [] for s in later["staff"])
