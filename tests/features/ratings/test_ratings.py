"""好差评: ratings, the bad-review case workflow with working-day deadlines, overdue alerts, complaints."""

from __future__ import annotations

import time as systime
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.app import open_ledger
from hall_controller.core.calendar import (
    add_working_days,
    is_working_day,
    working_days_between,
)
from hall_controller.core.clock import ManualClock
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.manager.service import Feed
from hall_controller.features.platform.feature import feature as platform_f
from hall_controller.features.ratings import case_rules
from hall_controller.features.ratings import service as ratings
from hall_controller.features.ratings.feature import feature as ratings_f
from hall_controller.features.ratings.rules import RatingRules
from hall_controller.http.app import create_app
from tests.factory import TZ, small_hall

HOURS = small_hall().hours  # holiday 2026-12-25 (Fri), 调休 workday 2026-11-28 (Sat)


def at(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=TZ)


def served(svc: HallService, clock: ManualClock, window: str = "1", staff: str = "S001") -> dict:
    """Issue, call and finish one ticket at a window; returns the ticket with its token."""
    t = svc.issue_ticket("S1", "kiosk")
    if svc.hall.windows[window].staff_id != staff:
        svc.sign_in(window, staff, "1234")
    svc.window_command(window, "call-next")
    clock.advance(minutes=5)
    svc.window_command(window, "finish")
    return t


def events(svc: HallService, prefix: str) -> list[dict]:
    return [e for e in svc.ledger.events_since(0, 10_000) if e["type"].startswith(prefix)]


@pytest.fixture
def app_client(service):
    app = create_app(service, [ratings_f, platform_f])
    with TestClient(app) as c:
        yield c


def manager(client: TestClient) -> dict:
    r = client.post("/api/manager/sign-in", json={"manager_id": "m1", "password": "secret-1"})
    return {"authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def service(tmp_path, clock):
    from hall_controller.core.passwords import hash_secret
    from hall_controller.core.settings import Manager

    cfg = replace(small_hall(), managers=(Manager("m1", "督查员", "manager", hash_secret("secret-1", iterations=1000)),))
    svc = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    yield svc
    svc.ledger.close()


# ---------------------------------------------------------------------- ratings


def test_good_rating_is_stored_with_live_figures_and_opens_no_case(service, clock):
    t = served(service, clock)
    r = ratings.record_rating(service, t["id"], 1, "pad")
    assert (r["level"], r["label"], r["bad"], r["window_id"], r["staff_id"]) == (1, "非常满意", False, "1", "S001")
    [e] = events(service, "rating.")
    assert e["data"]["satisfaction"]["window"]["count"] == 1
    assert e["data"]["satisfaction"]["staff"]["satisfied_rate"] == 1.0
    assert not events(service, "case.")


def test_bad_pad_rating_opens_a_case_in_the_same_transaction(service, clock):
    t = served(service, clock)
    seq = service.ledger.last_seq
    r = ratings.record_rating(service, t["id"], 4, "pad", ["attitude", "wait"], comment="态度冷淡")
    new = service.ledger.events_since(seq)
    assert [e["type"] for e in new] == ["rating.recorded", "case.opened"]
    assert new[0]["data"]["reasons"] == ["attitude", "wait"] and new[0]["data"]["bad"] is True
    [case] = ratings.list_cases(service)
    assert (case["rating_id"], case["state"], case["staff_id"]) == (r["id"], "pending", "S001")


def test_one_rating_per_ticket_and_only_after_service(service, clock):
    t = service.issue_ticket("S1", "kiosk")
    with pytest.raises(HallError) as e:
        ratings.record_rating(service, t["id"], 1, "pad")
    assert (e.value.code, e.value.status) == ("not_served", 409)
    service.cancel(t["id"], by="S001")
    t = served(service, clock)
    ratings.record_rating(service, t["id"], 2, "pad")
    for channel in ("pad", "kiosk", "mobile"):
        with pytest.raises(HallError) as e:
            ratings.record_rating(service, t["id"], 1, channel)
        assert (e.value.code, e.value.status) == ("already_rated", 409)


def test_late_online_rating_within_the_configured_period(service, clock):
    t = served(service, clock)
    clock.advance(days=2)
    with pytest.raises(HallError) as e:  # the pad is on site, the same day only
        ratings.record_rating(service, t["id"], 3, "pad")
    assert e.value.code == "rating_closed"
    assert ratings.record_rating(service, t["id"], 3, "mobile")["channel"] == "mobile"
    late = served(service, clock)
    clock.advance(days=7, minutes=1)
    with pytest.raises(HallError) as e:
        ratings.record_rating(service, late["id"], 3, "mobile")
    assert e.value.code == "rating_closed"


@pytest.mark.parametrize("level, channel, reasons, code", [
    (0, "pad", (), "invalid_level"), (6, "pad", (), "invalid_level"), (4, "sms", (), "invalid_channel"),
    (4, "pad", ("rude",), "invalid_reasons"), (2, "pad", ("attitude",), "invalid_reasons"),
    (5, "pad", ("wait", "wait"), "invalid_reasons"),
])
def test_invalid_ratings_are_refused(service, clock, level, channel, reasons, code):
    t = served(service, clock)
    with pytest.raises(HallError) as e:
        ratings.record_rating(service, t["id"], level, channel, reasons)
    assert e.value.code == code and e.value.status == 422
    assert not events(service, "rating.")


def test_api_rates_by_token_never_by_id_and_staff_cannot_rate(app_client, service, clock):
    t = served(service, clock)
    assert app_client.post("/api/ratings", json={"token": t["id"], "level": 1}).status_code == 404
    staff = service.sign_in("2", "S002", "1234")["token"]
    r = app_client.post("/api/ratings", json={"token": t["token"], "level": 1},
                        headers={"authorization": f"Bearer {staff}"})
    assert (r.status_code, r.json()["error"]) == (403, "staff_cannot_rate")
    r = app_client.post("/api/ratings", json={"token": t["token"], "level": 5, "channel": "kiosk",
                                              "reasons": ["slow"], "rater": "李四 13900000000"})
    assert r.status_code == 200 and r.json()["named"] is True and "rater" not in r.json()
    again = app_client.post("/api/ratings", json={"token": t["token"], "level": 1, "channel": "kiosk"})
    assert (again.status_code, again.json()["error"]) == (409, "already_rated")
    assert app_client.post("/api/ratings", json={"token": t["token"], "level": 9}).status_code == 422
    assert "rater" not in events(service, "rating.")[0]["data"]


def test_summary_per_service_window_and_staff_and_public_results(app_client, service, clock):
    for window, staff, level in (("1", "S001", 1), ("1", "S001", 5), ("2", "S002", 2)):
        ratings.record_rating(service, served(service, clock, window, staff)["id"], level, "pad")
    assert app_client.get("/api/ratings/summary").status_code == 401
    s = app_client.get("/api/ratings/summary?from=2026-11-01&to=2026-11-30", headers=manager(app_client)).json()
    assert s["total"]["count"] == 3 and s["total"]["bad"] == 1
    by_window = {w["id"]: w for w in s["window"]}
    assert by_window["1"]["satisfied_rate"] == 0.5 and by_window["2"]["satisfied_rate"] == 1.0
    assert {x["id"] for x in s["staff"]} == {"S001", "S002"}
    public = app_client.get("/api/results?from=2026-11-01&to=2026-11-30").json()
    assert "staff" not in public and public["total"]["count"] == 3
    html = app_client.get("/results?from=2026-11-01&to=2026-11-30").text
    assert "好差评结果公开" in html and "员工1" not in html and "S001" not in html
    assert app_client.get("/api/results?from=2026-12-01&to=2026-11-01").status_code == 422


# ---------------------------------------------------------------------- the case workflow


def test_case_walks_verification_appeal_rectification_and_reply_across_holiday_and_weekend(app_client, service, clock):
    clock.set(at("2026-12-24", "09:30"))  # Thursday; Fri 25th is a holiday
    t = served(service, clock)
    ratings.record_rating(service, t["id"], 5, "pad", ["attitude"], rater="王五 13700000000")
    [case] = ratings.list_cases(service)
    cid = case["case_id"]
    assert case["due_at"] == "2026-12-28T17:30:00+08:00"  # 1 working day: skips the holiday and the weekend
    assert app_client.post(f"/api/cases/{cid}/verify", json={"valid": True}).status_code == 401

    clock.set(at("2026-12-28", "09:00"))
    r = app_client.post(f"/api/cases/{cid}/verify", json={"valid": True, "note": "经调取录像属实"}, headers=manager(app_client))
    assert r.json()["state"] == "rectifying" and r.json()["due_at"] == "2027-01-04T17:30:00+08:00"

    other = service.sign_in("2", "S002", "1234")["token"]
    r = app_client.post(f"/api/cases/{cid}/appeal", json={"reason": "不是我"}, headers={"authorization": f"Bearer {other}"})
    assert r.status_code == 403
    own = service.sign_in("1", "S001", "1234")["token"]
    r = app_client.post(f"/api/cases/{cid}/appeal", json={"reason": "群众误按"}, headers={"authorization": f"Bearer {own}"})
    assert r.json()["state"] == "appealed" and r.json()["due_at"] == "2026-12-29T17:30:00+08:00"

    clock.set(at("2026-12-29", "11:00"))
    r = app_client.post(f"/api/cases/{cid}/appeal-decision", json={"upheld": False, "note": "录像显示态度生硬"}, headers=manager(app_client))
    assert r.json()["state"] == "rectifying" and r.json()["due_at"] == "2027-01-05T17:30:00+08:00"
    r = app_client.post(f"/api/cases/{cid}/appeal", json={"reason": "再申诉"}, headers=manager(app_client))
    assert (r.status_code, r.json()["error"]) == (409, "appeal_used")

    clock.set(at("2026-12-30", "15:00"))
    r = app_client.post(f"/api/cases/{cid}/rectify", json={"measures": "窗口服务规范再培训"}, headers=manager(app_client))
    assert r.json()["state"] == "replying" and r.json()["due_at"] == "2027-01-06T17:30:00+08:00"
    r = app_client.post(f"/api/cases/{cid}/close", json={"summary": "跳过回复"}, headers=manager(app_client))
    assert (r.status_code, r.json()["error"]) == (409, "invalid_case_state")  # 实名差评 100% 回复

    clock.set(at("2026-12-31", "10:00"))
    r = app_client.post(f"/api/cases/{cid}/reply", json={"method": "phone", "content": "已致歉并说明整改", "satisfied": True},
                        headers=manager(app_client))
    assert r.json()["state"] == "closing"
    r = app_client.post(f"/api/cases/{cid}/close", json={"summary": "办结"}, headers=manager(app_client))
    assert r.json()["state"] == "closed" and r.json()["due_at"] is None

    trail = [(e["type"], e["data"].get("by")) for e in events(service, "case.")]
    assert trail == [("case.opened", None), ("case.verified", "m1"), ("case.appealed", "S001"),
                     ("case.appeal_decided", "m1"), ("case.rectified", "m1"), ("case.replied", "m1"),
                     ("case.closed", "m1")]
    detail = app_client.get(f"/api/cases/{cid}", headers=manager(app_client)).json()
    assert detail["rating"]["rater"] == "王五 13700000000"  # the manager needs it for 回访
    assert [h["type"] for h in detail["history"]][-1] == "case.closed"


def test_invalid_verification_needs_a_reason_and_anonymous_case_skips_reply(app_client, service, clock):
    clock.set(at("2026-11-27", "10:00"))  # Friday; Saturday 28th is a 调休 workday
    ratings.record_rating(service, served(service, clock)["id"], 4, "pad")
    [case] = ratings.list_cases(service)
    assert case["due_at"] == "2026-11-28T17:30:00+08:00"
    cid = case["case_id"]
    r = app_client.post(f"/api/cases/{cid}/verify", json={"valid": False}, headers=manager(app_client))
    assert r.status_code == 422
    r = app_client.post(f"/api/cases/{cid}/verify", json={"valid": False, "reason": "misoperation"}, headers=manager(app_client))
    assert r.json()["state"] == "closing" and r.json()["valid"] is False


def test_overdue_case_alerts_once_and_is_listed(app_client, service, clock):
    ratings.record_rating(service, served(service, clock)["id"], 5, "pad")  # Monday: verify due Tuesday 17:30
    assert ratings.check_overdue(service) == []
    clock.set(at("2026-11-24", "17:31"))
    [alert] = ratings.check_overdue(service)
    assert alert["state"] == "pending" and alert["overdue"] is True
    assert ratings.check_overdue(service) == []  # once per missed deadline
    listed = app_client.get("/api/cases?overdue=1", headers=manager(app_client)).json()["cases"]
    assert [c["case_id"] for c in listed] == [alert["case_id"]]
    assert app_client.get("/api/cases?state=closed", headers=manager(app_client)).json()["cases"] == []
    # a new step has a new deadline, and missing it alerts again
    app_client.post(f"/api/cases/{alert['case_id']}/verify", json={"valid": True}, headers=manager(app_client))
    assert app_client.get("/api/cases?overdue=1", headers=manager(app_client)).json()["cases"] == []
    clock.set(at("2026-12-10"))
    assert [a["state"] for a in ratings.check_overdue(service)] == ["rectifying"]
    assert len(events(service, "case.overdue")) == 2


def test_an_overdue_case_still_alerts_on_a_board_started_days_later(service, clock):
    ratings.record_rating(service, served(service, clock)["id"], 5, "pad")
    clock.set(at("2026-11-24", "17:31"))
    [late] = ratings.check_overdue(service)
    clock.set(at("2026-11-27", "09:00"))  # a restart or a new day: the board's feed starts afresh
    feed = Feed()
    feed.refresh(service, clock.now())
    assert [(a.kind, a.subject["case_id"]) for a in feed.alerts(service, clock.now())] == [("overdue", late["case_id"])]


def test_the_watcher_task_raises_the_alert(service, clock):
    service.config.sections["ratings"] = RatingRules(check_seconds=0.02)
    app = create_app(service, [ratings_f, platform_f])
    with TestClient(app):
        rounds = app.state.overdue_rounds
        ratings.record_rating(service, served(service, clock)["id"], 5, "pad")
        clock.set(at("2026-11-25"))
        deadline = systime.monotonic() + 10
        while not events(service, "case.overdue"):  # each completed round is a look at the events
            assert rounds.wait_for(rounds.done + 1, max(0.0, deadline - systime.monotonic())), "no overdue alert"
        # "Only once" needs a round that began after the alert: the round running now may be the alert's own,
        # so wait for the one after it to complete too.
        assert rounds.wait_for(rounds.done + 2, 10), "the watcher stopped looking"
        assert len(events(service, "case.overdue")) == 1


# ---------------------------------------------------------------------- complaints


def test_complaints_from_any_channel_answered_within_working_days(app_client, service, clock):
    clock.set(at("2026-12-23", "16:00"))  # Wednesday
    r = app_client.post("/api/complaints", json={"channel": "mobile", "content": "取号机故障无人处理", "phone": "13600000000"})
    assert r.status_code == 200 and r.json()["due_at"] == "2026-12-29T17:30:00+08:00"  # 24, (25), 28, 29
    assert "phone" not in r.json()
    assert app_client.post("/api/complaints", json={"channel": "phone", "content": "x"}).status_code == 401
    phoned = app_client.post("/api/complaints", json={"channel": "phone", "content": "电话投诉窗口推诿", "complex": True,
                                                      "window_id": "3"}, headers=manager(app_client)).json()
    assert phoned["due_at"] == "2026-12-31T17:30:00+08:00" and phoned["by"] == "m1"
    cid = r.json()["complaint_id"]
    c = app_client.post(f"/api/complaints/{cid}/classify", json={"complex": True}, headers=manager(app_client)).json()
    assert c["due_at"] == "2026-12-31T17:30:00+08:00"
    clock.set(at("2027-01-04"))
    assert {a["complaint_id"] for a in ratings.check_overdue(service)} == {cid, phoned["complaint_id"]}
    a = app_client.post(f"/api/complaints/{cid}/answer", json={"answer": "已修复并致歉"}, headers=manager(app_client)).json()
    assert a["state"] == "answered"
    listed = app_client.get("/api/complaints?overdue=1", headers=manager(app_client)).json()["complaints"]
    assert [x["complaint_id"] for x in listed] == [phoned["complaint_id"]]
    assert [e["type"] for e in events(service, "complaint.")] == [
        "complaint.registered", "complaint.registered", "complaint.classified", "complaint.overdue",
        "complaint.overdue", "complaint.answered"]


# ---------------------------------------------------------------------- working days (property tests)

days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@given(days, st.integers(min_value=0, max_value=40))
@settings(max_examples=300, deadline=None)
def test_add_working_days_lands_on_the_nth_working_day(start, n):
    end = add_working_days(datetime.combine(start, datetime.min.time(), TZ), n, HOURS)
    assert working_days_between(start, end.date(), HOURS) == n
    if n:
        assert is_working_day(end.date(), HOURS)
    assert end.time().isoformat() == "17:30:00"


@given(days, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
@settings(max_examples=200, deadline=None)
def test_add_working_days_composes_and_is_monotonic(start, a, b):
    s = datetime.combine(start, datetime.min.time(), TZ)
    ab = add_working_days(add_working_days(s, a, HOURS), b, HOURS)
    assert ab == add_working_days(s, a + b, HOURS)  # deadlines chain: step after step adds up
    assert add_working_days(s, a, HOURS) <= add_working_days(s, a + b, HOURS)


@given(days, days)
@settings(deadline=None)
def test_working_days_between_counts_calendar_rules(a, b):
    n = working_days_between(a, b, HOURS)
    if b <= a:
        assert n == 0
    else:
        expected = sum(is_working_day(a + timedelta(days=i), HOURS) for i in range(1, (b - a).days + 1))
        assert n == expected


def test_calendar_honours_weekends_holidays_and_adjusted_workdays():
    assert not is_working_day(date(2026, 12, 25), HOURS)  # holiday on a Friday
    assert is_working_day(date(2026, 11, 28), HOURS)  # 调休 Saturday
    assert not is_working_day(date(2026, 11, 29), HOURS)
    assert case_rules.due("pending", at("2026-12-24"), RatingRules(), HOURS) == "2026-12-28T17:30:00+08:00"
