"""The 好差评 pages in headless Chromium: public results, case list, case detail (screenshots in docs/)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def seed(url: str) -> str:
    """Serve and rate a few tickets at two windows of the demo hall; returns a bad-review case id."""
    http = httpx.Client(base_url=url, timeout=10)
    service_ids = [s["id"] for s in http.get("/api/services").json()["services"] if s["issuing_open"]]
    levels = {"1": [1, 1, 2, 5, 1], "2": [2, 1, 4, 3]}
    for window, staff, pin in (("1", "QH1001", "1234"), ("2", "QH1002", "2580")):
        token = http.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": pin}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        for i, level in enumerate(levels[window]):
            t = http.post("/api/tickets", json={"service_id": service_ids[i % 3]}).json()
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
    assert page.locator("form[data-action=reply]").is_visible()
    page.screenshot(path=str(DOCS / "ratings-case.png"), full_page=True)
    page.fill("form[data-action=reply] textarea[name=content]", "已电话致歉并告知整改措施")
    page.click("form[data-action=reply] button")
    page.wait_for_function("document.querySelector('#facts').innerText.includes('待办结')")
