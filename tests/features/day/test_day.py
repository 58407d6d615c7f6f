"""The hall's day: lunch duty, closing policies, the day rollover, and the pure plan's invariants."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.core.settings import Window
from hall_controller.features.day import rules
from hall_controller.features.day import service as day
from hall_controller.features.day import settings as day_settings
from hall_controller.features.day.feature import feature as day_f
from tests.factory import MONDAY_10, small_hall

WINDOWS = (
    Window("1", 1, "1号综合窗口", "comprehensive", lunch_duty=True),
    Window("2", 2, "2号综合窗口", "comprehensive"),
)


def make(tmp_path, policy="close_out", at=MONDAY_10.replace(hour=8, minute=0)) -> tuple[HallService, ManualClock]:
    cfg = small_hall(windows=WINDOWS)
    cfg.sections["day"] = rules.DaySettings(closing_policy=policy)
    clock = ManualClock(at)
    return HallService(cfg, open_ledger(tmp_path / "hall.db"), clock), clock


def events(svc, type_):
    return [e for e in svc.ledger.events_since(0, 10_000) if e["type"] == type_]


def test_lunch_duty_only_duty_windows_call_others_finish_their_ticket(tmp_path):
    svc, clock = make(tmp_path, at=MONDAY_10.replace(hour=11, minute=50))
    svc.sign_in("1", "S001", "1234")
    svc.sign_in("2", "S002", "1234")
    for _ in range(3):
        svc.issue_ticket("S1", "kiosk")
    held = svc.window_command("2", "call-next")
    clock.set(MONDAY_10.replace(hour=12, minute=10))
    assert svc.window_command("2", "finish").id == held.id  # the ticket in hand is finished at noon
    with pytest.raises(HallError) as exc:
        svc.window_command("2", "call-next")
    assert exc.value.code == "lunch_break" and "值班" in exc.value.message
    assert svc.window_command("1", "call-next") is not None  # the duty window serves at noon
    clock.set(MONDAY_10.replace(hour=14, minute=0))
    assert svc.window_command("2", "call-next") is not None  # the afternoon session calls again


def test_day_steps_are_recorded_once_and_in_order(tmp_path):
    svc, clock = make(tmp_path)
    assert day.tick(svc) == []  # 08:00: before opening
    clock.set(MONDAY_10.replace(hour=8, minute=30))
    assert [s.kind for s in day.tick(svc)] == ["open"]
    assert day.tick(svc) == []
    clock.set(MONDAY_10.replace(hour=12, minute=5))
    assert [s.kind for s in day.tick(svc)] == ["lunch_started"]
    clock.set(MONDAY_10.replace(hour=14, minute=1))
    assert [s.kind for s in day.tick(svc)] == ["lunch_ended"]
    clock.set(MONDAY_10.replace(hour=17, minute=30))
    assert [s.kind for s in day.tick(svc)] == ["close"]
    assert day.tick(svc) == []
    kinds = [e["type"] for e in svc.ledger.events_since(0) if e["type"].startswith("day.")]
    assert kinds == ["day.opened", "day.lunch_started", "day.lunch_ended", "day.closed"]
    assert events(svc, "day.lunch_started")[0]["data"]["lunch_duty"]["windows"] == ["1"]


def test_close_out_policy_closes_out_each_waiting_ticket_with_a_reason(tmp_path):
    svc, clock = make(tmp_path, at=MONDAY_10.replace(hour=17))
    svc.sign_in("1", "S001", "1234")
    tickets = [svc.issue_ticket("S1", "kiosk") for _ in range(3)]
    held = svc.window_command("1", "call-next")
    clock.set(MONDAY_10.replace(hour=17, minute=30))
    day.tick(svc)
    closed = events(svc, "ticket.closed_out")
    assert [e["data"]["ticket"]["id"] for e in closed] == [t["id"] for t in tickets[1:]]
    assert all(e["data"]["reason"] == "closing_time" and e["data"]["reason_text"] for e in closed)
    assert svc.ticket(held.id)["status"] == "called"  # the ticket at the window is left to the staff
    summary = events(svc, "day.closed")[0]["data"]["summary"]
    assert summary["issued"] == 3 and summary["closed_out"] == 2 and summary["in_service"] == 1
    row = svc.ledger.query("SELECT policy, close_reason, summary FROM hall_days WHERE day = '2026-11-23'")[0]
    assert row[0] == "close_out" and row[1] == "closing_time" and '"closed_out": 2' in row[2]


def test_serve_remaining_keeps_tickets_callable_and_closes_when_done(tmp_path):
    svc, clock = make(tmp_path, policy="serve_remaining", at=MONDAY_10.replace(hour=17))
    svc.sign_in("1", "S001", "1234")
    svc.issue_ticket("S1", "kiosk")
    svc.issue_ticket("S1", "kiosk")
    day.tick(svc)
    clock.set(MONDAY_10.replace(hour=17, minute=40))
    assert day.tick(svc) == []  # 延时服务: still two to serve
    for _ in range(2):
        svc.window_command("1", "call-next")
        svc.window_command("1", "finish")
    assert [s.kind for s in day.tick(svc)] == ["close"]
    assert events(svc, "ticket.closed_out") == []
    assert events(svc, "day.closed")[0]["data"]["summary"]["served"] == 2


@pytest.mark.parametrize("policy", rules.CLOSING_POLICIES)
def test_rollover_restarts_numbers_and_loses_nothing(tmp_path, policy):
    svc, clock = make(tmp_path, policy=policy, at=MONDAY_10.replace(hour=16))
    svc.sign_in("1", "S001", "1234")
    left = [svc.issue_ticket("S1", "kiosk") for _ in range(2)]
    assert left[-1]["number"] == "A002"
    day.tick(svc)
    clock.set(MONDAY_10.replace(hour=18))
    day.tick(svc)  # close_out closes Monday now; serve_remaining keeps waiting for staff to serve them
    clock.set(MONDAY_10 + timedelta(days=1, hours=-1, minutes=-30))  # Tuesday 08:30; nobody served them
    steps = day.tick(svc)
    assert [s.kind for s in steps][-1] == "open"
    for t in left:
        history = svc.ledger.ticket_history(t["id"])
        assert history[-1]["type"] == "ticket.closed_out"  # recorded, never silently dropped
        assert svc.ticket(t["id"])["status"] == "cancelled"
    reasons = {e["data"]["reason"] for e in events(svc, "ticket.closed_out")}
    assert reasons == ({"closing_time"} if policy == "close_out" else {"day_ended"})
    assert svc.issue_ticket("S1", "kiosk")["number"] == "A001"  # the new day starts at 001
    assert not [t for t in svc.hall.waiting_tickets() if t.day < "2026-11-24"]
    # S001 never signed out on Monday: the opening signs the window out as forgotten.
    forgotten = [e for e in events(svc, "staff.signed_out") if e["data"]["reason"] == "forgotten"]
    assert [e["data"]["staff_id"] for e in forgotten] == ["S001"]
    assert svc.hall.windows["1"].staff_id is None


def test_a_restart_catches_up_without_repeating(tmp_path):
    svc, clock = make(tmp_path, at=MONDAY_10)
    svc.issue_ticket("S1", "kiosk")
    clock.set(MONDAY_10 + timedelta(days=1))
    kinds = [s.kind for s in day.tick(svc)]
    assert kinds == ["close", "open"]  # Monday closed (its waiting ticket closed out), Tuesday opened
    again = HallService(svc.config, svc.ledger, clock)
    assert day.tick(again) == []


def test_day_status_endpoint(tmp_path):
    from fastapi.testclient import TestClient

    from hall_controller.http.app import create_app

    svc, clock = make(tmp_path, at=MONDAY_10.replace(hour=12, minute=30))
    app = create_app(svc, [day_f])
    with TestClient(app) as c:
        body = c.get("/api/day").json()
    assert body["phase"] == "lunch_duty" and body["lunch_duty_windows"] == ["1"]
    assert body["record"]["opened_at"] and body["record"]["lunch_started_at"]  # the lifespan driver ran


def test_day_section_rejects_unknown_policy():
    from hall_controller.config_loader import ConfigError, Table

    with pytest.raises(ConfigError) as exc:
        day_settings.parse(Table("hall.toml", "day", {"closing_policy": "forget"}, (), check=False), small_hall())
    assert exc.value.key == "day.closing_policy" and "serve_remaining" in exc.value.reason


# ----------------------------------------------------------------------------- plan properties

CFG = small_hall()
START = MONDAY_10.replace(hour=0, minute=0) - timedelta(days=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=40),
       st.sampled_from(rules.CLOSING_POLICIES), st.sets(st.integers(0, 9), max_size=4))
def test_plan_steps_each_day_once_in_order_and_closes_every_past_day(gaps, policy, ticket_offsets):
    """Applying the plan at increasing times: each step at most once per day, open before lunch before
    close, and every earlier day with tickets is closed once its date is over."""
    settings_ = rules.DaySettings(closing_policy=policy)
    records: dict[str, rules.DayRecord] = {}
    ticket_days = {(START + timedelta(days=o)).date().isoformat() for o in ticket_offsets}
    waiting = {d: 1 for d in ticket_days}
    seen: list[tuple[str, str]] = []
    now = START
    for gap in gaps:
        now += timedelta(minutes=gap * 7)
        for step in rules.plan(now, records, waiting, waiting, ticket_days, CFG, settings_):
            assert (step.day, step.kind) not in seen
            seen.append((step.day, step.kind))
            rec = records.get(step.day, rules.DayRecord(step.day))
            field = {"open": "opened_at", "close": "closed_at"}.get(step.kind, f"{step.kind}_at")
            records[step.day] = replace(rec, **{field: now.isoformat()})
            if step.kind == "close":
                waiting.pop(step.day, None)
        assert rules.plan(now, records, waiting, waiting, ticket_days, CFG, settings_) == []
        for d in ticket_days:
            if d < now.date().isoformat():
                assert records[d].closed_at is not None
    order = {"open": 0, "lunch_started": 1, "lunch_ended": 2, "close": 3}
    for d in {d for d, _ in seen}:
        kinds = [k for dd, k in seen if dd == d]
        assert kinds == sorted(kinds, key=order.get)
