"""The kiosk and the mobile ticket page in headless Chromium against a real controller (demo hall, 09:30 Monday).

Screenshots for docs/: `KIOSK_SCREENSHOTS=docs .venv/bin/python -m pytest tests/browser/test_kiosk_browser.py -k screenshots`.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import DEMO_KIOSK, ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
STAFF_13, PIN_13 = "QH1013", "8520"  # demo staff of window 13 (其他事务)
DEMO_KIOSK_KEYS = {"K1": "qinghe-demo-kiosk-K1-4b7e", "K2": "qinghe-demo-kiosk-K2-9c1d"}  # config/demo-hall.toml
PLATFORM = {"authorization": "Bearer qinghe-demo-platform-key-5d1a"}  # the demo hall's 网上预约 key
ELDER_CARD = {"name": "王秀英", "sex": "女", "birth": "1950-03-01", "id_number": "110101195003010029",
              "address": "清河县城关镇人民路 8 号"}
PORTRAIT, LANDSCAPE = {"width": 1080, "height": 1920}, {"width": 1920, "height": 1080}


def card(n: int, birth: str = "1990-06-01", name: str = "李明") -> dict[str, str]:
    """A card of its own (the reader ignores the same card laid again within seconds)."""
    return {"name": name, "sex": "男", "birth": birth, "id_number": f"110{n:03d}{birth.replace('-', '')}0013",
            "address": "清河县"}


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory):
    """One controller for the module: each test uses its own service, kiosk or counts relative to its start."""
    srv = ServerProcess(tmp_path_factory.mktemp("kiosk") / "hall.db").start()
    yield srv
    srv.stop()


def key(kiosk: str) -> dict[str, str]:
    return {"x-kiosk-key": DEMO_KIOSK_KEYS[kiosk]}


def kiosk_url(url: str, kiosk: str = "K1", query: str = "") -> str:
    """The kiosk page with its key in the fragment, as a hall provisions a kiosk (the page keeps the key)."""
    return f"{url}/kiosk/{kiosk}{query}#key={DEMO_KIOSK_KEYS[kiosk]}"


def open_service(page, url: str, category: str = "social", service: str = "hukou_move", kiosk: str = "K1",
                 query: str = "") -> None:
    page.goto("about:blank")  # a real load: going to the kiosk's own URL again is only a #key fragment change
    page.goto(kiosk_url(url, kiosk, query))
    page.wait_for_selector("#screen > *")
    if page.is_visible("#home-btn"):  # the kiosk came back on the screen it showed before the reload
        page.click("#home-btn")
    page.click(f"[data-category={category}]")
    page.wait_for_selector("[data-service]")
    while not page.locator(f"[data-service={service}]").count():  # eight services a page
        page.click("#next")
    page.click(f"[data-service={service}]")
    page.wait_for_selector("#materials")


def press_keys(page, digits: str) -> None:
    """Type on the kiosk's on-screen keypad, as a citizen does."""
    for digit in digits:
        page.click(f"#screen .keys [data-key='{digit}']")


def token_of(page) -> str:
    return re.search(r"/kiosk/qr/([A-Za-z0-9_-]+)\.svg", page.get_attribute("#ticket-qr", "src")).group(1)


def issued(url: str) -> int:
    return httpx.get(f"{url}/api/hall").json()["counts"]["issued"]


def book(url: str, service_id: str, slot: str, phone: str, name: str = "张三") -> str:
    r = httpx.post(f"{url}/api/appointments", headers=PLATFORM, json={
        "service_id": service_id, "date": "2026-11-23", "slot": slot, "name": name, "phone": phone, "channel": "online"})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def server_swipe(url: str, kiosk: str) -> dict | None:
    return httpx.get(f"{url}/api/kiosk/{kiosk}/status", headers=key(kiosk)).json()["swipe"]


def swipe(url: str, kiosk: str, body: dict[str, str]) -> dict:
    """Lays a card on the kiosk's simulated reader and waits until the controller has read it."""
    before = server_swipe(url, kiosk)
    assert httpx.post(f"{url}/api/sim/id-readers/{kiosk}/swipe", json=body).status_code == 200
    for _ in range(100):
        now = server_swipe(url, kiosk)
        if now and now != before:
            return now
        time.sleep(0.05)
    raise AssertionError("the card was not read")


def wait_cleared(url: str, kiosk: str) -> None:
    for _ in range(50):
        if server_swipe(url, kiosk) is None:
            return
        time.sleep(0.1)
    raise AssertionError("the controller still holds the swipe")


def test_take_a_ticket_and_follow_it_on_the_phone(kiosk_server, page, browser):
    url = kiosk_server.url
    open_service(page, url, "other", "driving_licence_renew")
    materials = page.inner_text("#materials")
    assert "原机动车驾驶证" in materials and "容缺" in materials and "必交" in materials
    ahead = int(page.inner_text("#wait-ahead"))
    no_window = page.inner_text("#wait-time") == "—"  # nobody signed in at a window that may serve it
    assert page.is_visible("#no-window") == no_window  # warned before issuing
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    number = page.inner_text("#ticket-number")
    said = page.inner_text("#ticket-ahead")
    assert number.startswith("D") and (f"您前面还有 {ahead} 人" if ahead else "您前面暂无等候") in said
    assert ("暂无窗口办理" in said) == no_window and "无需等候" not in said
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
    expect(phone.locator("#serving")).to_contain_text(f"13 号窗口：{number}")
    # 正在办理 is what the windows hold now: a finished number leaves the list
    httpx.post(f"{url}/api/windows/13/finish", headers=auth).raise_for_status()
    expect(phone.locator("#state")).to_have_text("已办结，感谢您的耐心等候")
    expect(phone.locator("#serving")).not_to_contain_text(number)
    httpx.post(f"{url}/api/windows/13/sign-out", headers=auth)
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
    code = book(url, "hukou_move", "10:00", "13800001111")
    page.goto(kiosk_url(url, "K1"))
    page.click("#go-checkin")
    press_keys(page, code)
    assert page.inner_text("#entry") == code
    page.click("#checkin-submit")
    page.wait_for_selector("#ticket-number")
    assert "预约签到成功" in page.inner_text(".ticket .title")
    assert page.inner_text("#ticket-priority") == "预约"
    # a wrong code: a clear message, not an error page
    page.click("#done")
    page.click("#go-checkin")
    press_keys(page, "00000000")
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
    page.goto(kiosk_url(url, "K1"))
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


def test_a_swipe_ends_with_its_citizen(kiosk_server, page):
    """An ID swipe lasts swipe_seconds, but never past its citizen: 首页, the idle return, a ticket and a
    refused 取号 all let it go, so the next person neither gets its priority nor its daily limit."""
    url = kiosk_server.url
    page.goto(kiosk_url(url, "K2", "?idle_seconds=3"))
    page.wait_for_selector(".tile")
    # 首页: an elderly citizen swipes, looks at a theme and walks off; the next one presses 首页
    swipe(url, "K2", card(1, "1940-05-01", "周老伯"))
    expect(page.locator("#swipe-who")).to_contain_text("周*伯")
    page.click("[data-category=business]")
    page.click("#home-btn")
    expect(page.locator("#swipe")).to_be_hidden()
    wait_cleared(url, "K2")
    # idle on the home screen
    swipe(url, "K2", card(2, "1941-05-01", "吴老伯"))
    expect(page.locator("#swipe-who")).to_contain_text("吴*伯")
    expect(page.locator("#swipe")).to_be_hidden(timeout=8000)
    wait_cleared(url, "K2")
    # idle on a service page
    open_service(page, url, "business", "licence_reissue", kiosk="K2", query="?idle_seconds=3")
    swipe(url, "K2", card(3, "1942-05-01", "郑老伯"))
    expect(page.locator("#swipe-who")).to_contain_text("郑*伯")
    expect(page.locator("#home-btn")).to_be_hidden(timeout=8000)
    expect(page.locator("#swipe")).to_be_hidden()
    wait_cleared(url, "K2")
    # the next citizen, without a card, gets an ordinary ticket
    open_service(page, url, "business", "licence_reissue", kiosk="K2")
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    assert page.locator("#ticket-priority").count() == 0


def test_a_refused_take_lets_the_card_go(kiosk_server, page):
    url = kiosk_server.url
    elder = card(4, "1945-01-01", "冯老太")
    for _ in range(2):  # the per-person limit of the demo hall: two tickets a service a day
        open_service(page, url, "business", "seal_engraving", kiosk="K2")
        swipe(url, "K2", elder)
        expect(page.locator("#swipe-who")).to_contain_text("冯*太")
        page.click("#take")
        page.wait_for_selector("#ticket-number")
        assert page.inner_text("#ticket-priority") == "老弱病残孕帮办"
        expect(page.locator("#swipe")).to_be_hidden()
        page.click("#done")  # the ticket screen lets go too
        expect(page.locator("#swipe")).to_be_hidden()
        assert server_swipe(url, "K2") is None
        time.sleep(3.1)  # the reader reports the same card again only after a pause
    open_service(page, url, "business", "seal_engraving", kiosk="K2")
    swipe(url, "K2", elder)
    expect(page.locator("#swipe-who")).to_contain_text("冯*太")
    page.click("#take")
    expect(page.locator("#dialog-text")).to_contain_text("每人每天限取 2 次")
    expect(page.locator("#swipe")).to_be_hidden()
    assert server_swipe(url, "K2") is None
    page.click("#dialog-ok")
    page.click("#take")  # the next citizen is neither refused nor given the card's priority
    page.wait_for_selector("#ticket-number")
    assert page.locator("#ticket-priority").count() == 0


def test_a_card_read_just_before_take_is_the_one_used(kiosk_server, page):
    url = kiosk_server.url
    # The controller: the page still shows the previous card when 取号 arrives → the card now on the reader
    shown = swipe(url, "K2", card(5))
    assert not shown["elderly"]
    swipe(url, "K2", card(6, "1939-02-02", "陈老伯"))
    r = httpx.post(f"{url}/api/kiosk/K2/tickets", headers=key("K2"), json={"service_id": "company_change", "request_id": "race-stale-1",
                                                         "swipe_id": shown["id"]})
    assert r.status_code == 201, r.text
    assert r.json()["ticket"]["priority"] == "assist"
    assert server_swipe(url, "K2") is None
    # ... and a card the page has not shown yet at all
    swipe(url, "K2", card(7, "1938-03-03", "褚老伯"))
    r = httpx.post(f"{url}/api/kiosk/K2/tickets", headers=key("K2"), json={"service_id": "company_change", "request_id": "race-unseen-1"})
    assert r.json()["ticket"]["priority"] == "assist"
    # an expired card the page still shows, with nothing read since: asked again, not served without it
    r = httpx.post(f"{url}/api/kiosk/K2/tickets", headers=key("K2"), json={"service_id": "company_change", "request_id": "race-gone-1",
                                                         "swipe_id": shown["id"]})
    assert r.status_code == 409 and "失效" in r.json()["message"]
    # In the browser: swipe and tap at once, before the page's next status poll
    open_service(page, url, "business", "company_change", kiosk="K2")
    swipe(url, "K2", card(8, "1937-04-04", "卫老伯"))
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    assert page.inner_text("#ticket-priority") == "老弱病残孕帮办"
    assert not page.is_visible("#dialog")


LAYOUT = """() => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
    const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const main = document.querySelector('main');
  return {scroll: document.documentElement.scrollWidth, main: main.scrollWidth - main.clientWidth, width: innerWidth,
          top: box('main')[1], bottom: box('footer')[1], take: box('#take'), done: box('#done'),
          search: box('#go-search'), checkin: box('#go-checkin'), number: box('#ticket-number')};
}"""


def assert_fits(page, *names: str) -> None:
    m = page.evaluate(LAYOUT)
    assert m["scroll"] <= m["width"] and m["main"] <= 0, m
    for name in names:
        left, top, right, bottom = m[name]
        assert left >= 0 and right <= m["width"] and top >= m["top"] and bottom <= m["bottom"], (name, m)


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_screens_fit_without_sideways_overflow(kiosk_server, browser, viewport, elder):
    """Home's last row, the service page's 取号 (with a long material list) and the ticket screen's number
    and 完成 lie inside the screen, above the footer, at 1080×1920 and 1920×1080, in either mode."""
    url = kiosk_server.url
    ctx = browser.new_context(locale="zh-CN", viewport=viewport)
    if elder:
        ctx.add_init_script("sessionStorage.setItem('kiosk.elder', '1')")
    page = ctx.new_page()
    try:
        page.goto(kiosk_url(url, "K1"))
        page.wait_for_selector(".tile")
        assert_fits(page, "search", "checkin")
        for category, service in (("social", "hukou_move"), ("construction", "construction_permit")):
            open_service(page, url, category, service)
            assert_fits(page, "take")
        # the last material of a long list scrolls into view inside its panel, 取号 staying put
        take = page.locator("#take").bounding_box()
        last = page.locator("#materials li").last
        last.scroll_into_view_if_needed()
        panel, item = page.locator("#service-info").bounding_box(), last.bounding_box()
        assert panel["y"] <= item["y"] and item["y"] + item["height"] <= panel["y"] + panel["height"] + 1
        assert page.locator("#take").bounding_box() == take
        assert_fits(page, "take")
        page.click("#take")
        page.wait_for_selector("#ticket-number")
        assert_fits(page, "number", "done")
    finally:
        ctx.close()


def test_search_by_name_or_initials_of_any_word(kiosk_server, page):
    url = kiosk_server.url
    page.goto(kiosk_url(url, "K1"))
    page.click("#go-search")
    for key in "kstb":
        page.click(f"[data-key={key}]")
    expect(page.locator("#results [data-service]")).to_have_count(1)
    assert page.locator("#results [data-service=cross_province]").count() == 1
    page.fill("#search", "tsjs")
    page.dispatch_event("#search", "input")
    expect(page.locator("#results [data-service=fire_design_review]")).to_have_count(1)
    page.fill("#search", "迁移")
    page.dispatch_event("#search", "input")
    expect(page.locator("#results [data-service=hukou_move]")).to_have_count(1)
    page.fill("#search", "qqqq")
    page.dispatch_event("#search", "input")
    expect(page.locator("#results .empty-result")).to_be_visible()


def test_idle_and_ticket_screens_return_home(kiosk_server, page):
    url = kiosk_server.url
    open_service(page, url, "other", "invoice_collection", query="?idle_seconds=2&ticket_seconds=2")
    expect(page.locator("#home-btn")).to_be_hidden(timeout=6000)  # idle → home
    page.click("[data-category=other]")
    page.click("[data-service=invoice_collection]")
    page.click("#take")
    page.wait_for_selector("#ticket-number")
    expect(page.locator("#done")).to_contain_text("秒后返回首页")
    expect(page.locator(".tile[data-category]").first).to_be_visible(timeout=6000)  # the ticket screen times out
    expect(page.locator("#home-btn")).to_be_hidden()


def test_check_in_shows_the_configured_window_and_asks_for_no_phone_number(kiosk_server, page):
    url = kiosk_server.url
    code = book(url, "real_estate_transfer", "09:50", "13912345678", "赵六")
    page.goto(kiosk_url(url, "K1"))
    page.click("#go-checkin")
    # the rule comes from [appointments]: 30 minutes before, 15 after, then an ordinary ticket
    assert page.inner_text("#checkin-rule") == ("请在预约时段开始前 30 分钟内至开始后 15 分钟内签到，签到后优先叫号；"
                                                  "超过后按普通号排队。")
    expect(page.locator("#tab-phone")).to_have_count(0)  # the code or the ID card: a phone number is not enough
    press_keys(page, code)
    page.click("#checkin-submit")
    page.wait_for_selector("#ticket-number")
    assert "预约签到成功" in page.inner_text(".ticket .title")
    assert page.inner_text("#ticket-priority") == "预约"


def test_elderly_mode_reads_the_ticket_and_check_in_screens(kiosk_server, browser):
    url = kiosk_server.url
    ctx = browser.new_context(locale="zh-CN", viewport=PORTRAIT)
    ctx.add_init_script("sessionStorage.setItem('kiosk.elder', '1')")
    page = ctx.new_page()
    try:
        open_service(page, url, "other", "water_connection")
        with page.expect_request(lambda r: "/api/kiosk/speech" in r.url and "您的号码是" in unquote(r.url)) as said:
            page.click("#take")
        number = page.inner_text("#ticket-number")
        assert number in unquote(said.value.url) and "号票已打印" in unquote(said.value.url)
        assert said.value.response().status == 200
        page.click("#done")
        with page.expect_request(lambda r: "/api/kiosk/speech" in r.url and "预约签到" in unquote(r.url)
                                 and "刷身份证" in unquote(r.url)):
            page.click("#go-checkin")
    finally:
        ctx.close()


def test_limits_and_a_controller_restart_on_the_kiosk(tmp_path, page):
    """Daily cap and full queue as the citizen sees them; the kiosk rides out a controller restart."""
    srv = ServerProcess(tmp_path / "hall.db").start()
    try:
        url = srv.url
        for n in range(10):  # 特殊建设工程消防设计审查: 10 a day
            httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "fire_design_review", "request_id": f"cap-{n:04d}"})
        open_service(page, url, "construction", "fire_design_review")
        expect(page.locator("#closed")).to_contain_text("今日号源已取完（每日10个）")
        assert page.is_disabled("#take")
        # the queue of 社会事务 fills to queue_full_at (150) while a citizen is on a service page (who stays
        # there however long a loaded machine takes to issue 150 numbers: no idle return home meanwhile)
        open_service(page, url, "social", "hukou_move", query="?idle_seconds=3600")
        social = [s["id"] for c in httpx.get(f"{url}/api/kiosk/K1/catalogue").json()["categories"]
                  if c["id"] == "social" for s in c["services"]]
        waiting, n = 0, 0
        while waiting < 150:
            r = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": social[n % len(social)], "request_id": f"full-{n:04d}"})
            waiting += r.status_code == 201
            n += 1
        page.click("#take")
        expect(page.locator("#dialog-text")).to_contain_text("当前排队已满")
        page.click("#dialog-ok")
        page.click("#home-btn")
        page.click("[data-category=social]")
        page.click("[data-service=id_card_renew]")
        expect(page.locator("#closed")).to_contain_text("当前排队已满（150人等候）")

        srv.stop()
        expect(page.locator("#offline")).to_be_visible(timeout=10_000)
        srv.start()
        expect(page.locator("#offline")).to_be_hidden(timeout=15_000)
        open_service(page, url, "other", "gas_connection")
        page.click("#take")
        page.wait_for_selector("#ticket-number")
    finally:
        srv.stop()


def test_status_url_follows_the_address_the_kiosk_used(kiosk_server):
    """No public_url configured: the QR and status_url use the address the request came by, not the bind address."""
    url = kiosk_server.url
    lan = {"host": "192.168.10.5:8000", **key("K1")}
    r = httpx.post(f"{url}/api/kiosk/K1/tickets", headers=lan,
                   json={"service_id": "guide_consult", "request_id": "lan-url-0001"})
    assert r.status_code == 201
    ticket = r.json()["ticket"]
    token = re.search(r"/kiosk/qr/(.+)\.svg", r.json()["qr"]).group(1)
    assert ticket["status_url"] == f"http://192.168.10.5:8000/t/{token}"
    public = httpx.get(f"{url}/api/t/{token}", headers=lan).json()
    assert public["status_url"] == f"http://192.168.10.5:8000/t/{token}"
    assert httpx.get(f"{url}/api/t/{token}").json()["status_url"] == f"{url}/t/{token}"
    # the staff view by id does not give the token away
    assert "status_url" not in httpx.get(f"{url}/api/tickets/{ticket['id']}").json()


@pytest.mark.skipif(not os.environ.get("KIOSK_SCREENSHOTS"), reason="set KIOSK_SCREENSHOTS=docs to refresh docs/")
def test_screenshots(kiosk_server, browser):
    server = kiosk_server
    out = Path(os.environ["KIOSK_SCREENSHOTS"])
    for n in range(3):  # a few people waiting makes the numbers meaningful
        httpx.post(f"{server.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "id_card_renew", "request_id": f"shot-{n}"})
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1080, "height": 1920})
    page = ctx.new_page()
    page.goto(kiosk_url(server.url, "K1"))
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
    wide_ctx = browser.new_context(locale="zh-CN", viewport=LANDSCAPE)
    wide = wide_ctx.new_page()
    wide.goto(kiosk_url(server.url, "K2"))
    wide.wait_for_selector(".tile")
    wide.screenshot(path=out / "kiosk-home-landscape.png")
    open_service(wide, server.url, "construction", "construction_permit", kiosk="K2")
    wide.screenshot(path=out / "kiosk-service-landscape.png")
    wide.click("#take")
    wide.wait_for_function("() => { const i = document.querySelector('#ticket-qr');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    wide.screenshot(path=out / "kiosk-ticket-landscape.png")
    wide_ctx.close()
    phone.context.close()
    ctx.close()
