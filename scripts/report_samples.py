"""Write the report samples in docs/: the fixture day of tests/features/reports/test_reports.py as CSV, XLSX and a page
screenshot taken in headless Chromium.

    .venv/bin/python scripts/report_samples.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall_controller.core.passwords import hash_secret  # noqa: E402
from hall_controller.core.settings import Manager  # noqa: E402
from hall_controller.features.reports.feature import feature as reports_f  # noqa: E402
from hall_controller.http.app import create_app  # noqa: E402
from tests.features.reports.test_reports import build_fixture_day  # noqa: E402

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


def screenshot(app, out: Path) -> None:
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
            page = browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/reports")
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
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = fixture_app(Path(tmp) / "hall.db")
        write_files(app)
        screenshot(app, DOCS / "reports-page.png")
    print("wrote docs/report-sample-service.{csv,xlsx}, docs/report-sample-attendance.{csv,xlsx}, docs/reports-page.png")


if __name__ == "__main__":
    main()
