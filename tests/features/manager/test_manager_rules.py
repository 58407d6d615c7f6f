"""Pure KPI computations and alert rules of the manager board (no server, no clock)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hall_controller.config_loader import ConfigError, Table
from hall_controller.core.decision import Decision
from hall_controller.core.hall import Hall
from hall_controller.core.model import Ticket, TicketStatus
from hall_controller.features.manager.rules import (
    ManagerSettings,
    Signals,
    evaluate,
    fold_signals,
)
from hall_controller.features.manager.settings import parse
from hall_controller.features.reports import kpis
from tests.factory import MONDAY_10, small_hall

waits = st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=200)


def naive_p90(values: list[float]) -> float:
    """The smallest value v with at least 90 % of values ≤ v."""
    n = len(values)
    return min(v for v in values if sum(1 for x in values if x <= v) * 10 >= 9 * n)


@given(waits)
def test_p90_is_the_smallest_value_covering_ninety_percent(values):
    assert kpis.percentile(values, 90) == naive_p90(values)


@given(waits, st.floats(min_value=0, max_value=10_000))
def test_share_within_target_matches_a_naive_count(values, limit):
    expected = len([v for v in values if v <= limit]) / len(values)
    assert math.isclose(kpis.share_within(values, limit), expected)


def test_empty_figures_are_none_not_zero():
    assert kpis.percentile([], 90) is None
    assert kpis.share_within([], 900) is None
    k = kpis.day_kpis([], [], 900)
    assert k["avg_wait_s"] is None and k["no_show_rate"] is None and k["satisfaction"]["rate"] is None


def ticket(n: int, issued_min: float, status: TicketStatus = TicketStatus.WAITING, called_min: float | None = None,
           finished_min: float | None = None, category: str = "social", window: str | None = None) -> Ticket:
    at = lambda m: None if m is None else MONDAY_10 + timedelta(minutes=m)  # noqa: E731
    return Ticket(id=f"T{n}", day="2026-11-23", number=f"A{n:03d}", prefix="A", seq=n, service_id="S1",
                  category_id=category, channel="kiosk", priority=None, issued_at=at(issued_min),
                  queue_at=at(issued_min), token=f"tok{n}", status=status, window_id=window,
                  called_at=at(called_min), started_at=at(called_min), finished_at=at(finished_min))


def test_day_kpis_count_waits_services_no_shows_and_satisfaction():
    tickets = [
        ticket(1, 0, TicketStatus.FINISHED, called_min=10, finished_min=16, window="1"),
        ticket(2, 0, TicketStatus.FINISHED, called_min=20, finished_min=30, window="2"),
        ticket(3, 5, TicketStatus.NO_SHOW, called_min=35, window="1"),
        ticket(4, 6, TicketStatus.SERVING, called_min=36, window="2"),
        ticket(5, 7),
        ticket(6, 8, TicketStatus.CANCELLED, finished_min=9),
    ]
    ratings = [{"level": 1, "bad": False}, {"level": 2, "bad": False}, {"level": 5, "bad": True}, {"level": 4}]
    k = kpis.day_kpis(tickets, ratings, target_s=15 * 60)
    assert (k["issued"], k["served"], k["no_show"], k["cancelled"], k["waiting"], k["called"]) == (6, 2, 1, 1, 1, 4)
    assert k["avg_wait_s"] == (10 + 20 + 30 + 30) * 60 / 4
    assert k["p90_wait_s"] == 30 * 60
    assert k["within_target"] == 0.25
    assert k["no_show_rate"] == pytest.approx(1 / 3)
    assert k["avg_service_s"] == (6 + 10) * 60 / 2
    assert k["satisfaction"] == {"ratings": 4, "bad": 2, "rate": 0.5}  # level 4 without the flag counts bad
    assert kpis.window_counts(tickets)["1"] == {"served": 1, "no_show": 1, "avg_service_s": 360.0}
    assert kpis.satisfaction_by([{"level": 5, "window_id": "1", "bad": True}], "window_id")["1"]["rate"] == 0.0


def test_group_stats_per_category():
    now = MONDAY_10 + timedelta(minutes=40)
    tickets = [ticket(1, 0, TicketStatus.FINISHED, called_min=10, finished_min=20), ticket(2, 5), ticket(3, 30),
               ticket(4, 0, category="business")]
    stats = kpis.group_stats(tickets, "category_id", now)
    assert stats["social"] == {"waiting": 2, "longest_wait_s": 35 * 60, "avg_wait_s": 600.0, "served": 1, "issued": 3}
    assert stats["business"]["waiting"] == 1


def test_per_slot_counts_arrivals_and_services_per_half_hour():
    start = MONDAY_10
    tickets = [ticket(1, 0, TicketStatus.FINISHED, called_min=5, finished_min=31), ticket(2, 29), ticket(3, 30),
               ticket(4, -5)]  # issued before the chart starts: not drawn
    rows = kpis.per_slot(tickets, start, start + timedelta(hours=1))
    assert rows == [{"slot": "10:00", "arrivals": 2, "services": 0}, {"slot": "10:30", "arrivals": 1, "services": 1}]


@given(st.lists(st.tuples(st.integers(0, 180), st.sampled_from(sorted(kpis.QUEUE_DELTAS))), max_size=80),
       st.integers(1, 200))
def test_waiting_series_is_the_running_sum_of_queue_changes(changes, now_min):
    start = MONDAY_10
    now = start + timedelta(minutes=now_min)
    deltas = [(start + timedelta(minutes=m), kpis.QUEUE_DELTAS[t]) for m, t in changes]
    series = kpis.waiting_series(deltas, start, now)
    assert series[-1]["at"] == now.strftime("%H:%M")
    points = kpis.slots(start, now, kpis.WAITING_STEP_MINUTES) + [now]
    assert len(series) == len(points)
    for p, row in zip(points, series):
        assert row["waiting"] == max(0, sum(d for at, d in deltas if at <= p))


def test_rating_distribution_has_all_five_levels():
    dist = kpis.rating_distribution([{"level": 1}, {"level": 1}, {"level": 5}])
    assert [(d["name"], d["count"]) for d in dist] == [("非常满意", 2), ("满意", 0), ("基本满意", 0), ("不满意", 0),
                                                       ("非常不满意", 1)]


# ------------------------------------------------------------------------------------------ alert rules

SETTINGS = ManagerSettings(queue_alert=3, idle_alert_minutes=5, pause_alert_minutes=10)


def run(hall: Hall, d: Decision):
    hall.apply(d)
    return d.result


def issue(hall: Hall, service: str, at: datetime, n: int = 1) -> None:
    for i in range(n):
        run(hall, hall.issue(service, "kiosk", at, token=f"{service}-{at.timestamp()}-{i}"))


def staffed(config=None) -> Hall:
    hall = Hall(config or small_hall())
    run(hall, hall.sign_in("3", "S003", MONDAY_10))
    return hall


def kinds(alerts) -> set[tuple[str, str]]:
    return {(a.kind, a.key.split(":", 1)[1]) for a in alerts}


def test_paused_window_alerts_only_past_the_threshold_while_its_categories_wait_and_clears_on_resume():
    hall = staffed()
    run(hall, hall.pause("3", MONDAY_10, reason="取材料"))
    assert not evaluate(hall, MONDAY_10 + timedelta(minutes=30), SETTINGS, Signals())  # nobody waits for it
    issue(hall, "B1", MONDAY_10)  # business: window 3 (social, other) cannot serve it
    assert not evaluate(hall, MONDAY_10 + timedelta(minutes=30), SETTINGS, Signals())
    issue(hall, "S1", MONDAY_10)
    assert not evaluate(hall, MONDAY_10 + timedelta(minutes=9), SETTINGS, Signals())
    [alert] = evaluate(hall, MONDAY_10 + timedelta(minutes=10), SETTINGS, Signals())
    assert alert.kind == "window_paused" and alert.subject == {"window_id": "3", "waiting": 1}
    assert "取材料" in alert.detail and alert.since == MONDAY_10
    run(hall, hall.resume("3", MONDAY_10 + timedelta(minutes=11)))
    assert not evaluate(hall, MONDAY_10 + timedelta(minutes=12), SETTINGS, Signals())


def test_open_window_idle_while_people_wait_alerts_and_a_call_clears_it():
    hall = staffed()
    issue(hall, "S1", MONDAY_10)
    later = MONDAY_10 + timedelta(minutes=5)
    assert kinds(evaluate(hall, later, SETTINGS, Signals())) == {("window_idle", "3")}
    run(hall, hall.call_next("3", later))
    assert not evaluate(hall, later, SETTINGS, Signals())


def test_queue_threshold_and_maximum_wait():
    hall = Hall(small_hall(max_wait=30))
    issue(hall, "S1", MONDAY_10, n=2)
    assert not evaluate(hall, MONDAY_10, SETTINGS, Signals())
    issue(hall, "S2", MONDAY_10)
    assert kinds(evaluate(hall, MONDAY_10, SETTINGS, Signals())) == {("queue", "social")}
    late = MONDAY_10 + timedelta(minutes=31)
    alerts = evaluate(hall, late, SETTINGS, Signals())
    assert kinds(alerts) == {("queue", "social"), ("max_wait", "social")}
    assert alerts[0].kind == "max_wait" and "3 人等候超过 30 分钟" in alerts[0].detail  # danger first


def test_queue_and_maximum_wait_alerts_clear_as_the_queue_is_served():
    hall = staffed(small_hall(max_wait=30))
    issue(hall, "S1", MONDAY_10, n=3)
    late = MONDAY_10 + timedelta(minutes=31)
    assert {k for k, _ in kinds(evaluate(hall, late, SETTINGS, Signals()))} >= {"queue", "max_wait"}
    t = run(hall, hall.call_next("3", late))  # the longest waiter is called: two remain, under the threshold
    kinds_now = {k for k, _ in kinds(evaluate(hall, late, SETTINGS, Signals()))}
    assert "queue" not in kinds_now and "max_wait" in kinds_now
    for _ in range(2):
        run(hall, hall.finish("3", late))
        t = run(hall, hall.call_next("3", late))
    assert t is not None and not evaluate(hall, late, SETTINGS, Signals())


def test_a_condition_without_a_natural_start_keeps_the_start_it_was_first_seen_at():
    hall = Hall(small_hall())
    issue(hall, "S1", MONDAY_10, n=3)
    first = evaluate(hall, MONDAY_10, SETTINGS, Signals())
    again = evaluate(hall, MONDAY_10 + timedelta(minutes=3), SETTINGS, Signals(), {a.key: a.since for a in first})
    assert [a.id for a in again] == [a.id for a in first]


def event(seq: int, type_: str, minute: float, **data) -> dict:
    return {"seq": seq, "type": type_, "at": (MONDAY_10 + timedelta(minutes=minute)).isoformat(), "data": data}


def test_device_offline_and_printer_paper_alert_until_they_recover():
    hall = Hall(small_hall())
    now = MONDAY_10 + timedelta(minutes=10)
    events = [event(1, "device.offline", 0, device_id="bus1:3", kind="pad", window_id="3"),
              event(2, "printer.status", 1, printer_id="kiosk-1", paper="near_end", online=True),
              event(3, "device.offline", 2, device_id="bus1:3", kind="pad", window_id="3")]
    alerts = evaluate(hall, now, SETTINGS, fold_signals(events))
    assert kinds(alerts) == {("device_offline", "bus1:3"), ("paper", "kiosk-1:near_end")}
    offline = next(a for a in alerts if a.kind == "device_offline")
    assert offline.since == MONDAY_10 and "评价器" in offline.detail and "3号社会事务窗口" in offline.detail
    events += [event(4, "printer.status", 3, printer_id="kiosk-1", paper="out", online=True)]
    paper = next(a for a in evaluate(hall, now, SETTINGS, fold_signals(events)) if a.kind == "paper")
    assert paper.level == "danger" and "缺纸" in paper.title
    events += [event(5, "device.online", 4, device_id="bus1:3", kind="pad", window_id="3"),
               event(6, "printer.status", 5, printer_id="kiosk-1", paper="ok", online=True)]
    assert not evaluate(hall, now, SETTINGS, fold_signals(events))


def test_an_unknown_printer_status_clears_nothing_and_alerts_until_the_printer_answers():
    hall = Hall(small_hall())
    now = MONDAY_10 + timedelta(minutes=10)
    events = [event(1, "printer.status", 0, printer_id="P1", paper="out", online=True),
              event(2, "printer.status", 1, printer_id="P2", paper="unknown", online=False, error="无法连接打印机"),
              # both stop answering: an empty reply is no news, not "fine"
              event(3, "printer.status", 2, printer_id="P1", paper="unknown", online=None, error="打印机无应答，状态未知"),
              event(4, "printer.status", 3, printer_id="P2", paper="unknown", online=None, error="打印机无应答，状态未知")]
    alerts = evaluate(hall, now, SETTINGS, fold_signals(events))
    assert kinds(alerts) == {("paper", "P1:out"), ("device_offline", "P2"), ("printer_unknown", "P1"),
                             ("printer_unknown", "P2")}
    unknown = next(a for a in alerts if a.key == "printer_unknown:P1")
    assert unknown.title == "打印机状态未知" and "打印机无应答，状态未知" in unknown.detail
    assert unknown.since == MONDAY_10 + timedelta(minutes=2)
    events.append(event(5, "printer.status", 4, printer_id="P1", paper="unknown", online=None))
    again = next(a for a in evaluate(hall, now, SETTINGS, fold_signals(events)) if a.key == "printer_unknown:P1")
    assert again.since == unknown.since  # still the same episode
    events += [event(6, "printer.status", 5, printer_id="P1", paper="ok", online=True),
               event(7, "printer.status", 5, printer_id="P2", paper="ok", online=True)]
    assert not evaluate(hall, now, SETTINGS, fold_signals(events))


def test_an_overdue_case_or_complaint_alerts_until_done_or_given_a_new_deadline():
    hall = Hall(small_hall())
    due = (MONDAY_10 + timedelta(minutes=5)).isoformat()
    later = (MONDAY_10 + timedelta(days=3)).isoformat()
    case = dict(case_id="C1", number="A007", window_id="3", state="pending", state_label="待核实", due_at=due)
    complaint = dict(complaint_id="T1", window_id=None, state="open", state_label="待答复", due_at=due)
    now = MONDAY_10 + timedelta(minutes=10)
    events = [event(1, "case.overdue", 6, overdue=True, **case),
              event(2, "complaint.overdue", 6, overdue=True, **complaint)]
    alerts = evaluate(hall, now, SETTINGS, fold_signals(events))
    assert kinds(alerts) == {("overdue", "case:C1"), ("overdue", "complaint:T1")}
    case_alert = next(a for a in alerts if a.key == "overdue:case:C1")
    assert case_alert.level == "danger" and case_alert.title == "差评整改超期"
    assert "3号社会事务窗口" in case_alert.detail and "A007" in case_alert.detail and "待核实" in case_alert.detail
    assert case_alert.subject == {"case_id": "C1", "window_id": "3"}
    assert next(a for a in alerts if a.key == "overdue:complaint:T1").title == "投诉答复超期"

    # verified: the case's next step has a later deadline; the complaint is answered
    events += [event(3, "case.verified", 7, **{**case, "state": "rectifying", "due_at": later}),
               event(4, "complaint.answered", 7, **{**complaint, "state": "answered"})]
    assert not evaluate(hall, now, SETTINGS, fold_signals(events))
    # the new deadline passes too: a new episode
    late = MONDAY_10 + timedelta(days=4)
    events.append(event(5, "case.overdue", 60 * 24 * 3 + 1, **{**case, "state": "rectifying", "due_at": later}))
    [again] = evaluate(hall, late, SETTINGS, fold_signals(events))
    assert again.key == "overdue:case:C1" and again.id != case_alert.id
    events.append(event(6, "case.closed", 60 * 24 * 3 + 2, **{**case, "state": "closed", "due_at": None}))
    assert not evaluate(hall, late, SETTINGS, fold_signals(events))


def test_a_bad_review_alerts_until_acknowledged():
    hall = Hall(small_hall())
    events = [event(1, "rating.recorded", 0, level=1, bad=False, window_id="3", service_id="S1", staff_id="S003"),
              event(2, "rating.recorded", 1, level=5, bad=True, window_id="3", service_id="S1", staff_id="S003")]
    [alert] = evaluate(hall, MONDAY_10, SETTINGS, fold_signals(events))
    assert alert.kind == "bad_review" and "非常不满意" in alert.detail and "员工3" in alert.detail
    events.append(event(3, "manager.alert_acknowledged", 2, alert_id=alert.id, by="boss"))
    assert not evaluate(hall, MONDAY_10, SETTINGS, fold_signals(events))


def test_an_event_the_platform_refused_alerts_until_acknowledged():
    hall = Hall(small_hall())
    refused = {"seq": 42, "type": "rating.recorded", "status": 422, "error": "bad level"}
    events = [{"seq": 7, "type": "platform.rejected", "at": MONDAY_10.isoformat(), "data": refused}]
    [alert] = evaluate(hall, MONDAY_10, SETTINGS, fold_signals(events))
    assert alert.kind == "platform_rejected" and "rating.recorded" in alert.detail and "422" in alert.detail
    events.append(event(8, "manager.alert_acknowledged", 1, alert_id=alert.id, by="boss"))
    assert not evaluate(hall, MONDAY_10, SETTINGS, fold_signals(events))


def test_an_acknowledgement_covers_one_episode_of_a_lasting_condition():
    hall = staffed()
    issue(hall, "S1", MONDAY_10)
    run(hall, hall.pause("3", MONDAY_10))
    at = MONDAY_10 + timedelta(minutes=10)
    [alert] = evaluate(hall, at, SETTINGS, Signals())
    signals = fold_signals([event(1, "manager.alert_acknowledged", 10, alert_id=alert.id, by="boss")])
    [acked] = evaluate(hall, at, SETTINGS, signals)
    assert acked.acknowledged_by == "boss"  # still shown while it lasts, marked as taken up
    run(hall, hall.resume("3", at))
    run(hall, hall.pause("3", at + timedelta(minutes=1)))
    [fresh] = evaluate(hall, at + timedelta(minutes=11), SETTINGS, signals)
    assert fresh.acknowledged_by is None and fresh.id != alert.id


def test_tickets_bunched_on_one_source_or_person_alert_as_scalping_until_acknowledged():
    hall = Hall(small_hall())
    settings = ManagerSettings(issuing_burst=10, person_daily_tickets=5)
    for i in range(9):  # a busy kiosk: nine in a minute is not yet a burst
        run(hall, hall.issue("S1", "kiosk", MONDAY_10 + timedelta(seconds=6 * i), f"k1-{i}", source="kiosk:K1"))
    for i in range(30):  # another kiosk, steadily all morning
        run(hall, hall.issue("B1", "kiosk", MONDAY_10 + timedelta(minutes=2 * i), f"k2-{i}", source="kiosk:K2"))
    later = MONDAY_10 + timedelta(hours=1)
    assert not [a for a in evaluate(hall, later, settings, Signals()) if a.kind == "scalping"]
    run(hall, hall.issue("S1", "kiosk", MONDAY_10 + timedelta(seconds=58), "k1-9", source="kiosk:K1"))
    [alert] = [a for a in evaluate(hall, later, settings, Signals()) if a.kind == "scalping"]
    assert alert.since == MONDAY_10 and "取号机 K1" in alert.detail and alert.subject["source"] == "kiosk:K1"
    for i, service in enumerate(("S1", "S2", "B1", "O1", "S1")):  # one ID card, five numbers across services
        run(hall, hall.issue(service, "mobile", MONDAY_10 + timedelta(minutes=5 * i), f"p-{i}", holder="h" * 64,
                             source="platform"))
    found = [a for a in evaluate(hall, later, settings, Signals()) if a.kind == "scalping"]
    assert len(found) == 2 and any("同一证件今日取号 5 张" in a.detail for a in found)
    acknowledged = Signals(acknowledged={a.id: "m1" for a in found})
    assert all(a.acknowledged_by == "m1" for a in evaluate(hall, later, settings, acknowledged) if a.kind == "scalping")


def test_manager_section_defaults_and_errors_name_file_and_key():
    core = small_hall()
    assert parse(Table("hall.toml", "manager", {}, (), check=False), core) == ManagerSettings()
    assert parse(Table("hall.toml", "manager", {"pause_alert_minutes": 0}, (), check=False), core).pause_alert_minutes == 0
    with pytest.raises(ConfigError) as e:
        parse(Table("hall.toml", "manager", {"queue_alerts": 5}, (), check=False), core)
    assert (e.value.file, e.value.key) == ("hall.toml", "manager.queue_alerts") and "queue_alert" in e.value.reason
    with pytest.raises(ConfigError) as e:
        parse(Table("hall.toml", "manager", {"queue_alert": 0}, (), check=False), core)
    assert e.value.key == "manager.queue_alert"


def test_demo_hall_has_a_manager_section():
    from hall_controller.app import load_config
    from tests.conftest import DEMO_CONFIG

    settings = load_config(DEMO_CONFIG).section("manager")
    assert settings.queue_alert >= 1 and settings.pause_alert_minutes > 0
