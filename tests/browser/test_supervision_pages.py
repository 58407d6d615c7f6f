"""排班与请销假 and 督查考核 pages in headless Chromium against the demo hall (Monday 2026-11-23 09:30)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.test_ratings_pages import seed


def manager(page, url: str, path: str) -> None:
    page.goto(f"{url}{path}")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#signin button")


@pytest.mark.browser
@pytest.mark.slow
def test_rota_page_publishes_a_week_and_approves_leave(server, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    manager(page, server.url, "/manage/rota")
    page.wait_for_selector("body[data-ready='1']")
    assert "未发布排班" in page.locator("#week-state").inner_text()
    # Register and approve a day of leave for the first staff member on Tuesday.
    page.fill("#leave-form input[name=start]", "2026-11-24")
    page.fill("#leave-form input[name=end]", "2026-11-24")
    page.fill("#leave-form input[name=reason]", "就医")
    page.click("#leave-form button")
    page.wait_for_selector("#leaves tbody tr")
    page.click("#leaves tbody tr button:text('批准')")
    page.wait_for_function("document.querySelector('#leaves tbody tr').innerText.includes('已批准')")
    page.wait_for_selector("#grid td[data-day='2026-11-24'] .leave")
    # The standing arrangement is shown; the person on leave is off Tuesday. Publish it as the week's rota.
    staff = page.locator("#grid td[data-day='2026-11-24'] .leave").first.evaluate("td => td.parentElement.dataset.staff")
    assert page.locator(f"#grid td[data-day='2026-11-24'][data-staff='{staff}'] select[name=window]").input_value() == ""
    page.click("#publish")
    page.wait_for_function("document.getElementById('warnings').textContent.length > 0")
    assert "已发布" in page.locator("#week-state").inner_text()


@pytest.mark.browser
@pytest.mark.slow
def test_supervision_page_tabs_and_a_note(server, page):
    seed(server.url)
    page.set_viewport_size({"width": 1400, "height": 900})
    manager(page, server.url, "/manage/supervision")
    page.wait_for_selector("body[data-ready='rectification']")
    assert page.locator("#tables tr.total td").nth(1).inner_text() == "2"  # two 差评 cases this month
    page.click(".tabs button[data-tab=causes]")
    page.wait_for_selector("body[data-ready='causes']")
    assert "服务态度差" in page.locator("#top").inner_text()
    page.click(".tabs button[data-tab=efficiency]")
    page.wait_for_selector("body[data-ready='efficiency']")
    assert "按窗口" in page.locator("#tables").inner_text()
    page.click(".tabs button[data-tab=assessment]")
    page.wait_for_selector("body[data-ready='assessment']")
    box = page.locator("#tables details").first
    box.locator("summary").click()
    box.locator("input[name=points]").fill("5")
    box.locator("input[name=note]").fill("群众来信表扬")
    box.locator("button").click()
    page.wait_for_function("document.querySelector('#tables details summary')?.innerText.includes('批注 1 条')")
    http = httpx.Client(base_url=server.url, timeout=10)
    token = http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
    staff = http.get("/api/supervision/assessment", headers={"authorization": f"Bearer {token}"}).json()["staff"]
    assert staff[0]["notes"][0]["note"] == "群众来信表扬" and staff[0]["notes"][0]["points"] == 5
