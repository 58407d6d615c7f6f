"""`serve --demo`: the hall clock runs in opening hours at any hour, and a restart resumes from the ledger's last
event instead of 09:00 again (times never go backwards, no wait comes out negative)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from hall_controller.app import load_config
from hall_controller.cli import demo_start
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ROOT, free_port

CFG = load_config(DEMO_CONFIG)
TZ = ZoneInfo(CFG.timezone)
THURSDAY_NIGHT = datetime(2026, 12, 3, 21, 0, tzinfo=TZ)


def test_demo_start():
    thursday_0900 = datetime(2026, 12, 3, 9, 0, tzinfo=TZ)  # sessions 08:30-12:00, 14:00-17:30
    # A new ledger: half an hour into the last working day's opening; an open hall: real time.
    assert demo_start(CFG, THURSDAY_NIGHT, None) == thursday_0900
    noon = datetime(2026, 12, 3, 10, 15, tzinfo=TZ)
    assert demo_start(CFG, noon, None) == noon
    # A ledger whose last event is older: as before.
    assert demo_start(CFG, THURSDAY_NIGHT, thursday_0900 - timedelta(days=3)) == thursday_0900
    # A restart after a demo hour: on from the last event.
    last = datetime(2026, 12, 3, 10, 42, 7, tzinfo=TZ)
    assert demo_start(CFG, THURSDAY_NIGHT, last) == last + timedelta(seconds=1)
    # In the lunch gap, the day goes on; after closing, the next working day (Friday) opens.
    assert demo_start(CFG, THURSDAY_NIGHT, last.replace(hour=12, minute=30)) == last.replace(hour=12, minute=30, second=8)
    assert demo_start(CFG, THURSDAY_NIGHT, last.replace(hour=17, minute=45)) == datetime(2026, 12, 4, 9, 0, tzinfo=TZ)
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=TZ)
    assert demo_start(CFG, THURSDAY_NIGHT, friday_evening) == datetime(2026, 12, 7, 9, 0, tzinfo=TZ)  # Monday
    # Even while the real hall is open, a ledger ahead of real time is not walked back.
    assert demo_start(CFG, noon, last.replace(hour=11)) == last.replace(hour=11, second=8)


def _serve_demo(db, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "hall_controller.cli", "serve", "--demo", "--devices", "none",
                             "--db", str(db), "--port", str(port), "--rate-limit", "0"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    deadline = time.monotonic() + 600  # until it answers: starting can take minutes on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("demo server did not start")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # two server starts: minutes each on a loaded machine
def test_a_restarted_demo_resumes_from_its_last_event(tmp_path):
    db = tmp_path / "hall.db"
    port = free_port()
    proc = _serve_demo(db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        services = [s for s in httpx.get(f"{url}/api/services", timeout=60).json()["services"] if s["issuing_open"]]
        first = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]["id"]},
                           timeout=60).json()
    finally:
        proc.terminate()
        proc.wait(20)
    proc = _serve_demo(db, port)
    try:
        hall_now = datetime.fromisoformat(httpx.get(f"{url}/api/hall", timeout=60).json()["at"])
        assert hall_now > datetime.fromisoformat(first["issued_at"])
        second = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[0]["id"]},
                           timeout=60)
        if second.status_code == 201:
            assert second.json()["issued_at"] > first["issued_at"]
            estimate = second.json()["estimated_wait_s"]
            assert estimate is None or estimate >= 0  # None: no honest estimate yet
    finally:
        proc.terminate()
        proc.wait(20)
