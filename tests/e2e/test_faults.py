"""SIGKILL of the controller while kiosks issue, windows call and pads rate over the simulated bus:
nothing acknowledged is lost, and numbering goes on without reuse."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from tests.conftest import DEMO_KIOSK, ServerProcess
from tests.e2e.test_e2e_core import (
    comprehensive_windows,
    ledger_events,
    open_services,
    sign_in_all,
)

pytestmark = pytest.mark.slow


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path):
    srv = ServerProcess(tmp_path / "hall.db").start()
    url = srv.url
    services = open_services(url)
    windows = comprehensive_windows(url)[:3]
    auth = sign_in_all(url, windows)
    tickets: dict[str, str] = {}  # id -> number, acknowledged by a 201
    calls: dict[str, str] = {}  # ticket id -> window, acknowledged by a 200
    ratings: dict[str, int] = {}  # ticket id -> level, acknowledged by the pad's ACK
    stop = threading.Event()

    def kiosk(k: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as c:
            i = 0
            while not stop.is_set():
                try:
                    r = c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[i % len(services)], "request_id": f"f{k}-{i}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    tickets[r.json()["id"]] = r.json()["number"]
                i += 1
                time.sleep(0.05)

    def window(w: str) -> None:
        with httpx.Client(base_url=url, timeout=5) as c:
            level = 1
            while not stop.is_set():
                try:
                    r = c.post(f"/api/windows/{w}/call-next", headers=auth[w])
                    if r.status_code != 200:
                        time.sleep(0.05)
                        continue
                    tid = r.json()["ticket"]["id"]
                    calls[tid] = w
                    c.post(f"/api/windows/{w}/finish", headers=auth[w])
                    for _ in range(40):  # the pad's invitation travels over the bus
                        rated = c.post(f"/api/sim/pads/{w}/rate", json={"level": level})
                        if rated.status_code == 200 and rated.json()["handled"]:
                            ratings[tid] = level
                            level = level % 5 + 1
                            break
                        time.sleep(0.05)
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=window, args=(w,)) for w in windows]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 90
    while len(ratings) < 15 and time.monotonic() < deadline:
        time.sleep(0.1)
    srv.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(ratings) >= 5, "the load never got going"

    srv.start()
    try:
        with httpx.Client(base_url=url, timeout=10) as c:  # one client: a client per request reloads the CA file
            for tid, number in tickets.items():
                got = c.get(f"/api/tickets/{tid}")
                assert got.status_code == 200 and got.json()["number"] == number
            for tid, w in calls.items():
                assert c.get(f"/api/tickets/{tid}").json()["window_id"] == w
        db = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
        stored = dict(db.execute("SELECT ticket_id, level FROM ratings"))
        db.close()
        for tid, level in ratings.items():
            assert stored.get(tid) == level, f"acknowledged rating of {tickets.get(tid, tid)} lost"
        # numbering continues without reuse, and the ledger's sequence has no gap
        highest: dict[str, int] = {}
        for number in tickets.values():
            highest[number[0]] = max(highest.get(number[0], 0), int(number[1:]))
        again = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]}).json()
        assert int(again["number"][1:]) > highest.get(again["number"][0], 0)
        seqs = [e["seq"] for e in ledger_events(url)]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        srv.stop()
