"""The wait forecast: the hall's routing played forward (core/forecast.py)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import hall_controller.core.hall as hall_module
from hall_controller.core.forecast import call_times, coming
from hall_controller.core.hall import Hall
from hall_controller.core.settings import Window
from tests.factory import MONDAY_10, small_hall


def run(hall: Hall, decision):
    hall.apply(decision)
    return decision.result


def issue(hall: Hall, service="S1", at=MONDAY_10, **kw):
    return run(hall, hall.issue(service, "kiosk", at, f"tok-{len(hall.tickets)}", **kw))


def sign_in(hall: Hall, *windows: str, at=MONDAY_10):
    for w in windows:
        run(hall, hall.sign_in(w, f"S{int(w):03d}", at))


@settings(max_examples=40, deadline=None)
@given(windows=st.integers(1, 4), tickets=st.integers(0, 16), busy=st.integers(0, 4))
def test_a_queue_is_called_in_order_and_the_first_by_idle_windows_at_once(windows, tickets, busy):
    """One pooled queue on comprehensive windows: in every replay each ticket is called no earlier than the one
    before it, so the medians are in queue order too; as many tickets as idle windows are called at once, and
    nobody with anyone ahead is told "无需等候"."""
    cfg = small_hall(windows=tuple(Window(str(n), n, f"{n}号", "comprehensive") for n in range(1, windows + 1)))
    hall = Hall(cfg)
    sign_in(hall, *(str(n) for n in range(1, windows + 1)), at=MONDAY_10 - timedelta(hours=1))
    for n in range(1, min(busy, windows) + 1):  # some windows busy since 09:50
        issue(hall, at=MONDAY_10 - timedelta(minutes=20))
        run(hall, hall.call_next(str(n), MONDAY_10 - timedelta(minutes=10)))
    queue = [issue(hall, at=MONDAY_10 + timedelta(seconds=i)) for i in range(tickets)]
    now = MONDAY_10 + timedelta(minutes=1)
    waits = [hall.wait_estimate(t, now=now) for t in queue]
    assert [w.wait_s for w in waits] == sorted(w.wait_s for w in waits)
    idle = windows - min(busy, windows)
    assert all(w.wait_s == 0 for w in waits[:idle]) and all(w.wait_s > 0 for w in waits[idle:])
    assert not any(w.minutes == 0 and w.ahead > 0 for w in waits)


def test_a_kiosk_ghost_is_called_like_a_ticket_taken_now_and_holds_up_nobody():
    hall = Hall(small_hall())
    sign_in(hall, "1")
    queue = [issue(hall) for _ in range(3)]
    before = [hall.wait_estimate(t, now=MONDAY_10).wait_s for t in queue]
    ghost = hall.wait_estimate(coming("S1", hall.config.service("S1"), MONDAY_10), ahead=3, now=MONDAY_10)
    taken = issue(hall)
    assert hall.wait_estimate(taken, now=MONDAY_10).wait_s == ghost.wait_s  # the ticket says what the kiosk said
    # The ghost held up nobody; the real ticket behind them holds up nobody ahead either.
    assert [hall.wait_estimate(t, now=MONDAY_10).wait_s for t in queue] == before


def test_booked_appointments_due_soon_go_first():
    """An appointment due in a minute, before the window is free, goes ahead of a normal ticket (the head start),
    as routing will call it."""
    hall = Hall(small_hall(fairness="head_start", head_start=30))
    sign_in(hall, "1")
    issue(hall)
    run(hall, hall.call_next("1", MONDAY_10))
    normal = issue(hall, at=MONDAY_10 + timedelta(minutes=1))
    now = MONDAY_10 + timedelta(minutes=1)
    alone = hall.wait_estimate(normal, now=now).wait_s
    booked = [coming(f"booked-{n}", hall.config.service("S1"), now + timedelta(minutes=1), "appointment", 1)
              for n in range(2)]  # two bookings of one slot: the same time and number
    assert hall.wait_estimate(normal, now=now, expected=booked[:1]).wait_s > alone
    assert hall.wait_estimate(normal, now=now, expected=booked).wait_s > alone


def test_a_weighted_window_calls_its_own_theme_first_in_the_replay():
    """Window 3 weighs 社会事务 3:1 over 其他事务: a 社会事务 ticket of 10 minutes goes before an 其他事务 one of 20."""
    cfg = small_hall(windows=(Window("3", 3, "3号", "categorised", {"social": 3.0, "other": 1.0}),))
    hall = Hall(cfg)
    sign_in(hall, "3")
    issue(hall, "S1", at=MONDAY_10 - timedelta(minutes=30))
    run(hall, hall.call_next("3", MONDAY_10 - timedelta(minutes=25)))  # busy since 09:35
    other = issue(hall, "O1", at=MONDAY_10 - timedelta(minutes=20))
    social = issue(hall, "S1", at=MONDAY_10 - timedelta(minutes=10))
    assert hall.wait_estimate(social, now=MONDAY_10).wait_s < hall.wait_estimate(other, now=MONDAY_10).wait_s


def test_a_burst_of_tickets_plays_one_forecast_per_stale_period(monkeypatch):
    """Screens may read a forecast up to `stale_s` old: 400 tickets in two seconds cost one forecast, not 400.
    A ticket issued since reads its matter's ghost there, behind those of its queue issued since, so the
    estimates still grow down the queue. Once the hall stops changing, a view plays none."""
    played = []
    monkeypatch.setattr(hall_module, "call_times", lambda *a, **k: played.append(1) or call_times(*a, **k))
    hall = Hall(small_hall())
    sign_in(hall, "1", "2")
    waits = []
    for i in range(400):
        now = MONDAY_10 + timedelta(milliseconds=5 * i)
        waits.append(hall.wait_estimate(issue(hall, at=now), now=now, stale_s=2.0).wait_s)
    assert len(played) == 1
    assert waits[2:] == sorted(waits[2:]) and waits[3] > 0  # two idle windows take the first two at once
    # 400 8-minute matters on two windows: the last about 400 × 8 / 2 minutes away.
    assert 0.8 * 400 * 8 * 60 / 2 < waits[-1] < 1.2 * 400 * 8 * 60 / 2
    last = hall.tickets[max(hall.tickets)]
    for s in (3, 10, 20):
        assert hall.wait_estimate(last, now=now + timedelta(seconds=s), stale_s=2.0).wait_s is not None
    assert len(played) == 2  # once more (over 2 s old, the hall changed), then not again (unchanged)
