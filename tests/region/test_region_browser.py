"""The region's pages in headless Chromium against a real `region serve`: the board redraws as a hall's
events arrive, a click leads into the hall, and the pages fit a desktop and a phone (screenshots in docs/)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hall_controller.core.clock import ManualClock
from hall_controller.features.region.rules import to_region
from tests.factory import MONDAY_10
from tests.region.hall_day import hall_service, morning
from tests.region.servers import RegionProcess

DOCS = Path(__file__).resolve().parents[2] / "docs"
HALLS = (("xian", "县政务服务中心", 8, 5), ("jingkai", "经开区政务服务分中心", 5, 2), ("gaoxin", "高新区政务服务分中心", 3, 1),
         ("chengguan", "城关镇便民服务中心", 2, 3), ("donghu", "东湖街道便民服务中心", 0, 0))

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_region_board_live_drill_down_and_supervision(tmp_path, store, region_dsn, page):
    start = MONDAY_10 - timedelta(hours=1)
    region_now = MONDAY_10 + timedelta(minutes=30)  # the halls' mornings run from 09:00 to about 10:30
    region = RegionProcess(region_dsn, tmp_path / "region.log", clock_start=region_now.isoformat()).start()
    http = httpx.Client(base_url=region.url, timeout=10)
    halls = {}
    try:
        for hall_id, name, served, waiting in HALLS:
            key = store.add_hall(hall_id, name)
            if not served:
                continue  # registered, never connected
            service = hall_service(tmp_path / f"{hall_id}.db", ManualClock(start))
            morning(service, served=served, waiting=waiting)
            halls[hall_id] = (service, key)
            sent = [to_region(e) for e in service.ledger.events_since(0, 1000)]
            r = http.post("/api/region/ingest", json={"hall_id": hall_id, "events": sent},
                          headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200

        store.add_user("jianguan", "监管办王科长", "区域监管-2026")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(region.url + "/")  # not signed in: the sign-in page, then back to the board
        page.wait_for_url(lambda url: url.endswith("/sign-in?next=%2F"))
        page.fill("#user_id", "jianguan")
        page.fill("#password", "错误的密码")
        page.click("button[type=submit]")
        assert page.locator("#sign-in-error").inner_text() == "账号或密码错误。"
        page.fill("#password", "区域监管-2026")
        page.click("button[type=submit]")
        page.wait_for_url(region.url + "/")
        assert page.locator("#signed-in").inner_text() == "监管办王科长"
        rows = page.locator("#halls tbody tr")
        assert rows.count() == 5
        xian = page.locator("#halls tr[data-hall=xian] td")
        assert xian.nth(1).inner_text() == "13" and xian.nth(3).inner_text() == "5"
        assert "从未连接" in page.locator("#halls tr[data-hall=donghu]").inner_text()
        page.screenshot(path=str(DOCS / "region-board.png"), full_page=True)

        # More tickets at the 县中心: the board redraws within its 5-second refresh, without a reload.
        service, key = halls["xian"]
        before = service.ledger.last_seq
        for _ in range(3):
            service.issue_ticket("S1", "kiosk")
        sent = [to_region(e) for e in service.ledger.events_since(before, 100)]
        http.post("/api/region/ingest", json={"hall_id": "xian", "events": sent}, headers={"Authorization": f"Bearer {key}"})
        page.wait_for_function("document.querySelector('#halls tr[data-hall=xian] td:nth-child(2)').textContent === '16'",
                               timeout=15_000)
        assert page.locator("#t-issued").inner_text() == str(13 + 3 + 7 + 4 + 3 + 2)

        page.click("#halls tr[data-hall=xian] a")
        page.wait_for_url("**/halls/xian")
        assert "1号综合窗口" in page.content()
        page.click("text=本厅统计报表（按窗口）")
        assert "按窗口" in page.content()

        page.goto(region.url + "/supervision")
        assert page.locator("#cases tbody tr").count() == 4 and page.locator("#complaints tbody tr").count() == 4
        page.screenshot(path=str(DOCS / "region-supervision.png"), full_page=True)

        page.set_viewport_size({"width": 390, "height": 844})  # a supervisor's phone: nothing wider than the screen
        for path in ("/", "/reports", "/supervision", "/returns"):
            page.goto(region.url + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, path

        page.click("text=退出登录")  # signed out: every page asks for a sign-in again
        page.wait_for_url(lambda url: url.endswith("/sign-in"))
        page.goto(region.url + "/supervision")
        page.wait_for_url(lambda url: url.endswith("/sign-in?next=%2Fsupervision"))
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0  # the sign-in page fits the phone too
    finally:
        region.kill()
        for service, _ in halls.values():
            service.ledger.close()
