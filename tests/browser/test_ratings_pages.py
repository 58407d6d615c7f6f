"""The 好差评 pages in headless Chromium: public results, case list, case detail (screenshots in docs/)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.conftest import DEMO_KIOSK

from tests.browser.screens import clipped

DOCS = Path(__file__).resolve().parents[2] / "docs"


def seed(url: str) -> str:
    """Serve and rate a few tickets at two windows of the demo hall; returns a bad-review case id."""
    http = httpx.Client(base_url=url, timeout=10)
    service_ids = [s["id"] for s in http.get("/api/services").json()["services"] if s["issuing_open"]]
    levels = {"1": [1, 1, 2, 5, 1], "2": [2, 1, 4, 3]}
    for window, staff, pin in (("1", "QH1001", "1234"), ("2", "QH1002", "2580")):
        token = http.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": pin}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        for i, level in enumerate(levels[window]):
            t = http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_ids[i % 3]}).json()
            http.post(f"/api/windows/{window}/call-next", headers=auth)
            http.post(f"/api/windows/{window}/finish", headers=auth, json={})
            body = {"token": t["token"], "level": level, "channel": "kiosk"}
            if level > 3:
                body |= {"reasons": ["attitude", "wait"], "comment": "等了很久，窗口人员态度生硬", "rater": "陈女士 13812345678"}
            assert http.post("/api/ratings", json=body).status_code == 200
    m = {"authorization": "Bearer " + http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]}
    cases = http.get("/api/cases", headers=m).json()["cases"]
    first = cases[-1]["case_id"]
    http.post(f"/api/cases/{first}/verify", headers=m, json={"valid": True, "note": "调取窗口录像，情况属实"})
    http.post(f"/api/cases/{first}/rectify", headers=m, json={"measures": "窗口服务规范专题培训；高峰期增开 5 号窗口分流"})
    return first


@pytest.mark.browser
@pytest.mark.slow
def test_results_and_case_pages(server, page):
    case_id = seed(server.url)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{server.url}/results")
    assert page.locator("#total-count").inner_text() == "9"
    assert "陈女士" not in page.content() and "周晓梅" not in page.content()
    page.screenshot(path=str(DOCS / "ratings-results.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a citizen's phone: no sideways scroll
    assert clipped(page) == [] and page.locator("#by-window th").first.bounding_box()["height"] < 50  # one line
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{server.url}/manage/cases")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#signin button")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#cases tbody tr").count() == 2
    page.screenshot(path=str(DOCS / "ratings-cases.png"), full_page=True)

    page.click(f"a[href='/manage/cases/{case_id}']")  # the token carries over in sessionStorage
    page.wait_for_selector("body[data-ready='1']")
    assert "陈女士 13812345678" in page.locator("#facts").inner_text()
    assert "有效差评。调取窗口录像，情况属实" in page.locator("#history").inner_text()  # the 核实 note is shown
    assert page.locator("form[data-action=reply]").is_visible()
    page.screenshot(path=str(DOCS / "ratings-case.png"), full_page=True)
    page.fill("form[data-action=reply] textarea[name=content]", "已电话致歉并告知整改措施")
    page.click("form[data-action=reply] button")
    page.wait_for_function("document.querySelector('#facts').innerText.includes('待办结')")


@pytest.mark.browser
@pytest.mark.slow
def test_appointments_page_books_imports_and_cancels(server, page, tmp_path):
    """预约管理 at the demo hall on Monday 2026-11-23 09:30 (the server's pinned clock)."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server.url}/manage/appointments")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#signin button")
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#pick select[name=service_id]", "hukou_move")
    page.wait_for_selector("#slots .slot[data-slot='10:00']:not([disabled])")
    assert page.locator("#slots .slot[data-slot='09:00']").is_disabled()  # already begun

    # book by phone for a citizen
    page.click("#slots .slot[data-slot='10:00']")
    page.check("#book input[value=phone]")
    page.fill("#book input[name=name]", "王小明")
    page.fill("#book input[name=phone]", "13911112222")
    page.click("#book-submit")
    code = page.wait_for_selector("#booked-code").inner_text()
    assert len(code) == 8 and code.isdigit() and "电话预约成功" in page.inner_text("#booked")
    page.wait_for_function("document.querySelector('#slots .slot[data-slot=\"10:00\"] small').innerText === '已约 1 / 2'")
    # a bad phone number: the error under the phone field, the last booking's code gone
    page.click("#slots .slot[data-slot='10:00']")
    page.fill("#book input[name=name]", "刘小红")
    page.fill("#book input[name=phone]", "12345")
    page.click("#book-submit")
    error = page.locator("#book label:has(input[name=phone]) + .field-error")
    assert "手机号码格式不正确" in error.inner_text(timeout=5000)
    assert page.locator("#book input[name=phone]").get_attribute("aria-invalid") == "true"
    assert page.locator("#booked").is_hidden() and page.inner_text("#message") == ""
    page.fill("#book input[name=phone]", "")  # editing clears it; the browser's own check speaks Chinese
    assert page.locator("#book .field-error").count() == 0
    page.click("#book-submit")
    assert page.eval_on_selector("#book input[name=phone]", "e => e.validationMessage") == "请填写此项。"
    page.fill("#book input[name=name]", "")
    row = page.locator("#bookings tbody tr", has_text="王*")
    assert "139****2222" in row.inner_text() and "电话预约" in row.inner_text() and "已预约" in row.inner_text()

    # import a file: per-row results with the codes
    csv_path = tmp_path / "bookings.csv"
    csv_path.write_text("service_id,date,slot,name,phone,id_number,channel\n"
                        "hukou_move,2026-11-23,10:00,李四,13700001111,,电话\n"
                        "hukou_move,2026-11-23,14:00,赵六,13700003333,,当面\n"
                        "no_such_service,2026-11-23,14:00,钱七,13700004444,,网上\n", encoding="utf-8")
    page.set_input_files("#import input[type=file]", str(csv_path))
    page.click("#import button")
    page.wait_for_selector("#import-result:not(.hidden)")
    assert page.inner_text("#import-summary") == "导入成功 2 条，失败 1 条。"
    results = page.locator("#import-result tbody tr")
    assert results.count() == 3 and results.nth(0).locator(".code").inner_text().isdigit()
    assert "失败" in results.nth(2).inner_text()
    page.wait_for_function("document.querySelector('#slots .slot[data-slot=\"10:00\"]').disabled")  # 2 of 2
    assert page.locator("#bookings tbody tr").count() == 3
    page.screenshot(path=str(DOCS / "appointments-page.png"), full_page=True)

    # cancel (two taps) frees the place
    row.locator("button.cancel").click()
    row.locator("button.cancel", has_text="确认取消").click()
    page.wait_for_function("[...document.querySelectorAll('#bookings tbody tr')].some(r => r.innerText.includes('王*') && r.innerText.includes('已取消'))")
    page.wait_for_selector("#slots .slot[data-slot='10:00']:not([disabled])")
