"""End-to-end against the real server process: concurrency, SIGKILL under load, WebSocket resume."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter, defaultdict

import httpx
import pytest
import websockets

from tests.conftest import DEMO_KIOSK, demo_staff

pytestmark = pytest.mark.slow


def open_services(url: str) -> list[str]:
    services = httpx.get(f"{url}/api/services").json()["services"]
    cats = {c["id"]: c for c in httpx.get(f"{url}/api/services").json()["categories"]}
    return [s["id"] for s in services if s["issuing_open"] and cats[s["category_id"]]["general"]
            and (s["daily_cap"] is None or s["daily_cap"] >= 200)]


def comprehensive_windows(url: str) -> list[str]:
    """Comprehensive windows that have a regular staff member to sign in."""
    staff = demo_staff()
    return [w["id"] for w in httpx.get(f"{url}/api/hall").json()["windows"]
            if w["mode"] == "comprehensive" and w["id"] in staff]


def sign_in_all(url: str, windows: list[str]) -> dict[str, dict]:
    staff = demo_staff()
    auth = {}
    for w in windows:
        sid, pin = staff[w]
        r = httpx.post(f"{url}/api/windows/{w}/sign-in", json={"staff_id": sid, "pin": pin})
        assert r.status_code == 200, r.text
        auth[w] = {"Authorization": f"Bearer {r.json()['token']}"}
    return auth


def ledger_events(url: str) -> list[dict]:
    out, since = [], 0
    while True:
        page = httpx.get(f"{url}/api/events", params={"since": since, "limit": 1000}).json()["events"]
        if not page:
            return out
        out += page
        since = page[-1]["seq"]


def test_many_kiosks_and_windows_at_once(server):
    url = server.url
    services = open_services(url)
    windows = comprehensive_windows(url)
    auth = sign_in_all(url, windows)
    issued: list[dict] = []
    calls: dict[str, list[str]] = defaultdict(list)
    errors: list[str] = []
    kiosks_done = threading.Event()

    def kiosk(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(25):
                r = c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[(k + i) % len(services)], "channel": "kiosk",
                                                 "request_id": f"k{k}-{i}"})
                if r.status_code != 201:
                    errors.append(r.text)
                else:
                    issued.append(r.json())

    def window(w: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            idle_after_done = 0
            while idle_after_done < 3:
                r = c.post(f"/api/windows/{w}/call-next", headers=auth[w])
                if r.status_code == 204:
                    idle_after_done += kiosks_done.is_set()
                    continue
                if r.status_code != 200:
                    errors.append(r.text)
                    continue
                calls[w].append(r.json()["ticket"]["id"])
                if c.post(f"/api/windows/{w}/finish", headers=auth[w]).status_code != 200:
                    errors.append("finish failed")

    kiosk_threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(12)]
    window_threads = [threading.Thread(target=window, args=(w,)) for w in windows]
    for t in kiosk_threads + window_threads:
        t.start()
    for t in kiosk_threads:
        t.join()
    kiosks_done.set()
    for t in window_threads:
        t.join()

    assert not errors
    assert len(issued) == 12 * 25
    numbers = [t["number"] for t in issued]
    assert len(set(numbers)) == len(numbers), "a number was issued twice"
    called = [tid for ids in calls.values() for tid in ids]
    assert Counter(called).most_common(1)[0][1] == 1, "a ticket was called twice"
    assert sorted(called) == sorted(t["id"] for t in issued), "every ticket called exactly once"
    # No window ever held two tickets: in the ledger, each window's calls and finishes alternate.
    state: dict[str, str | None] = {}
    for e in ledger_events(url):
        if e["type"] == "ticket.called":
            w = e["data"]["window_id"]
            assert state.get(w) is None, f"window {w} called while holding {state[w]}"
            state[w] = e["data"]["ticket"]["id"]
        elif e["type"] == "ticket.finished":
            w = e["data"]["window_id"]
            assert state[w] == e["data"]["ticket"]["id"]
            state[w] = None
    seqs = [e["seq"] for e in ledger_events(url)]
    assert seqs == list(range(1, len(seqs) + 1)), "event sequence is gap-free"


def test_websocket_resume_on_real_server(server):
    url = server.url
    services = open_services(url)

    async def scenario() -> list[int]:
        ws_url = url.replace("http", "ws") + "/ws/events?since=0"
        got: list[int] = []
        async with httpx.AsyncClient(base_url=url) as c:
            await c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]})
            async with websockets.connect(ws_url) as ws:
                got.append(json.loads(await ws.recv())["seq"])
            for _ in range(5):  # missed while away
                await c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]})
            async with websockets.connect(url.replace("http", "ws") + f"/ws/events?since={got[-1]}") as ws:
                async def issue_live() -> None:
                    for _ in range(5):
                        await c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]})

                task = asyncio.create_task(issue_live())
                while len(got) < 11:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert {"seq", "type", "at", "data"} <= set(msg)
                    got.append(msg["seq"])
                await task
        return got

    assert asyncio.run(scenario()) == list(range(1, 12))


def test_serve_starts_simulated_devices_only_for_a_demo_or_when_asked(monkeypatch):
    """Simulators open unauthenticated /api/sim/* routes: a plain `serve` uses the config's own ports."""
    import uvicorn

    from hall_controller import app as server
    from hall_controller import cli

    seen = []
    monkeypatch.setattr(server, "build_app", lambda cfg, db, clock, options: seen.append(options.devices))
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    for extra in ([], ["--demo"], ["--devices", "simulated"], ["--demo", "--devices", "none"]):
        assert cli.main(["serve", "--db", ":memory:", *extra]) == 0
    assert seen == ["config", "simulated", "simulated", "none"]
