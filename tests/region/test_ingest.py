"""The region's store on a real PostgreSQL: every event of a hall once, whatever is re-sent, and the read
models the board, reports, supervision and the monthly return read."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest

from hall_controller.features.ratings import case_rules
from hall_controller.features.ratings.service import act
from hall_controller.features.region.rules import to_region
from region.rules import BadEvent
from region.store import BACKFILL_HALL_DAYS, UnknownHall
from tests.factory import MONDAY_10
from tests.region.conftest import TZ
from tests.region.hall_day import hall_service, morning


@pytest.fixture
def hall(tmp_path):
    service = hall_service(tmp_path / "hall.db")
    ids = morning(service)
    yield service, ids
    service.ledger.close()


def events(service, after=0, limit=10_000):
    return [to_region(e) for e in service.ledger.events_since(after, limit)]


def test_every_event_once_whatever_is_resent(store, hall):
    service, _ = hall
    store.add_hall("h1", "城关镇便民服务中心")
    sent = events(service)
    n = len(sent)
    assert store.ingest("h1", sent[:7]) == 7
    assert store.ingest("h1", sent[:7]) == 7  # a retry of the same post
    assert store.ingest("h1", sent[3:12]) == 12  # overlapping: 4–7 dropped, 8–12 taken
    assert store.ingest("h1", sent[15:]) == 12  # past a gap: nothing taken, the hall is told where to go on
    assert store.ingest("h1", list(reversed(sent))) == n  # order within a post does not matter
    assert store.ingest("h1", sent) == n
    assert store.counts() == {"h1": n}
    rows = store.records("SELECT seq FROM events WHERE hall_id = 'h1' ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, n + 1))


def test_halls_are_kept_apart_and_events_partitioned_by_month(store, hall):
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    store.add_hall("h2", "二号大厅")
    sent = events(service)
    store.ingest("h1", sent)
    store.ingest("h2", sent[:5])
    assert store.counts() == {"h1": len(sent), "h2": 5}
    parts = {r["child"] for r in store.records(
        "SELECT c.relname AS child FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid")}
    assert {"events_2026_11", "tickets_2026_11", "ratings_2026_11"} <= parts
    december = {**sent[0], "seq": len(sent) + 1, "at": "2026-12-01T08:30:00+08:00", "type": "day.opened", "data": {}}
    store.ingest("h1", [december])
    assert store.records("SELECT count(*) AS n FROM events_2026_12")[0]["n"] == 1


def test_unknown_hall_and_bad_events_are_refused(store, hall):
    service, _ = hall
    with pytest.raises(UnknownHall):
        store.ingest("nowhere", events(service)[:1])
    store.add_hall("h1", "一号大厅")
    with pytest.raises(UnknownHall):
        store.check_key("h1", "wrong")
    for bad in ({"seq": 0, "type": "x", "at": "2026-11-23T10:00:00+08:00", "data": {}},
                {"seq": 1, "type": "x", "at": "2026-11-23T10:00:00", "data": {}},
                {"seq": 1, "type": "", "at": "2026-11-23T10:00:00+08:00", "data": {}},
                {"seq": 1, "type": "x", "at": "2026-11-23T10:00:00+08:00", "data": []},
                "not an event"):
        with pytest.raises(BadEvent):
            store.ingest("h1", [bad])
    assert store.counts() == {}


def test_board_reads_the_halls_day(store, hall):
    service, ids = hall
    store.add_hall("h1", "一号大厅")
    store.add_hall("h2", "二号大厅")  # registered, never connected
    store.ingest("h1", events(service), hall_last_seq=service.ledger.last_seq)
    now = service.clock.now()
    h1, h2 = store.overview(now)
    assert (h1["issued_today"], h1["served_today"], h1["waiting"], h1["windows_open"]) == (6, 4, 2, 2)
    assert h1["longest_wait_s"] == 10 * 60  # the B tickets were issued 10 minutes before now
    assert (h1["ratings"], h1["bad"], h1["satisfied_rate"], h1["score"]) == (2, 1, 0.5, 50.0)
    assert (h1["cases_open"], h1["complaints_open"], h1["behind"]) == (1, 1, 0)
    assert h1["alerts"] == []
    assert h2["alerts"] == ["从未连接"] and h2["issued_today"] == 0
    later = store.overview(now + timedelta(days=5))[0]  # the case and the complaint are past their deadlines
    assert "差评整改超期 1 件" in later["alerts"] and "投诉答复超期 1 件" in later["alerts"]
    quiet = store.overview(datetime.now(TZ) + timedelta(minutes=10))[0]  # seen_at is the region's own clock
    assert "链路中断 10 分钟" in quiet["alerts"]
    detail = store.hall("h1", now)
    assert [(w["window_id"], w["state"], w["staff_id"], w["served_today"]) for w in detail["windows"]] == [
        ("1", "open", "S001", 4), ("2", "open", "S002", 0)]


def test_reports_drill_down_hall_window_staff(store, hall):
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    store.ingest("h1", events(service))
    day = MONDAY_10.date()
    by_hall = store.report(day, day + timedelta(days=1))
    assert [(r["key"], r["name"], r["issued"], r["served"], r["ratings"]) for r in by_hall] == [
        ("h1", "一号大厅", 6, 4, 2)]
    assert by_hall[0]["avg_service_min"] == 5.0
    by_window = store.report(day, day + timedelta(days=1), "h1")
    assert [(r["key"], r["served"]) for r in by_window] == [("1", 4), (None, 0)]
    by_staff = store.report(day, day + timedelta(days=1), "h1", "1")
    assert [(r["key"], r["served"], r["bad"]) for r in by_staff] == [("S001", 4, 1)]


def test_supervision_and_monthly_return_across_halls(store, hall):
    service, ids = hall
    store.add_hall("h1", "一号大厅")
    store.ingest("h1", events(service))
    now = service.clock.now()
    s = store.supervision(now)
    assert [(c["hall_name"], c["state_label"], c["overdue"]) for c in s["cases"]] == [("一号大厅", "待核实", False)]
    assert [c["complaint_id"] for c in s["complaints"]] == [ids["complaint"]["complaint_id"]]
    assert store.supervision(now + timedelta(days=5), overdue_only=True)["cases"][0]["overdue"]
    assert store.supervision(now, hall_id="h2") == {"cases": [], "complaints": []}
    (row,) = store.monthly_return("2026-11", now)
    assert (row["hall_name"], row["tickets"], row["served"], row["outcome_immediate"], row["working_days"]) == (
        "一号大厅", 6, 4, 4, 1)
    assert (row["ratings"], row["bad"], row["satisfaction"], row["cases_opened"], row["complaints"]) == (2, 1, 0.5, 1, 1)
    assert (row["named_bad"], row["valid_bad"], row["rectify_rate"], row["wait_mean"], row["overtime_rate"]) == (
        0, 0, None, 3.0, 0.0)
    with pytest.raises(ValueError):
        store.monthly_return("2026-13", now)


def test_nothing_personal_reaches_the_region(store, hall):
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    store.ingest("h1", events(service))
    text = str(store.records("SELECT data FROM events"))
    for personal in ("13800000000", "张三", "李四", "13900000000", "态度差", "token"):
        assert personal not in text


def test_concurrent_overlapping_posts_of_one_hall_store_each_event_once(store, hall):
    """Retries racing each other (a hall whose answer was slow, re-sending while the first post commits): the
    hall row's lock takes them one after another, and every event is held once."""
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    sent = events(service)
    rnd = random.Random(17)
    posts = [sent[a:a + rnd.randint(1, 8)] for a in (rnd.randrange(len(sent)) for _ in range(40))] + [sent]
    rnd.shuffle(posts)
    start = threading.Barrier(4)

    def worker(share):
        start.wait()
        for p in share:
            store.ingest("h1", p)

    threads = [threading.Thread(target=worker, args=(posts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.ingest("h1", sent)
    rows = store.records("SELECT seq FROM events WHERE hall_id = 'h1' ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, len(sent) + 1))
    assert store.overview(service.clock.now())[0]["issued_today"] == 6


def test_the_return_counts_case_facts_as_the_halls_own(store, hall):
    """认定有效 and 整改 reach the region as their events; the rates follow supervision's definitions."""
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    store.ingest("h1", events(service))  # the case opened, not yet verified
    (case_id,) = [r[0] for r in service.ledger.query("SELECT id FROM cases")]
    act(service, case_id, case_rules.verify, valid=True, reason=None, note="属实", by="M001")
    store.ingest("h1", events(service, after=store.counts()["h1"]))  # verified, in a post of its own
    act(service, case_id, case_rules.rectify, measures="窗口服务规范培训", by="M001")
    store.ingest("h1", events(service, after=store.counts()["h1"]))
    (row,) = store.monthly_return("2026-11", service.clock.now())
    assert (row["valid_bad"], row["rectify_rate"], row["named_bad"], row["reply_rate"]) == (1, 1.0, 0, None)
    text = str(store.records("SELECT data FROM events WHERE type LIKE 'case.%'"))
    assert "属实" not in text and "培训" not in text  # notes and measures stay in the hall


def test_the_boards_day_counters_equal_a_recount(store, hall):
    """hall_days is kept by the ingest, batch by batch: posts overlapping, re-sent and out of order leave it
    equal to a count of the tickets and ratings held — what a region upgraded to it starts from."""
    service, _ = hall
    store.add_hall("h1", "一号大厅")
    sent = events(service)
    rnd = random.Random(17)
    held = 0
    while held < len(sent):
        start = rnd.randint(max(0, held - 6), held)
        post = sent[start:start + rnd.randint(1, 9)]
        rnd.shuffle(post)
        held = store.ingest("h1", post)
    kept = store.records("SELECT * FROM hall_days ORDER BY hall_id, day")
    assert kept and kept[0]["issued"] > 0 and kept[0]["ratings"] == 2
    with store.pool.connection() as conn:
        conn.execute("TRUNCATE hall_days")
        conn.execute(BACKFILL_HALL_DAYS)
    assert store.records("SELECT * FROM hall_days ORDER BY hall_id, day") == kept
