"""The kiosk and the mobile ticket page in headless Chromium against a real controller (demo hall, 09:30 Monday).

Screenshots for docs/: `KIOSK_SCREENSHOTS=docs .venv/bin/python -m pytest tests/test_kiosk_browser.py -k screenshots`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
STAFF_13, PIN_13 = "QH1013", "8520"  # demo staff of window 13 (其他事务)
ELDER_CARD = {"name": "王秀英", "sex": "女", "birth": "1950-03-01", "id_number": "110101195003010029",
              "address": "清河县城关镇人民路 8 号"}


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory):
    """One controller for the module: each test uses its own service, kiosk or counts relative to its start."""
    srv = ServerProcess(tmp_path_factory.mktemp("kiosk") / "hall.db").start()
    yield srv
    srv.stop()


def open_service(page, url: str, category: str = "social", service: str = "hukou_move", kiosk: str = "K1") -> None:
    page.goto(f"{url}/kiosk/{kiosk}")
    page.wait_for_selector("#screen > *")
    if page.is_visible("#home-btn"):  # the kiosk came back on the screen it showed before the reload
        page.click("#home-btn")
    page.click(f"[data-category={category}]")
    page.wait_for_selector("[data-service]")
    while not page.locator(f"[data-service={service}]").count():  # eight services a page
        page.click("#next")
    page.click(f"[data-service={service}]")
    page.wait_for_selector("#materials")


def token_of(page) -> str:
    return re.search(r"/kiosk/qr/([A-Za-z0-9_-]+)\.svg", page.get_attribute("#ticket-qr", "src")).group(1)


def issued(url: str) -> int:
    return httpx.get(f"{url}/api/hall").json()["counts"]["issued"]


def test_take_a_ticket_and_follow_it_on_the_phone(kiosk_server, page, browser):
    url = kiosk_server.url
    open_service(page, url, "other", "driving_licence_renew")
    materials = page.inner_text("#materials")
    assert "原机动车驾驶证" in materials and "容缺" in materials and "必交" in materials
    ahead = int(page.inner_text("#wait-ahead"))
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    number = page.inner_text("#ticket-number")
    assert number.startswith("D") and f"您前面还有 {ahead} 人" in page.inner_text("#ticket-ahead")
    assert "号窗口" in page.inner_text("#ticket-windows")
    expect(page.locator("#print-status")).to_contain_text("已打印")
    page.wait_for_function("() => { const i = document.querySelector('#ticket-qr');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)

    phone = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True).new_page()
    phone.goto(f"{url}/t/{token_of(page)}")
    phone.wait_for_function(f"document.querySelector('#number').textContent === '{number}'")
    assert phone.inner_text("#state") == "等候中" and phone.is_hidden("#call")

    # window 13 (其他事务) calls until it reaches this ticket
    token = httpx.post(f"{url}/api/windows/13/sign-in", json={"staff_id": STAFF_13, "pin": PIN_13}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    for _ in range(20):
        called = httpx.post(f"{url}/api/windows/13/call-next", headers=auth).json()["ticket"]["number"]
        if called == number:
            break
        httpx.post(f"{url}/api/windows/13/finish", headers=auth)
    phone.wait_for_selector("#call:not([hidden])")
    assert "13号" in phone.inner_text("#window")
    assert f"{number} → 13 号窗口" in phone.inner_text("#serving")
    phone.context.close()


def test_double_tap_and_reload_issue_one_ticket(kiosk_server, page):
    url = kiosk_server.url
    before = issued(url)
    open_service(page, url, "social", "birth_registration")
    page.reload()  # the service screen comes back with the same request id
    page.wait_for_selector("#take")
    page.dblclick("#take")
    page.wait_for_selector("#ticket-number")
    number = page.inner_text("#ticket-number")
    page.reload()
    page.wait_for_selector("#ticket-number")
    assert page.inner_text("#ticket-number") == number
    # back on the same screen visit (a reload that lands on the service screen): 取号 returns the same ticket
    page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('kiosk.screen'));
                             sessionStorage.setItem('kiosk.screen', JSON.stringify({...s, name: 'service',
                             args: {id: 'birth_registration'}})); }""")
    page.reload()
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    assert page.inner_text("#ticket-number") == number
    assert issued(url) == before + 1


def test_appointment_check_in_by_code(kiosk_server, page):
    url = kiosk_server.url
    r = httpx.post(f"{url}/api/appointments", json={
        "service_id": "hukou_move", "date": "2026-11-23", "slot": "10:00", "name": "张三", "phone": "13800001111",
        "channel": "网上"}, headers={"authorization": "Bearer qinghe-demo-platform-key-5d1a"})  # the demo's platform key
    code = r.json()["code"]
    page.goto(f"{url}/kiosk/K1")
    page.click("#go-checkin")
    for digit in code:
        page.click(f"#screen .keys [data-key='{digit}']")
    assert page.inner_text("#entry") == code
    page.click("#checkin-submit")
    page.wait_for_selector("#ticket-number")
    assert "预约签到成功" in page.inner_text(".ticket .title")
    assert page.inner_text("#ticket-priority") == "预约"
    # a wrong code: a clear message, not an error page
    page.click("#done")
    page.click("#go-checkin")
    for digit in "00000000":
        page.click(f"#screen .keys [data-key='{digit}']")
    page.click("#checkin-submit")
    page.wait_for_selector("#dialog:not([hidden])")
    assert "未找到该预约码" in page.inner_text("#dialog-text")


def test_id_swipe_gives_an_elderly_citizen_priority(kiosk_server, page):
    url = kiosk_server.url
    open_service(page, url, "social", "elderly_allowance")
    assert httpx.post(f"{url}/api/sim/id-readers/K1/swipe", json=ELDER_CARD).status_code == 200
    page.wait_for_selector("#swipe-who")
    who = page.inner_text("#swipe-who")
    assert "王*英" in who and "76 岁" in who and "优先" in who
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    assert page.inner_text("#ticket-priority") == "老弱病残孕帮办"
    content = page.content()
    assert ELDER_CARD["id_number"] not in content and "王秀英" not in content
    ticket = httpx.get(f"{url}/api/t/{token_of(page)}").json()["ticket"]
    assert ticket["priority"] == "assist" and "holder" not in ticket


def test_printer_out_of_paper_tells_the_citizen_to_photograph_the_qr(kiosk_server, page):
    url = kiosk_server.url
    assert httpx.post(f"{url}/api/sim/kiosks/K2/printer-paper", json={"paper": "out"}).status_code == 200
    open_service(page, url, "social", "medical_reimbursement", kiosk="K2")
    page.click("#take")
    page.wait_for_selector("#print-status.print-fail")
    text = page.inner_text("#print-status")
    assert "未能打印" in text and "拍下二维码" in text
    # the QR is an image the page loads: wait until it has drawn
    page.wait_for_function("() => { const i = document.querySelector('#ticket-qr');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)


def test_elderly_mode_enlarges_reads_aloud_and_shows_fewer_items(kiosk_server, page):
    url = kiosk_server.url
    page.goto(f"{url}/kiosk/K1")
    page.wait_for_selector(".tile")
    normal = page.eval_on_selector(".tile .name", "e => parseFloat(getComputedStyle(e).fontSize)")
    with page.expect_response(lambda r: "/api/kiosk/speech" in r.url) as spoken:
        page.click("#elder-btn")
    assert spoken.value.status == 200 and spoken.value.headers["content-type"] == "audio/wav"
    assert page.eval_on_selector("html", "e => e.classList.contains('elder')")
    # the home screen is drawn again for 长者模式: wait for the larger tiles rather than read mid-render
    page.wait_for_function("n => { const e = document.querySelector('.tile .name');"
                           " return e !== null && parseFloat(getComputedStyle(e).fontSize) > n * 1.4; }",
                           arg=normal, timeout=10_000)
    expect(page.locator(".tile[data-category]")).to_have_count(4)
    assert page.is_visible("#next")
    page.click("[data-category=social]")
    expect(page.locator("[data-service]")).to_have_count(4)
    with page.expect_response(lambda r: "/api/kiosk/speech" in r.url):
        page.click("[data-service=hukou_move]")


def test_no_printer_closed_service_and_lunch_hours(tmp_path, page):
    srv = ServerProcess(tmp_path / "hall.db", clock_start="2026-11-23T12:30:00", extra=["--devices", "none"]).start()
    try:
        open_service(page, srv.url, "business", "llc_registration")
        assert "当前不在取号时间" in page.inner_text("#closed") and page.is_disabled("#take")
        open_service(page, srv.url)  # 户籍迁移 is issued through lunch duty
        page.click("#take")
        page.wait_for_selector("#print-status")
        assert "本机暂不提供打印" in page.inner_text("#print-status")
    finally:
        srv.stop()


@pytest.mark.skipif(not os.environ.get("KIOSK_SCREENSHOTS"), reason="set KIOSK_SCREENSHOTS=docs to refresh docs/")
def test_screenshots(kiosk_server, browser):
    server = kiosk_server
    out = Path(os.environ["KIOSK_SCREENSHOTS"])
    for n in range(3):  # a few people waiting makes the numbers meaningful
        httpx.post(f"{server.url}/api/tickets", json={"service_id": "id_card_renew", "request_id": f"shot-{n}"})
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1080, "height": 1920})
    page = ctx.new_page()
    page.goto(f"{server.url}/kiosk/K1")
    page.wait_for_selector(".tile")
    page.screenshot(path=out / "kiosk-home-portrait.png")
    open_service(page, server.url)
    page.screenshot(path=out / "kiosk-service.png")
    page.click("#take")
    page.wait_for_selector("#ticket-qr")
    page.wait_for_function("document.querySelector('#ticket-qr').complete")
    page.screenshot(path=out / "kiosk-ticket.png")
    phone = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, device_scale_factor=2).new_page()
    phone.goto(f"{server.url}/t/{token_of(page)}")
    phone.wait_for_function("document.querySelector('#number').textContent.length > 1")
    phone.screenshot(path=out / "mobile-ticket.png", full_page=True)
    wide = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080}).new_page()
    wide.goto(f"{server.url}/kiosk/K2")
    wide.wait_for_selector(".tile")
    wide.screenshot(path=out / "kiosk-home-landscape.png")
    ctx.close()
