"""Write the report samples in docs/: the fixture day of tests/features/reports/test_reports.py and the fixture
month of tests/features/supervision/test_supervision.py as CSV, XLSX and page screenshots taken in headless Chromium.

    .venv/bin/python scripts/report_samples.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall_controller.core.passwords import hash_secret  # noqa: E402
from hall_controller.core.settings import Manager  # noqa: E402
from hall_controller.features.ratings.feature import feature as ratings_f  # noqa: E402
from hall_controller.features.reports.feature import feature as reports_f  # noqa: E402
from hall_controller.features.supervision.feature import feature as supervision_f  # noqa: E402
from hall_controller.http.app import create_app  # noqa: E402
from tests.features.reports.test_reports import build_fixture_day  # noqa: E402
from tests.features.supervision.test_supervision import build_month  # noqa: E402

DOCS = ROOT / "docs"
QUERY = "period=day&date=2026-11-23"


def fixture_app(db: Path):
    svc, clock, _ = build_fixture_day(db)
    svc.config = replace(svc.config, managers=(Manager("manager", "大厅值班主任", "manager",
                                                       hash_secret("manager123", iterations=1000)),))
    app = create_app(svc, [reports_f])
    return app


def write_files(app) -> None:
    with TestClient(app) as c:
        token = c.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for fmt in ("csv", "xlsx"):
            (DOCS / f"report-sample-service.{fmt}").write_bytes(
                c.get(f"/api/reports/service.{fmt}?{QUERY}&by=window", headers=auth).content)
            (DOCS / f"report-sample-attendance.{fmt}").write_bytes(
                c.get(f"/api/reports/attendance.{fmt}?month=2026-11", headers=auth).content)


def supervision_app(db: Path):
    svc, _, _ = build_month(db)  # its manager is boss / pw-1
    return create_app(svc, [ratings_f, reports_f, supervision_f])


def write_supervision_files(app) -> None:
    month = "month=2026-11"
    with TestClient(app) as c:
        token = c.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw-1"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for name, path in (("rectification.csv", "rectification.csv?period=month&date=2026-11-01&by=window"),
                           ("rectification.xlsx", "rectification.xlsx?period=month&date=2026-11-01&by=window"),
                           ("causes.xlsx", "causes.xlsx?period=month&date=2026-11-01"),
                           ("efficiency.xlsx", f"efficiency.xlsx?{month}"), ("assessment.xlsx", f"assessment.xlsx?{month}")):
            (DOCS / f"report-sample-{name}").write_bytes(c.get(f"/api/supervision/{path}", headers=auth).content)


@contextmanager
def browser_on(app):
    """A page of headless Chromium and the app served on a free loopback port."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                        args=["--no-sandbox", "--disable-gpu"])
            yield browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 1100}), f"http://127.0.0.1:{port}"
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def screenshot(app, out: Path) -> None:
    with browser_on(app) as (page, base):
        page.goto(f"{base}/reports")
        page.fill("input[name=manager_id]", "manager")
        page.fill("input[name=password]", "manager123")
        page.click("#signin-form button")
        page.select_option("select[name=by]", "window")
        page.fill("input[name=date]", "2026-11-23")
        page.click("#controls button[type=submit]")
        page.wait_for_selector("tr.total")
        page.wait_for_function("document.querySelectorAll('#charts img').length == 2 && "
                               "[...document.querySelectorAll('#charts img')].every(i => i.complete)")
        page.screenshot(path=str(out), full_page=True)


def supervision_screenshot(app, out: Path) -> None:
    with browser_on(app) as (page, base):
        page.goto(f"{base}/manage/supervision?tab=causes")
        page.fill("input[name=manager_id]", "boss")
        page.fill("input[name=password]", "pw-1")
        page.click("#signin button")
        page.wait_for_function("document.body.dataset.ready === 'causes'")
        page.fill("input[name=date]", "2026-11-23")
        page.click("#controls button[type=submit]")
        page.wait_for_function("document.querySelectorAll('#charts img').length == 2 && "
                               "[...document.querySelectorAll('#charts img')].every(i => i.complete) && "
                               "document.getElementById('title').textContent.includes('2026-11-01')")
        page.screenshot(path=str(out), full_page=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = fixture_app(Path(tmp) / "hall.db")
        write_files(app)
        screenshot(app, DOCS / "reports-page.png")
        app = supervision_app(Path(tmp) / "month.db")
        write_supervision_files(app)
        supervision_screenshot(app, DOCS / "supervision-page.png")
    print("wrote docs/report-sample-service.{csv,xlsx}, docs/report-sample-attendance.{csv,xlsx}, docs/reports-page.png,"
          " docs/report-sample-{rectification.csv,rectification.xlsx,causes.xlsx,efficiency.xlsx,assessment.xlsx},"
          " docs/supervision-page.png")


if __name__ == "__main__":
    main()
