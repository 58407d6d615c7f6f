"""Push to the platform: the outbox delivers every selected event exactly once (as the receiver sees it)
through outages, errors, timeouts and a controller restart; levels and channels mapped at the boundary."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.decision import Decision
from hall_controller.core.service import HallService
from hall_controller.features.platform.feature import feature as platform_f
from hall_controller.core.ledger import Ledger
from hall_controller.features.platform.rules import PlatformSettings, backoff, to_platform
from hall_controller.features.platform.service import Pusher
from hall_controller.features.ratings import service as ratings
from hall_controller.features.ratings.feature import feature as ratings_f
from hall_controller.http.app import create_app
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ServerProcess
from tests.factory import MONDAY_10, small_hall
from tests.fake_platform import FakePlatform


# Every wait in this file is for the state it asserts, under one generous deadline; never a fixed sleep.
DEADLINE_S = 30.0


@pytest.fixture
def fake():
    f = FakePlatform(hang_s=DEADLINE_S)  # a hung request is never answered while a test runs (close ends it)
    yield f
    f.close()


async def until(check, what: str, timeout: float = DEADLINE_S) -> None:
    """Polls `check` from the event loop (so the pusher in the same loop keeps running) until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached within {timeout:g} s: {what}"
        await asyncio.sleep(0.01)


def serve_and_rate(svc: HallService, clock: ManualClock, level: int) -> dict:
    t = svc.issue_ticket("S1", "kiosk")
    if svc.hall.windows["1"].staff_id is None:
        svc.sign_in("1", "S001", "1234")
    svc.window_command("1", "call-next")
    clock.advance(minutes=3)
    svc.window_command("1", "finish", outcome="supplement")
    return ratings.record_rating(svc, t["id"], level, "pad", ["slow"] if level > 3 else ())


def outbox_seqs(db: Path | Ledger) -> list[int]:
    if isinstance(db, Ledger):
        return [r[0] for r in db.query("SELECT seq FROM outbox ORDER BY seq")]
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]


def test_selected_events_enter_the_outbox_in_their_own_transaction(tmp_path):
    clock = ManualClock(MONDAY_10)
    svc = HallService(small_hall(), open_ledger(tmp_path / "h.db"), clock)
    serve_and_rate(svc, clock, 5)
    types = {e["seq"]: e["type"] for e in svc.ledger.events_since(0)}
    queued = [types[s] for s in outbox_seqs(svc.ledger)]
    assert queued == ["ticket.issued", "ticket.called", "ticket.finished", "rating.recorded", "case.opened"]
    assert "staff.signed_in" in types.values()  # not pushed


def test_levels_and_channels_are_mapped_at_the_boundary():
    event = {"seq": 7, "type": "rating.recorded", "at": "2026-11-23T10:05:00+08:00", "data": {
        "id": "R1", "ticket_id": "T1", "number": "A001", "service_id": "S1", "window_id": "1", "staff_id": "S001",
        "channel": "pad", "level": 1, "label": "非常满意", "bad": False, "reasons": [], "comment": None,
        "named": False, "at": "2026-11-23T10:05:00+08:00"}}
    body = to_platform(event, PlatformSettings(hall_code="H1"))
    assert body["key"] == "H1-7" and body["data"]["satisfaction"] == 1 and body["data"]["channel"] == 4
    assert body["data"]["rated_at"] == "20261123T100500" and body["data"]["channel_name"] == "政务大厅平板电脑"
    up = to_platform({**event, "data": {**event["data"], "channel": "mobile"}}, PlatformSettings(scale="ascending"))
    assert up["data"]["satisfaction"] == 5 and up["data"]["channel"] == 3
    kiosk = to_platform({**event, "data": {**event["data"], "channel": "kiosk", "level": 5}}, PlatformSettings())
    assert kiosk["data"]["satisfaction"] == 5 and kiosk["data"]["channel"] == 5


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n, 1, 10) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_pusher_survives_down_errors_and_timeouts_and_delivers_each_event_once(tmp_path, fake):
    clock = ManualClock(MONDAY_10)
    svc = HallService(small_hall(), open_ledger(tmp_path / "h.db"), clock)
    serve_and_rate(svc, clock, 4)
    s = PlatformSettings(enabled=True, url=fake.url, hall_code="H1", timeout_s=DEADLINE_S, batch_size=3)
    pusher = Pusher(svc, s)

    async def run() -> None:
        # every answer is awaited generously; only the hung request, which is never answered, meets a short timeout
        async with httpx.AsyncClient(timeout=s.timeout_s) as client, httpx.AsyncClient(timeout=1) as impatient:
            assert await pusher.push_batch(client) == 0 and "Connect" in pusher.last_error  # down
            fake.set_mode("error")
            assert await pusher.push_batch(client) == 0 and pusher.last_error == "HTTP 500"
            fake.set_mode("up")
            assert await pusher.push_batch(client) == 3  # one batch
            fake.set_mode("hang")  # the platform takes the event but never answers
            assert await pusher.push_batch(impatient) == 0 and "Timeout" in pusher.last_error
            assert pusher.failures == 1
            # the fake reads its mode when it handles the request, which a loaded machine may do after our
            # timeout: switch back only once it has taken the hung one as "hang"
            await until(lambda: fake.count("hang") == 1, "the fake recorded the hung request")
            fake.set_mode("up")
            while await pusher.push_batch(client):
                pass

    in_own_loop(run())
    expected = [f"H1-{seq}" for seq in outbox_seqs(svc.ledger)]
    assert fake.keys() == expected  # in order, each once
    assert set(fake.stored.values()) == {1}
    assert [k for k, m in fake.posts if m == "up"].count(expected[3]) == 1  # the hung one, re-posted once
    assert pusher.status()["pending"] == 0 and pusher.failures == 0


def in_own_loop(coro) -> None:
    # Its own thread and loop: a Playwright sync test earlier in the session leaves a loop set on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("enabled", [False, True])
def test_a_hall_that_does_not_push_keeps_no_outbox(tmp_path, fake, enabled):
    cfg = small_hall()
    cfg.sections["platform"] = PlatformSettings(enabled=enabled, url=fake.url, retry_base_s=60)
    clock = ManualClock(MONDAY_10)
    svc = HallService(cfg, open_ledger(tmp_path / "h.db"), clock)
    app = create_app(svc, [ratings_f, platform_f])
    with TestClient(app):
        serve_and_rate(svc, clock, 1)
    assert len(outbox_seqs(svc.ledger)) == (4 if enabled else 0)  # issued, called, finished, rated


def test_a_refused_event_is_parked_and_the_rest_flow_on(tmp_path, fake):
    clock = ManualClock(MONDAY_10)
    svc = HallService(small_hall(), open_ledger(tmp_path / "h.db"), clock)
    serve_and_rate(svc, clock, 4)  # issued, called, finished, rated, case opened
    svc.execute(lambda now: Decision(events=[("ticket.issued", {"unexpected": True})]))  # cannot be mapped
    seqs = outbox_seqs(svc.ledger)
    s = PlatformSettings(enabled=True, url=fake.url, hall_code="H1", timeout_s=DEADLINE_S, batch_size=10)
    pusher = Pusher(svc, s)
    fake.set_mode("up")
    fake.refuse = {"ticket.called": 422, "ticket.finished": 429, "rating.recorded": 408}

    async def run() -> None:
        async with httpx.AsyncClient(timeout=s.timeout_s) as client:
            assert await pusher.push_batch(client) == 2  # issued delivered, called parked; 429 stops the batch
            assert pusher.last_error == "HTTP 429" and pusher.status()["pending"] == 4
            fake.refuse.pop("ticket.finished")
            assert await pusher.push_batch(client) == 1 and pusher.last_error == "HTTP 408"  # 408 is retried too
            fake.refuse.pop("rating.recorded")
            assert await pusher.push_batch(client) == 3  # rated, case opened, the unmappable one parked
            assert await pusher.push_batch(client) == 0 and pusher.failures == 0

    in_own_loop(run())
    assert fake.keys() == [f"H1-{seq}" for seq in (seqs[0], *seqs[2:5])]
    status = pusher.status()
    assert status["pending"] == 0 and status["rejected"] == 2
    assert [(r["seq"], r["status"]) for r in status["recent_rejections"]] == [(seqs[5], None), (seqs[1], 422)]
    assert status["recent_rejections"][0]["error"].startswith("mapping: KeyError")
    parked = [e["data"] for e in svc.ledger.events_since(0) if e["type"] == "platform.rejected"]
    assert [(p["seq"], p["type"], p["status"]) for p in parked] == [(seqs[1], "ticket.called", 422),
                                                                    (seqs[5], "ticket.issued", None)]
    parked_seqs = {e["seq"] for e in svc.ledger.events_since(0) if e["type"] == "platform.rejected"}
    assert not parked_seqs & set(outbox_seqs(svc.ledger))  # the notice itself is not pushed


def test_the_pusher_outlives_an_unexpected_error_and_prunes_delivered_rows(tmp_path, fake):
    clock = ManualClock(MONDAY_10)
    svc = HallService(small_hall(), open_ledger(tmp_path / "h.db"), clock)
    serve_and_rate(svc, clock, 1)
    s = PlatformSettings(enabled=True, url=fake.url, timeout_s=DEADLINE_S, retry_base_s=0.01, retry_max_s=0.02,
                         keep_days=30)
    pusher = Pusher(svc, s)
    fake.set_mode("up")
    real, calls = pusher.push_batch, []

    async def flaky(client):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return await real(client)

    pusher.push_batch = flaky

    def delivered() -> int:
        return svc.ledger.query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL")[0][0]

    async def run() -> None:
        task = asyncio.create_task(pusher.run())
        try:
            # the platform has all four *and* the outbox marks them delivered (the pusher marks each one after
            # the platform's answer: stopping at the fake's count alone could cancel it in between)
            await until(lambda: len(fake.keys()) == 4 and pusher.status()["pending"] == 0 and delivered() == 4,
                        "four events received by the platform and marked delivered")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    in_own_loop(run())
    assert len(fake.keys()) == 4 and len(calls) >= 2 and pusher.failures == 0 and delivered() == 4
    clock.advance(days=29)
    svc.issue_ticket("S1", "kiosk")  # a fresh row, still pending
    assert pusher.prune() == 0
    clock.advance(days=2)
    assert pusher.prune() == 4 and len(outbox_seqs(svc.ledger)) == 1 and pusher.status()["pending"] == 1


def platform_config(tmp_path: Path, url: str) -> Path:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    section = (f'[platform]\nenabled = true\nurl = "{url}"\nhall_code = "TEST"\ntimeout_s = 0.5\n'
               f"retry_base_s = 0.05\nretry_max_s = 0.4\nbatch_size = 5\n")
    text, n = re.subn(r"^\[platform\]\n(?:[^\[\n][^\n]*\n|\n)*", section + "\n", text, flags=re.M)
    assert n == 1
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(check, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.slow
def test_exactly_once_across_outages_and_a_controller_restart(tmp_path, fake):
    db = tmp_path / "hall.db"
    cfg = platform_config(tmp_path, fake.url)
    srv = ServerProcess(db, config=cfg, clock_start="2026-11-23T09:30:00", extra=["--devices", "none"]).start()
    try:
        http = httpx.Client(base_url=srv.url, timeout=10)
        m = {"authorization": "Bearer " + http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]}
        status = lambda: http.get("/api/platform/status", headers=m).json()  # noqa: E731
        window, staff_id = {"id": "1"}, "QH1001"  # 1号综合窗口 and its regular staff in the demo hall
        service_id = next(s["id"] for s in http.get("/api/services").json()["services"] if s["issuing_open"])
        token = http.post(f"/api/windows/{window['id']}/sign-in", json={"staff_id": staff_id, "pin": "1234"}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}

        def serve(level: int) -> None:
            t = http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id}).json()
            assert http.post(f"/api/windows/{window['id']}/call-next", headers=auth).status_code == 200
            assert http.post(f"/api/windows/{window['id']}/finish", headers=auth, json={"outcome": "immediate"}).status_code == 200
            r = http.post("/api/ratings", json={"token": t["token"], "level": level, "channel": "kiosk",
                                                 "reasons": ["attitude"] if level > 3 else []})
            assert r.status_code == 200, r.text

        serve(1)  # platform down: every attempt fails to connect
        wait_until(lambda: status()["failures"] >= 2)
        fake.set_mode("error")
        serve(5)
        wait_until(lambda: fake.count("error") >= 2)
        fake.set_mode("hang")
        wait_until(lambda: fake.count("hang") >= 2)  # taken, never acknowledged, retried
        srv.kill()  # power cut with undelivered events
        pending = outbox_seqs(db)
        assert pending and len(fake.keys()) == 1

        fake.set_mode("up")
        srv = ServerProcess(db, config=cfg, clock_start="2026-11-23T11:00:00", extra=["--devices", "none"]).start()
        http = httpx.Client(base_url=srv.url, timeout=10)
        m = {"authorization": "Bearer " + http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]}
        token = http.post(f"/api/windows/{window['id']}/sign-in", json={"staff_id": staff_id, "pin": "1234"}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        serve(2)
        expected = [f"TEST-{seq}" for seq in outbox_seqs(db)]
        wait_until(lambda: len(fake.keys()) == len(expected))
        wait_until(lambda: status()["pending"] == 0)
    finally:
        srv.stop()
    assert fake.keys() == expected  # every pushed event, in sequence order
    assert set(fake.stored.values()) == {1}  # exactly once as the platform sees it
    assert sum(1 for k, _ in fake.posts if k == fake.keys()[0]) >= 3  # the hung event really was re-sent
    types = [fake.accepted[k]["type"] for k in expected]
    assert types.count("rating.recorded") == 3 and "case.opened" in types and "ticket.finished" in types
    rating = next(fake.accepted[k] for k in expected if fake.accepted[k]["type"] == "rating.recorded")
    assert rating["data"]["channel"] == 5 and rating["data"]["satisfaction"] == 1

