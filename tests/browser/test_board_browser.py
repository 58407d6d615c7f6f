"""Hall board, window display and counter keypad: in-process endpoint tests, then headless Chromium against a
real `hall-controller serve` (the `server` fixture: demo hall, clock pinned to a Monday 09:30)."""

from __future__ import annotations

import os
import re
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from display_board.feature import feature as screens
from hall_controller.app import open_ledger
from hall_controller.core.service import HallService
from hall_controller.features.manager.feature import feature as manager
from hall_controller.http.app import create_app
from tests.conftest import CHROMIUM_ARGS, DEMO_KIOSK, ServerProcess
from tests.factory import KIOSK, small_hall, with_kiosk

LIVE = 5000  # ms: room for a loaded CI machine; how fast a call reaches the screens is measured by bench/ws_fanout.py
RESUME = 10_000  # ms: a reconnect waits out HallEvents' back-off (at most 4 s) first

# Demo hall staff (config/demo-hall.toml) by window: 工号, PIN. Each browser test uses its own windows, and
# leaves no ticket waiting, so the tests can share one server.
WINDOW_STAFF = {"1": ("QH1001", "1234"), "2": ("QH1002", "2580"), "3": ("QH1003", "1357"), "4": ("QH1004", "2468"),
                "5": ("QH1005", "8642"), "6": ("QH1006", "9753")}


# ------------------------------------------------------------------------------------ in-process

@pytest.fixture
def app_client(tmp_path, clock):
    def make(config=None):
        svc = HallService(config or small_hall(), open_ledger(tmp_path / "hall.db"), clock)
        app = with_kiosk(create_app(svc, [manager, screens]))
        return TestClient(app), svc

    return make


def test_staff_photo_is_served_from_the_config_directory(tmp_path, app_client):
    (tmp_path / "photos").mkdir()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    (tmp_path / "photos" / "s001.png").write_bytes(png)
    base = small_hall()
    staff = tuple(replace(s, photo="photos/s001.png") if s.id == "S001" else s for s in base.staff)
    client, _ = app_client(replace(base, source=str(tmp_path / "hall.toml"), staff=staff))
    assert client.get("/staff-photo/S001").status_code == 404  # not signed in: not shown anywhere
    client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"})
    r = client.get("/staff-photo/S001")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == png


def test_missing_photo_gets_a_placeholder_avatar_and_unknown_staff_a_404(app_client):
    client, _ = app_client()
    client.post("/api/windows/2/sign-in", json={"staff_id": "S002", "pin": "1234"})
    r = client.get("/staff-photo/S002")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text and "员" in r.text and "S002" in r.text
    # An unknown 工号 and one not signed in get the same answer.
    nope, off_duty = client.get("/staff-photo/NOPE"), client.get("/staff-photo/S003")
    assert nope.status_code == off_duty.status_code == 404 and nope.json() == off_duty.json()


def test_pages_exist_for_known_windows_only(app_client):
    client, _ = app_client()
    assert "综合信息屏" in client.get("/board").text
    assert client.get("/window/3").status_code == 200
    assert "呼叫器" in client.get("/counter/3").text
    r = client.get("/window/77")
    assert r.status_code == 404 and "message" in r.json()


def test_board_state_has_recent_calls_notice_and_public_staff_only(app_client):
    client, svc = app_client()
    token = client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    for _ in range(3):
        client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"})
    client.post("/api/windows/1/call-next", headers=auth)
    client.post("/api/windows/1/recall", headers=auth)
    client.post("/api/windows/1/finish", headers=auth)
    client.post("/api/windows/1/call-next", headers=auth)
    state = client.get("/api/board").json()
    assert state["seq"] == svc.ledger.last_seq
    assert [(c["type"], c["data"]["ticket"]["number"]) for c in state["recent_calls"]] == [
        ("ticket.called", "A001"), ("ticket.recalled", "A001"), ("ticket.called", "A002")]
    assert state["notice"] is None
    assert state["staff"] == {"S001": {"id": "S001", "name": "员工1", "unit": "县行政审批局",
                                       "photo_url": "/staff-photo/S001"}}  # on duty only, not the hall's staff list
    assert "pin_hash" not in str(state)


# ------------------------------------------------------------------------------------ browser

class Hall:
    """The API as a window keypad and a kiosk would use it."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=10)
        self.tokens: dict[str, str] = {}

    def sign_in(self, window: str) -> str:
        staff_id, pin = WINDOW_STAFF[window]
        r = self.http.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff_id, "pin": pin})
        r.raise_for_status()
        self.tokens[window] = r.json()["token"]
        return self.tokens[window]

    def issue(self, service_id: str = "hukou_move") -> dict:
        r = self.http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id})
        r.raise_for_status()
        return r.json()

    def do(self, window: str, action: str, body: dict | None = None) -> dict | None:
        r = self.http.post(f"/api/windows/{window}/{action}", json=body,
                           headers={"authorization": f"Bearer {self.tokens[window]}"})
        r.raise_for_status()
        return r.json() if r.status_code == 200 else None

    def call(self, window: str) -> str:
        return self.do(window, "call-next")["ticket"]["number"]

    def waiting(self, category: str = "social") -> int:
        return next(q["waiting"] for q in self.http.get("/api/hall").json()["queues"] if q["category_id"] == category)


@pytest.fixture(scope="module")
def browser():
    """This module's own Chromium, closed at the module's end: an open Playwright sync session leaves its event
    loop marked running in the main thread, and every later test calling asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory):
    # One server for the module: a start-up costs seconds, and the tests stay apart by window.
    srv = ServerProcess(tmp_path_factory.mktemp("board") / "hall.db").start()
    yield srv
    srv.stop()


@pytest.fixture
def hall(hall_server):
    h = Hall(hall_server.url)
    yield h
    h.http.close()


@pytest.fixture
def open_page(browser, hall_server):
    contexts = []

    def open_(path: str, width: int = 1920, height: int = 1080):
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page(), hall_server.url + path

    yield open_
    for c in contexts:
        c.close()


def live(page, url: str):
    """Open a screen and wait until its event stream is up."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("#link")).to_have_attribute("data-online", "true", timeout=RESUME)
    return page


def count_of(category: str) -> str:
    return f'[data-category="{category}"] .count'


@pytest.mark.browser
def test_a_call_reaches_the_board_and_the_window_display_live(hall, open_page):
    from playwright.sync_api import expect

    board = live(*open_page("/board"))
    window = live(*open_page("/window/4", 1280, 720))
    expect(window.locator("#closed-sign")).to_be_visible()  # nobody signed in: 暂未开放

    hall.sign_in("4")
    expect(window.locator("#staff-name")).to_have_text("陈志强", timeout=LIVE)
    expect(window.locator("#staff-id")).to_have_text("QH1004")
    expect(window.locator("#staff-photo")).to_have_attribute("src", "/staff-photo/QH1004")
    expect(board.locator("#win-4 .staff")).to_have_text("陈*强", timeout=LIVE)  # names masked on the wall

    before = hall.waiting()
    hall.issue()
    spare = hall.issue()
    expect(board.locator(count_of("social"))).to_have_text(f"{before + 2}人", timeout=LIVE)
    number = hall.call("4")

    expect(board.locator("#current-number")).to_have_text(number, timeout=LIVE)
    expect(board.locator("#current-window")).to_have_text("4号窗口", timeout=LIVE)
    expect(board.locator("#recent-calls li").first).to_contain_text(number, timeout=LIVE)
    expect(board.locator("#win-4 .ticket")).to_have_text(number, timeout=LIVE)
    expect(board.locator(count_of("social"))).to_have_text(f"{before + 1}人", timeout=LIVE)
    expect(board.locator("#current-call")).to_have_class(re.compile(r"\bflash\b"), timeout=LIVE)
    expect(window.locator("#current-number")).to_have_text(number, timeout=LIVE)
    expect(window.locator("#current-service")).to_have_text("户籍迁移（户口迁入）")

    hall.do("4", "finish")
    expect(board.locator("#win-4 .ticket")).to_have_text("—", timeout=LIVE)
    expect(window.locator("#current-number")).to_have_text("——", timeout=LIVE)
    hall.http.post(f"/api/tickets/{spare['id']}/cancel", headers={"authorization": f"Bearer {hall.tokens['4']}"})
    expect(board.locator(count_of("social"))).to_have_text(f"{before}人", timeout=LIVE)


@pytest.mark.browser
def test_a_board_that_loses_its_connection_shows_every_call_it_missed(hall, open_page):
    from playwright.sync_api import expect

    page, url = open_page("/board")
    network = {"up": True}
    sockets = []

    def route(ws):
        sockets.append(ws)
        if network["up"]:
            ws.connect_to_server()
        else:
            ws.close()  # the blip: every reconnect attempt fails until the network is back

    page.route_web_socket(re.compile(r"/ws/events"), route)
    live(page, url)
    for window in ("1", "2", "5"):
        hall.sign_in(window)
    hall.issue()
    seen = hall.call("1")
    expect(page.locator("#current-number")).to_have_text(seen, timeout=LIVE)

    network["up"] = False
    sockets[-1].close()
    expect(page.locator("#link")).to_have_attribute("data-online", "false", timeout=LIVE)
    for _ in range(3):
        hall.issue()
    missed = [hall.call("2"), hall.call("5")]
    hall.do("1", "finish")
    missed.append(hall.call("1"))
    # A reconnect attempt begun after the missed calls, and refused by the dead network, would have resumed
    # with them had it got through: wait for one (window.hallEvents.ws is the page's latest attempt), then
    # check the page still lacks them.
    page.evaluate("() => { window.attemptBefore = window.hallEvents.ws; }")
    page.wait_for_function("() => hallEvents.ws !== window.attemptBefore && hallEvents.ws.readyState === WebSocket.CLOSED",
                           timeout=RESUME)
    expect(page.locator("#link")).to_have_attribute("data-online", "false")
    for number in missed:
        expect(page.locator("#recent-calls")).not_to_contain_text(number)

    network["up"] = True
    expect(page.locator("#link")).to_have_attribute("data-online", "true", timeout=RESUME)
    assert "since=" in sockets[-1].url  # it resumed from the last event it applied
    recent = page.locator("#recent-calls")
    for number in [seen, *missed]:
        expect(recent).to_contain_text(number, timeout=LIVE)
    expect(page.locator("#current-number")).to_have_text(missed[2])
    expect(page.locator("#win-2 .ticket")).to_have_text(missed[0])
    expect(page.locator("#win-5 .ticket")).to_have_text(missed[1])
    expect(page.locator(count_of("social"))).to_have_text(f"{hall.waiting()}人")
    for window in ("1", "2", "5"):
        hall.do(window, "finish")


@pytest.mark.browser
def test_counter_keypad_signs_in_calls_finishes_and_pauses(hall, open_page):
    from playwright.sync_api import expect

    window = live(*open_page("/window/3", 1280, 720))
    counter = live(*open_page("/counter/3", 1600, 900))
    first, second = hall.issue(), hall.issue()

    counter.fill("#staff-id", "QH1003")
    counter.fill("#pin", "0000")
    counter.click("button[type=submit]")
    expect(counter.locator("#toast")).to_have_text("工号或密码错误。", timeout=LIVE)
    counter.fill("#pin", "1357")
    counter.click("button[type=submit]")
    expect(counter.locator("#desk")).to_be_visible(timeout=LIVE)
    expect(counter.locator("#staff-line")).to_contain_text("王丽娟")
    assert counter.evaluate("sessionStorage.getItem('hall.counter.3')")
    expect(counter.locator("#waiting li")).to_have_count(2)
    expect(counter.locator(".key[data-action=call-next] kbd")).to_have_text("F1")

    counter.click(".key[data-action=call-next]")
    expect(counter.locator("#t-number")).to_have_text(first["number"], timeout=LIVE)
    expect(counter.locator("#materials")).to_contain_text("居民身份证原件")
    expect(counter.locator("#waiting")).to_contain_text(second["number"])
    expect(window.locator("#current-number")).to_have_text(first["number"], timeout=LIVE)

    counter.click(".key[data-action=finish]")
    counter.locator("#dialog-body button", has_text="承诺件").click()
    expect(counter.locator("#t-number")).to_have_text("——", timeout=LIVE)
    assert hall.http.get(f"/api/tickets/{first['id']}").json()["outcome"] == "promised"

    # The session survives a reload of the tab (sessionStorage), and the keyboard drives the keypad.
    counter.reload()
    expect(counter.locator("#link")).to_have_attribute("data-online", "true", timeout=RESUME)
    expect(counter.locator("#desk")).to_be_visible(timeout=LIVE)
    counter.keyboard.press("F1")
    expect(counter.locator("#t-number")).to_have_text(second["number"], timeout=LIVE)
    expect(window.locator("#current-number")).to_have_text(second["number"], timeout=LIVE)
    counter.keyboard.press("F4")
    counter.keyboard.press("1")  # 即办件
    expect(counter.locator("#t-number")).to_have_text("——", timeout=LIVE)
    assert hall.http.get(f"/api/tickets/{second['id']}").json()["outcome"] == "immediate"

    counter.keyboard.press("F5")
    counter.locator("#dialog-body button", has_text="临时离开").click()
    expect(window.locator("#paused-sign")).to_be_visible(timeout=LIVE)
    expect(window.locator("#paused-sign")).to_contain_text("暂停服务")
    expect(window.locator("#paused-reason")).to_contain_text("临时离开")
    expect(counter.locator("#pause-key b")).to_have_text("恢复", timeout=LIVE)
    expect(counter.locator(".key[data-action=call-next]")).to_be_disabled()
    counter.keyboard.press("F5")
    expect(window.locator("#paused-sign")).to_be_hidden(timeout=LIVE)

    counter.click("#sign-out")
    expect(counter.locator("#sign-in")).to_be_visible(timeout=LIVE)
    expect(window.locator("#closed-sign")).to_be_visible(timeout=LIVE)
    assert not counter.evaluate("sessionStorage.getItem('hall.counter.3')")


@pytest.mark.browser
def test_counter_transfers_and_shows_errors_in_chinese(hall, open_page):
    from playwright.sync_api import expect

    counter = live(*open_page("/counter/6", 1366, 768))
    ticket = hall.issue()
    counter.fill("#staff-id", "QH1006")
    counter.fill("#pin", "9753")
    counter.click("button[type=submit]")
    expect(counter.locator("#desk")).to_be_visible(timeout=LIVE)

    counter.keyboard.press("F1")
    expect(counter.locator("#t-number")).to_have_text(ticket["number"], timeout=LIVE)
    counter.keyboard.press("F6")
    # the dialog fits 1366×768 with 取消 in view; windows nobody staffs are listed, disabled, with why
    expect(counter.locator("#dialog-cancel")).to_be_in_viewport(ratio=1)
    box = counter.locator("#dialog .dialog-box").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768
    unstaffed = counter.locator("#dialog-body button.unavailable", has_text="无人在岗")
    expect(unstaffed.first).to_be_disabled()
    counter.locator("#dialog-body .choices").first.locator("button", has_text="企业注册开办").click()
    expect(counter.locator("#toast")).to_have_text(f"{ticket['number']} 已转移", timeout=LIVE)
    moved = hall.http.get(f"/api/tickets/{ticket['id']}").json()
    assert (moved["status"], moved["category_id"]) == ("waiting", "business")

    counter.keyboard.press("F1")  # it waits in 企业注册开办 now, which comprehensive window 6 serves too
    expect(counter.locator("#t-number")).to_have_text(ticket["number"], timeout=LIVE)
    counter.click(".key[data-action=finish]")
    counter.keyboard.press("Escape")
    expect(counter.locator("#dialog")).to_be_hidden()

    # Signed out elsewhere (e.g. from a hardware keypad): the page asks to sign in again, in Chinese.
    hall.sign_in("6")
    hall.do("6", "skip")
    hall.do("6", "sign-out")
    expect(counter.locator("#sign-in")).to_be_visible(timeout=LIVE)
    expect(counter.locator("#toast")).to_have_text("本窗口已签离，请重新签到。")
