"""The hall state machine: ticket lifecycle, windows, staff, outcomes — pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hall_controller.core.errors import HallError
from hall_controller.core.hall import PACE_PRIOR, Hall
from hall_controller.core.model import TicketStatus, WindowState
from hall_controller.core.settings import Window
from tests.factory import MONDAY_10, small_hall


def run(hall: Hall, decision):
    hall.apply(decision)
    return decision.result


def issue(hall: Hall, service="S1", at=MONDAY_10, **kw):
    return run(hall, hall.issue(service, "kiosk", at, token=f"t{len(hall.tickets)}", **kw))


def open_window(hall: Hall, wid: str, staff: str | None = None):
    return run(hall, hall.sign_in(wid, staff or f"S{int(wid):03d}", MONDAY_10))


@pytest.fixture
def hall() -> Hall:
    return Hall(small_hall())


def test_numbers_per_prefix_per_day(hall):
    assert [issue(hall, s).number for s in ("S1", "S2", "B1", "S1")] == ["A001", "A002", "B001", "A003"]
    tomorrow = MONDAY_10 + timedelta(days=1)
    assert issue(hall, "S1", at=tomorrow).number == "A001"
    assert issue(hall, "S1").number == "A004"  # today's sequence goes on, never reused


def test_request_id_is_idempotent(hall):
    a = issue(hall, request_id="tap-1")
    b = issue(hall, request_id="tap-1")
    assert a.id == b.id and len(hall.tickets) == 1
    assert hall.issue("S1", "kiosk", MONDAY_10, "x", request_id="tap-1").empty


def test_request_id_replayed_for_another_service_is_refused(hall):
    issue(hall, request_id="tap-1")
    with pytest.raises(HallError) as e:
        hall.issue("B1", "kiosk", MONDAY_10, "x", request_id="tap-1")
    assert e.value.code == "request_id_conflict" and e.value.status == 409 and "A001" in e.value.message


def test_issuing_rules(hall):
    with pytest.raises(HallError) as e:
        issue(hall, "nope")
    assert e.value.status == 404
    with pytest.raises(HallError) as e:
        issue(hall, "O1", at=MONDAY_10.replace(hour=14, minute=30))  # its own hours are 09:00–11:00
    assert e.value.code == "issuing_closed" and "09:00–11:00" in e.value.message
    with pytest.raises(HallError) as e:
        issue(hall, at=MONDAY_10.replace(day=22))  # Sunday
    assert e.value.code == "hall_closed"
    with pytest.raises(HallError):
        issue(hall, at=MONDAY_10.replace(month=12, day=25))  # configured holiday
    assert issue(hall, at=MONDAY_10.replace(day=28)).number == "A001"  # Saturday 调休 workday
    assert issue(hall, at=MONDAY_10.replace(hour=12, minute=30)).number  # lunch duty issues
    with pytest.raises(HallError) as e:
        issue(hall, at=MONDAY_10.replace(hour=18))
    assert e.value.code == "issuing_closed"
    issue(hall, "P1"), issue(hall, "P1")
    with pytest.raises(HallError) as e:
        issue(hall, "P1")
    assert e.value.code == "daily_cap_reached"
    with pytest.raises(HallError) as e:
        hall.issue("S1", "fax", MONDAY_10, "x")
    assert e.value.status == 422


def test_lifecycle_call_start_finish(hall):
    t = issue(hall)
    open_window(hall, "1")
    called = run(hall, hall.call_next("1", MONDAY_10 + timedelta(minutes=5)))
    assert called.id == t.id and called.status == TicketStatus.CALLED and called.window_id == "1"
    assert called.call_reason and hall.windows["1"].state == WindowState.SERVING
    with pytest.raises(HallError) as e:
        hall.call_next("1", MONDAY_10)
    assert e.value.code == "window_busy"
    assert run(hall, hall.start("1", MONDAY_10 + timedelta(minutes=6))).status == TicketStatus.SERVING
    with pytest.raises(HallError):
        hall.skip("1", MONDAY_10)  # a citizen being served is no no-show
    done = run(hall, hall.finish("1", MONDAY_10 + timedelta(minutes=16), "承诺件"))
    assert done.outcome == "promised" and done.status == TicketStatus.FINISHED
    assert hall.windows["1"].state == WindowState.OPEN and hall.windows["1"].ticket_id is None
    assert hall.recent_service_s["social"][-1] == (600, 8 * 60)  # actual and configured (户籍迁移, 8 min)
    with pytest.raises(HallError) as e:
        hall.finish("1", MONDAY_10)
    assert e.value.code == "no_current_ticket"
    assert hall.call_next("1", MONDAY_10).result is None  # nothing waits


def test_finish_rejects_unknown_outcome(hall):
    issue(hall), open_window(hall, "1"), run(hall, hall.call_next("1", MONDAY_10))
    with pytest.raises(HallError) as e:
        hall.finish("1", MONDAY_10, "whatever")
    assert e.value.status == 422


def test_recall_limit(hall):
    issue(hall), open_window(hall, "1"), run(hall, hall.call_next("1", MONDAY_10))
    for n in (1, 2, 3):
        assert run(hall, hall.recall("1", MONDAY_10)).recalls == n
    with pytest.raises(HallError) as e:
        hall.recall("1", MONDAY_10)
    assert e.value.code == "recall_limit"


def test_skip_and_late_rejoin_goes_n_places_back(hall):
    first = issue(hall)
    others = [issue(hall, at=MONDAY_10 + timedelta(minutes=i)) for i in range(1, 6)]
    open_window(hall, "3")
    run(hall, hall.call_next("3", MONDAY_10 + timedelta(minutes=10)))
    skipped = run(hall, hall.skip("3", MONDAY_10 + timedelta(minutes=11)))
    assert skipped.id == first.id and skipped.status == TicketStatus.NO_SHOW
    back = run(hall, hall.rejoin(first.id, MONDAY_10 + timedelta(minutes=20), "S003"))
    assert back.status == TicketStatus.WAITING and hall.ahead(back) == 3
    order = []
    for _ in range(6):
        t = run(hall, hall.call_next("3", MONDAY_10 + timedelta(minutes=21)))
        order.append(t.id)
        run(hall, hall.finish("3", MONDAY_10 + timedelta(minutes=22)))
    assert order == [others[0].id, others[1].id, others[2].id, first.id, others[3].id, others[4].id]
    with pytest.raises(HallError):
        hall.rejoin(first.id, MONDAY_10 + timedelta(minutes=30), "S003")


def test_rejoin_places_zero_puts_the_ticket_at_the_head(hall):
    hall = Hall(replace(small_hall(), queue=replace(small_hall().queue, rejoin_places=0)))
    first = issue(hall)
    others = [issue(hall, at=MONDAY_10 + timedelta(minutes=i)) for i in range(1, 5)]
    open_window(hall, "3")
    run(hall, hall.call_next("3", MONDAY_10 + timedelta(minutes=10)))
    run(hall, hall.skip("3", MONDAY_10 + timedelta(minutes=11)))
    back = run(hall, hall.rejoin(first.id, MONDAY_10 + timedelta(minutes=20), "S003"))
    assert hall.ahead(back) == 0 and all(hall.ahead(t) > 0 for t in others)
    assert run(hall, hall.call_next("3", MONDAY_10 + timedelta(minutes=21))).id == first.id


def test_cancel_and_rejoin_record_who(hall):
    t = issue(hall)
    d = hall.cancel(t.id, MONDAY_10, "S001")
    assert d.events[0] == ("ticket.cancelled", {**d.events[0][1], "by": "S001"})
    run(hall, d)
    late = issue(hall)
    open_window(hall, "1"), run(hall, hall.call_next("1", MONDAY_10)), run(hall, hall.skip("1", MONDAY_10))
    d = hall.rejoin(late.id, MONDAY_10 + timedelta(minutes=5), "S001")
    assert d.events[0][0] == "ticket.rejoined" and d.events[0][1]["by"] == "S001"


def test_rejoin_too_late(hall):
    t = issue(hall)
    open_window(hall, "1"), run(hall, hall.call_next("1", MONDAY_10)), run(hall, hall.skip("1", MONDAY_10))
    with pytest.raises(HallError) as e:
        hall.rejoin(t.id, MONDAY_10 + timedelta(minutes=31), "S001")
    assert e.value.code == "rejoin_expired"


def test_transfer_keeps_original_time_and_place(hall):
    early = issue(hall, "S1", at=MONDAY_10)
    later_business = [issue(hall, "B1", at=MONDAY_10 + timedelta(minutes=i)) for i in range(1, 4)]
    open_window(hall, "3"), open_window(hall, "4")
    run(hall, hall.call_next("3", MONDAY_10 + timedelta(minutes=5)))
    moved = run(hall, hall.transfer("3", MONDAY_10 + timedelta(minutes=8), category_id="business"))
    assert moved.status == TicketStatus.WAITING and moved.category_id == "business"
    assert moved.queue_at == early.issued_at and moved.transfers == 1
    assert run(hall, hall.call_next("4", MONDAY_10 + timedelta(minutes=9))).id == early.id  # 首问负责
    assert all(t.status == TicketStatus.WAITING for t in (hall.tickets[x.id] for x in later_business))


def test_transfer_to_window_only_that_window_calls_it(hall):
    t = issue(hall)
    open_window(hall, "1"), open_window(hall, "2")
    run(hall, hall.call_next("1", MONDAY_10))
    run(hall, hall.transfer("1", MONDAY_10, target_window_id="2"))
    assert hall.call_next("1", MONDAY_10).result is None
    assert run(hall, hall.call_next("2", MONDAY_10)).id == t.id
    with pytest.raises(HallError):
        hall.transfer("2", MONDAY_10, target_window_id="2")
    with pytest.raises(HallError):
        hall.transfer("2", MONDAY_10)


def test_transfer_only_to_a_window_that_can_take_it_now(hall):
    """A ticket sent to a window nobody staffs would wait there for nobody: unstaffed, paused and closed
    windows are refused, and the counter's list (`transfer_targets`) says which and why."""
    issue(hall)
    open_window(hall, "1"), open_window(hall, "2"), open_window(hall, "3")
    run(hall, hall.pause("3", MONDAY_10, "临时离开"))
    run(hall, hall.call_next("1", MONDAY_10))
    targets = {w["id"]: (w["ok"], w["why"]) for w in hall.transfer_targets("1")["windows"]}
    assert targets["2"] == (True, None) and targets["3"] == (False, "暂停服务中")
    assert targets["4"] == (False, "无人在岗") and "1" not in targets
    for window, code in (("4", "window_unstaffed"), ("3", "window_paused")):
        with pytest.raises(HallError) as e:
            hall.transfer("1", MONDAY_10, target_window_id=window)
        assert e.value.code == code and e.value.status == 409
    categories = {c["id"]: c for c in hall.transfer_targets("1")["categories"]}
    assert categories["social"]["ok"] and categories["business"]["ok"] is (categories["business"]["why"] is None)
    assert run(hall, hall.transfer("1", MONDAY_10, target_window_id="2")).target_window_id == "2"


def test_cancel_only_waiting(hall):
    t = issue(hall)
    assert run(hall, hall.cancel(t.id, MONDAY_10, "S001")).status == TicketStatus.CANCELLED
    with pytest.raises(HallError):
        hall.cancel(t.id, MONDAY_10, "S001")
    assert hall.ahead(issue(hall)) == 0


def test_window_states_pause_resume(hall):
    with pytest.raises(HallError) as e:
        hall.call_next("1", MONDAY_10)
    assert e.value.code == "not_signed_in"
    open_window(hall, "1")
    run(hall, hall.pause("1", MONDAY_10, "临时离开"))
    assert hall.windows["1"].state == WindowState.PAUSED
    issue(hall)
    with pytest.raises(HallError) as e:
        hall.call_next("1", MONDAY_10)
    assert e.value.code == "window_paused"
    run(hall, hall.resume("1", MONDAY_10))
    run(hall, hall.call_next("1", MONDAY_10))
    with pytest.raises(HallError):
        hall.pause("1", MONDAY_10)
    with pytest.raises(HallError):
        hall.sign_out("1", MONDAY_10)


def test_sign_in_rules_and_standin(hall):
    with pytest.raises(HallError) as e:
        hall.sign_in("2", "S001", MONDAY_10)  # not assigned to window 2
    assert e.value.status == 403
    open_window(hall, "1")
    with pytest.raises(HallError) as e:
        hall.sign_in("3", "S001", MONDAY_10)
    assert e.value.code in ("staff_elsewhere", "not_assigned")
    # S003 is the AB岗 stand-in for windows 1 and 2: it takes window 1 over.
    d = hall.sign_in("1", "S003", MONDAY_10 + timedelta(hours=1))
    assert [e for e, _ in d.events] == ["staff.signed_out", "staff.signed_in"]
    ws = run(hall, d)
    assert ws.staff_id == "S003" and ws.standin
    run(hall, hall.sign_out("1", MONDAY_10 + timedelta(hours=2)))
    assert hall.windows["1"].state == WindowState.SIGNED_OUT


def test_closed_window_and_manager_weights(hall):
    run(hall, hall.close_window("4", MONDAY_10, by="manager"))
    with pytest.raises(HallError):
        hall.sign_in("4", "S004", MONDAY_10)
    run(hall, hall.open_window("4", MONDAY_10, by="manager"))
    open_window(hall, "4")
    s = issue(hall, "S1")
    assert hall.call_next("4", MONDAY_10).result is None  # window 4 serves business only
    run(hall, hall.set_weights("4", {"business": 1, "social": 1}, MONDAY_10, by="manager"))
    assert run(hall, hall.call_next("4", MONDAY_10)).id == s.id
    with pytest.raises(HallError):
        hall.set_weights("4", {"nope": 1}, MONDAY_10, by="manager")
    with pytest.raises(HallError):
        hall.set_weights("4", {"social": -1}, MONDAY_10, by="manager")


def test_special_window_serves_only_its_services(hall):
    p = issue(hall, "P1")
    issue(hall, "S1")
    open_window(hall, "1"), open_window(hall, "9")
    assert run(hall, hall.call_next("1", MONDAY_10)).service_id == "S1"  # comprehensive skips 统一出件
    assert run(hall, hall.call_next("9", MONDAY_10)).id == p.id


def test_estimated_wait_uses_the_matters_minutes_at_the_live_pace(hall):
    open_window(hall, "1"), open_window(hall, "2")
    tickets = [issue(hall) for _ in range(5)]  # 户籍迁移, 8 minutes
    # Two idle windows take two of the four ahead; then the first completion, then the other two: about
    # 3 services / 2 (the median of the replays: services vary).
    before = hall.wait_estimate(tickets[4]).wait_s
    assert 8 * 60 < before < 16 * 60
    assert hall.wait_estimate(tickets[4]).wait_s == before  # the same draws every time: no jitter between polls
    run(hall, hall.call_next("1", MONDAY_10))
    run(hall, hall.finish("1", MONDAY_10 + timedelta(minutes=2)))
    # One 2-minute service against PACE_PRIOR configured ones' worth (the category's mean, 7 minutes): a
    # little faster.
    pace = (120 + PACE_PRIOR * 7 * 60) / (8 * 60 + PACE_PRIOR * 7 * 60)
    assert hall.pace("social") == pytest.approx(pace)
    now = MONDAY_10 + timedelta(minutes=2)
    assert 4 * 60 < hall.wait_estimate(tickets[4], now=now).wait_s < before  # one fewer ahead, a little faster


def test_a_no_show_counts_towards_the_pace_as_the_window_time_it_took(hall):
    """过号 holds a window only for the recalls: the tickets ahead, some of whom will not come, weigh less."""
    open_window(hall, "1")
    issue(hall)
    run(hall, hall.call_next("1", MONDAY_10))
    run(hall, hall.skip("1", MONDAY_10 + timedelta(seconds=90)))
    assert hall.pace("social") == pytest.approx((90 + PACE_PRIOR * 7 * 60) / (8 * 60 + PACE_PRIOR * 7 * 60))


def test_no_window_signed_in_means_no_estimate(hall):
    tickets = [issue(hall) for _ in range(3)]
    est = hall.wait_estimate(tickets[2])
    assert (est.ahead, est.wait_s, est.windows) == (2, None, 0)
    assert est.text == "您前面还有 2 人，暂无窗口办理" and est.short == "暂无窗口办理"
    open_window(hall, "4")  # 企业开办 only: still nobody for 社会事务
    assert hall.wait_estimate(tickets[2]).wait_s is None
    view = hall.view(tickets[2])
    assert view["wait_text"] == "您前面还有 2 人，暂无窗口办理" and view["windows_open"] == 0


def test_people_ahead_are_never_no_wait(hall):
    open_window(hall, "1"), open_window(hall, "2"), open_window(hall, "3")
    first, second = issue(hall), issue(hall)
    assert hall.wait_estimate(first).text == "您前面暂无等候，请留意叫号"
    est = hall.wait_estimate(second)
    assert est.wait_s == 0 and est.ahead == 1  # an idle window will call it at once, yet someone is ahead
    assert est.text == "您前面还有 1 人，预计等候约 1 分钟"


def test_the_pool_counts_other_themes_on_shared_windows(hall):
    open_window(hall, "1")  # comprehensive: social, business and other share it
    business = [issue(hall, "B1", at=MONDAY_10 - timedelta(minutes=1)) for _ in range(2)]
    social = issue(hall, "S1")
    est = hall.wait_estimate(social)
    assert est.ahead == 0  # nobody of its own queue …
    # … but two 20-minute services ahead on the one window: the idle window takes the first at once, then
    # the first completion, then the second (about 40 minutes on average, less in the median: services vary).
    assert 20 * 60 < est.wait_s < 60 * 60
    assert est.text == f"您前面暂无等候，预计等候约 {est.minutes} 分钟"
    assert hall.wait_estimate(business[0]).wait_s == 0  # the window is idle: called at once


def test_rostered_windows_are_a_seam(hall):
    t = issue(hall)
    assert hall.wait_estimate(t).wait_s is None
    rostered = hall.wait_estimate(t, staffed={"1", "2"})  # nobody signed in yet, two windows rostered from now
    assert rostered.windows == 2 and rostered.wait_s == 0
    # Rostered from 10:30: the first of them takes it when it starts.
    later = hall.wait_estimate(t, staffed={"1": MONDAY_10 + timedelta(minutes=30)}, now=MONDAY_10)
    assert later.windows == 1 and later.wait_s == 30 * 60


def test_at_lunch_only_duty_windows_call_and_the_rest_join_after(hall):
    lunch = MONDAY_10.replace(hour=12, minute=30)  # 午间值班 12:00–14:00; no window of this hall has lunch duty
    for w in ("1", "2"):
        run(hall, hall.sign_in(w, f"S{int(w):03d}", lunch))
    waiting = [issue(hall, at=lunch, check_hours=False) for _ in range(6)]
    est = hall.wait_estimate(waiting[-1], now=lunch)
    # Both windows join at 14:00 and each takes one at once; then a completion and the other three, two at a
    # time: about 90 minutes + 2.5 services.
    assert 90 * 60 + 8 * 60 < est.wait_s < 90 * 60 + 5 * 8 * 60



def test_tickets_ahead_are_shared_with_the_windows_back_from_lunch_before_the_call():
    """13:50, one lunch-duty comprehensive window; the 企业开办 window 4 is back at 14:00. The 企业开办 tickets
    ahead of a 社会事务 one are mostly 4's once it is back: counted in full, the estimate was far too long."""
    cfg = small_hall(windows=(Window("1", 1, "1号综合窗口", "comprehensive", lunch_duty=True),
                              Window("4", 4, "4号企业开办窗口", "categorised", {"business": 1.0})))
    hall = Hall(cfg)
    now = MONDAY_10.replace(hour=13, minute=50)
    for w in ("1", "4"):
        run(hall, hall.sign_in(w, f"S{int(w):03d}", now))
    for _ in range(6):
        issue(hall, "B1", at=now - timedelta(minutes=30), check_hours=False)  # 20-minute matters
    social = issue(hall, "S1", at=now, check_hours=False)
    est = hall.wait_estimate(social, now=now)
    all_on_one = 6 * 20 * 60  # every 企业开办 ticket ahead on window 1 alone
    assert 10 * 60 < est.wait_s < all_on_one * 0.75
    # Nobody comes back before the call (a quiet queue): nothing changes.
    quiet = Hall(cfg)
    for w in ("1", "4"):
        run(quiet, quiet.sign_in(w, f"S{int(w):03d}", now))
    alone = issue(quiet, "S1", at=now, check_hours=False)
    assert quiet.wait_estimate(alone, now=now).wait_s == 0


def test_priority_and_fairness_on_one_window(hall):
    normals = [issue(hall, at=MONDAY_10) for _ in range(3)]
    prios = [issue(hall, at=MONDAY_10 + timedelta(minutes=1), priority="assist") for _ in range(5)]
    open_window(hall, "1")
    got = []
    for _ in range(8):
        t = run(hall, hall.call_next("1", MONDAY_10 + timedelta(minutes=2)))
        got.append(t.priority is not None)
        run(hall, hall.finish("1", MONDAY_10 + timedelta(minutes=2)))
    assert got == [True, True, False, True, True, False, True, False]
    assert {t.id for t in normals + prios} == {t.id for t in hall.tickets.values() if t.status == TicketStatus.FINISHED}


def test_ageing_beats_priority(hall):
    old = issue(hall, at=MONDAY_10 - timedelta(minutes=70))
    issue(hall, at=MONDAY_10, priority="green")
    open_window(hall, "1")
    t = run(hall, hall.call_next("1", MONDAY_10))
    assert t.id == old.id and "超过最长等候" in t.call_reason


def test_weights_favour_heavier_category():
    cfg = small_hall(windows=(Window("3", 3, "3号", "categorised", {"social": 3.0, "other": 1.0}),))
    hall = Hall(cfg)
    other = issue(hall, "O1", at=MONDAY_10 - timedelta(minutes=20))
    social = issue(hall, "S1", at=MONDAY_10 - timedelta(minutes=10))
    open_window(hall, "3")
    assert run(hall, hall.call_next("3", MONDAY_10)).id == social.id  # 10 min × 3 > 20 min × 1
    run(hall, hall.finish("3", MONDAY_10))
    assert run(hall, hall.call_next("3", MONDAY_10)).id == other.id


def test_places_and_waits_follow_the_head_start_rule():
    """With the head start (H = 30 min), a 绿色通道 ticket waits for normal tickets issued over 30 minutes before
    it, and a normal ticket counts every priority ticket already waiting: as routing will call them."""
    hall = Hall(small_hall(fairness="head_start", head_start=30))
    early = [issue(hall, at=MONDAY_10 - timedelta(minutes=45)) for _ in range(2)]
    recent = issue(hall, at=MONDAY_10 - timedelta(minutes=10))
    green = issue(hall, at=MONDAY_10, priority="green")
    assert hall.ahead(green) == 2  # the two of 09:15, not the one of 09:50
    later = issue(hall, at=MONDAY_10 + timedelta(minutes=1))
    assert hall.ahead(later) == 4 and hall.ahead(recent) == 3  # everyone before, the green ticket included
    open_window(hall, "1")
    assert run(hall, hall.call_next("1", MONDAY_10 + timedelta(minutes=2))).id == early[0].id
    run(hall, hall.finish("1", MONDAY_10 + timedelta(minutes=3)))
    assert run(hall, hall.call_next("1", MONDAY_10 + timedelta(minutes=4))).id == early[1].id
    run(hall, hall.finish("1", MONDAY_10 + timedelta(minutes=5)))
    assert run(hall, hall.call_next("1", MONDAY_10 + timedelta(minutes=6))).id == green.id
    # The estimate of the one still behind counts the work routing puts ahead of it: the 09:50 ticket only.
    est = hall.wait_estimate(later, now=MONDAY_10 + timedelta(minutes=6))
    assert est.ahead == 1 and est.wait_s > 0
