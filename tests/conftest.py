"""Shared fixtures: an in-process service and app, and a real server process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.service import HallService
from hall_controller.http.app import create_app
from tests.factory import MONDAY_10, small_hall, with_kiosk

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo-hall.toml"
# The demo hall's kiosk K1 key header (config/demo-hall.toml): what its kiosk page sends with every issue.
DEMO_KIOSK = {"x-kiosk-key": "qinghe-demo-kiosk-K1-4b7e"}
# The demo hall's tablet pad keys, window id -> key ([devices] tablets): a page opens /pad/4#key=<key>.
DEMO_PAD_KEYS = {str(t["window"]): t["key"]
                 for t in tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["devices"].get("tablets", [])}


def demo_staff() -> dict[str, tuple[str, str]]:
    """window id -> (staff id, clear PIN) of the demo hall's regular staff (the demo lists its PINs in clear)."""
    raw = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    out: dict[str, tuple[str, str]] = {}
    for s in raw["staff"]:
        for w in s.get("windows", []):
            out.setdefault(str(w), (s["id"], s["pin"]))
    return out


def open_manager_board(page, url: str) -> None:
    """Sign in to the demo hall's manager board and wait until it shows every window, live."""
    from playwright.sync_api import expect

    page.goto(f"{url}/manager")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#windows tbody tr")).to_have_count(21)
    expect(page.locator("#link")).to_have_attribute("data-online", "true")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_10)


@pytest.fixture
def service(tmp_path, clock) -> HallService:
    svc = HallService(small_hall(), open_ledger(tmp_path / "hall.db"), clock)
    yield svc
    svc.ledger.close()


@pytest.fixture
def client(service) -> TestClient:
    with TestClient(with_kiosk(create_app(service))) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`hall-controller serve` in its own process, on a free loopback port, with the hall clock pinned."""

    def __init__(self, db: Path, config: Path = DEMO_CONFIG, clock_start: str = "2026-11-23T09:30:00",
                 extra: list[str] | None = None):
        self.db, self.config, self.clock_start = db, config, clock_start
        self.extra = extra or []
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = db.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> ServerProcess:  # a loaded machine warms the voice up slowly
        cmd = [sys.executable, "-m", "hall_controller.cli", "serve", "--config", str(self.config), "--db",
               str(self.db), "--port", str(self.port), "--clock-start", self.clock_start, "--rate-limit", "0",
               "--devices", "simulated", *self.extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.kill()  # no server left running behind a test that gave up on it
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path):
    srv = ServerProcess(tmp_path / "hall.db").start()
    yield srv
    srv.stop()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (Playwright's own browser download does not work here).

    Module-scoped on purpose: Playwright's sync API holds an asyncio loop in the main thread while it runs,
    and tests in other modules call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1080, "height": 1920})
    pg = context.new_page()
    yield pg
    context.close()
