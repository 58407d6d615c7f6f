"""The manager board in headless Chromium against the real server: live calls, re-assigned categories,
alerts that come and go, and a notice recorded with who sent it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from hall_controller.http.pages import MANAGE_PAGES
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ServerProcess, open_manager_board

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF = {"1": ("QH1001", "1234"), "7": ("QH1007", "4321")}


@pytest.fixture
def desk(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


# One server per module and per config (each test uses its own windows): starting the demo hall costs seconds.
@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("demo") / "hall.db").start()
    yield srv
    srv.kill()  # a throwaway hall: no need to wait for a graceful shutdown


@pytest.fixture(scope="module")
def quick_alert_server(tmp_path_factory):
    """The demo hall with a paused window alerting at once and a queue alert at 3 waiting, no simulated devices."""
    tmp = tmp_path_factory.mktemp("quick")
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^pause_alert_minutes = .*$", "pause_alert_minutes = 0", text)
    text = re.sub(r"(?m)^queue_alert = .*$", "queue_alert = 3", text)
    config = tmp / "hall.toml"
    config.write_text(text, encoding="utf-8")
    srv = ServerProcess(tmp / "hall.db", config=config, extra=["--devices", "none"]).start()
    yield srv
    srv.kill()  # a throwaway hall: no need to wait for a graceful shutdown


def sign_in_window(url: str, window: str) -> dict[str, str]:
    staff_id, pin = STAFF[window]
    r = httpx.post(f"{url}/api/windows/{window}/sign-in", json={"staff_id": staff_id, "pin": pin})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def issue(url: str, service_id: str) -> dict:
    r = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_call_through_the_api_appears_on_the_board_without_a_reload(demo_server, desk):
    open_manager_board(desk, demo_server.url)
    auth = sign_in_window(demo_server.url, "1")
    issue(demo_server.url, "hukou_move")
    r = httpx.post(f"{demo_server.url}/api/windows/1/call-next", headers=auth)
    number = r.json()["ticket"]["number"]
    row = desk.locator('#windows tr[data-window="1"]')
    expect(row.locator(".ticket-no")).to_have_text(number, timeout=5000)
    expect(row.locator(".state")).to_have_text("办理中", timeout=5000)


def test_sign_in_survives_a_reload_and_wrong_password_is_refused(demo_server, desk):
    desk.goto(f"{demo_server.url}/manager")
    desk.fill("input[name=manager_id]", "manager")
    desk.fill("input[name=password]", "wrong-password")
    desk.click("#login-form button[type=submit]")
    expect(desk.locator("#login-error")).to_contain_text("密码错误")
    open_manager_board(desk, demo_server.url)
    desk.reload()
    expect(desk.locator("#windows tbody tr")).to_have_count(21)  # token kept in sessionStorage


def test_manager_reassigns_a_windows_categories_and_the_next_call_honours_it(demo_server, desk):
    open_manager_board(desk, demo_server.url)
    auth = sign_in_window(demo_server.url, "7")  # 7号: social 3, other 1
    issue(demo_server.url, "hukou_move")  # social, first in line
    business = issue(demo_server.url, "individual_business")
    desk.click('#windows button[data-categories="7"]')
    dialog = desk.locator("#categories-dialog")
    expect(dialog).to_be_visible()
    for label in dialog.locator("#categories-list label").all():
        box = label.locator("input[type=checkbox]")
        box.set_checked(label.get_attribute("data-category") == "business")
    dialog.locator("#categories-save").click()
    expect(dialog).to_be_hidden()
    expect(desk.locator('#windows tr[data-window="7"] .custom')).to_have_text("已调整分类")
    r = httpx.post(f"{demo_server.url}/api/windows/7/call-next", headers=auth)
    assert r.json()["ticket"]["id"] == business["id"]
    changed = [e for e in httpx.get(f"{demo_server.url}/api/events").json()["events"]
               if e["type"] == "window.categories_changed"]
    assert [(e["data"]["window_id"], e["data"]["by"], e["data"]["window"]["weights"]) for e in changed] == [
        ("7", "manager", {"business": 1.0})]


def test_a_paused_window_alert_appears_is_acknowledged_and_clears_on_resume(quick_alert_server, desk):
    url = quick_alert_server.url
    open_manager_board(desk, url)
    expect(desk.locator("#alerts .none")).to_be_visible()
    auth = sign_in_window(url, "1")
    issue(url, "hukou_move")
    httpx.post(f"{url}/api/windows/1/pause", headers=auth, json={"reason": "临时离岗"})
    alert = desk.locator('#alerts li[data-kind="window_paused"]')
    expect(alert).to_contain_text("1号综合窗口 暂停服务")
    expect(desk.locator("#alert-count")).to_have_text("1")
    alert.locator("button[data-ack]").click()
    expect(alert).to_contain_text("已由 manager 确认")
    httpx.post(f"{url}/api/windows/1/resume", headers=auth)
    expect(alert).to_have_count(0)
    expect(desk.locator("#alerts .none")).to_be_visible()
    acks = [e for e in httpx.get(f"{url}/api/events").json()["events"] if e["type"] == "manager.alert_acknowledged"]
    assert [(e["data"]["kind"], e["data"]["by"]) for e in acks] == [("window_paused", "manager")]


def test_a_notice_broadcast_is_recorded_with_who_sent_it(quick_alert_server, desk):
    url = quick_alert_server.url
    open_manager_board(desk, url)
    desk.fill("#notice-form textarea", "今日社会事务办件量大，请耐心等候")
    desk.select_option("#notice-form select", "60")
    desk.click("#notice-form button[type=submit]")
    expect(desk.locator("#notice-current")).to_contain_text("今日社会事务办件量大，请耐心等候（manager 发布")
    notices = [e for e in httpx.get(f"{url}/api/events").json()["events"] if e["type"] == "hall.notice"]
    assert [(n["data"]["text"], n["data"]["by"]) for n in notices] == [("今日社会事务办件量大，请耐心等候", "manager")]
    assert "until" in notices[0]["data"]
    assert httpx.get(f"{url}/api/notice").json()["notice"]["text"] == "今日社会事务办件量大，请耐心等候"
    desk.click("#notice-withdraw")
    expect(desk.locator("#notice-current")).to_have_text("当前无公告")


def test_closing_a_window_takes_two_clicks_and_opening_restores_it(quick_alert_server, desk):
    url = quick_alert_server.url
    open_manager_board(desk, url)
    row = desk.locator('#windows tr[data-window="21"]')
    row.locator("button[data-close]").click()
    expect(row.locator("button[data-close]")).to_have_text("确认关闭")
    row.locator("button[data-close]").click()
    expect(row.locator(".state")).to_have_text("已关闭")
    row.locator("button[data-open]").click()
    expect(row.locator(".state")).to_have_text("未签到")
    kinds = [(e["type"], e["data"]["by"]) for e in httpx.get(f"{url}/api/events").json()["events"]
             if e["type"] in ("window.closed", "window.opened")]
    assert kinds == [("window.closed", "manager"), ("window.opened", "manager")]


def test_a_queue_alert_appears_when_a_theme_reaches_its_threshold_and_clears_when_served(quick_alert_server, desk):
    url = quick_alert_server.url
    open_manager_board(desk, url)
    waiting = next(q["waiting"] for q in httpx.get(f"{url}/api/hall").json()["queues"] if q["category_id"] == "social")
    for _ in range(max(0, 3 - waiting)):
        issue(url, "hukou_move")
    alert = desk.locator('#alerts li[data-kind="queue"]')
    expect(alert).to_contain_text("社会事务")
    auth = sign_in_window(url, "1")
    while (r := httpx.post(f"{url}/api/windows/1/call-next", headers=auth)).status_code == 200:
        httpx.post(f"{url}/api/windows/1/finish", headers=auth)
    assert r.status_code == 204
    expect(alert).to_have_count(0)


def test_staffing_table_shows_load_allocation_and_the_pooled_need_per_half_hour(demo_server, desk):
    open_manager_board(desk, demo_server.url)
    table = desk.locator("#staffing-table")
    expect(table.locator("tbody tr[data-theme]")).to_have_count(8)  # general and special themes
    r = httpx.post(f"{demo_server.url}/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
    body = httpx.get(f"{demo_server.url}/api/staffing",
                     headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    upcoming = [s for s in body["slots"] if not s["past"]][:3]  # the advice's horizon
    expect(table.locator("thead th")).to_have_text(["主题", *(s["slot"] for s in upcoming)])
    first = body["slots"].index(upcoming[0])
    social = next(t for t in body["themes"] if t["category_id"] == "social")["rows"][first]
    cell = table.locator('tr[data-theme="social"] td').nth(1)
    expect(cell).to_contain_text(f"{social['load']:g}/{social['windows_open']:g}")
    assert social["load"] > 0
    # Few windows are signed in at 09:30: the short cells are marked, and the advice says how many to add.
    expect(table.locator("td.short").first).to_be_visible()
    expect(table.locator("tr.total td").nth(1)).to_contain_text(
        f"{upcoming[0]['windows_needed']}/{upcoming[0]['windows_open']} 缺{upcoming[0]['short']}")
    expect(desk.locator("#staffing-target")).to_contain_text(body["target"]["text"])
    expect(desk.locator("#staffing-advice li").filter(has_text="需增开").first).to_be_visible()


def test_the_board_links_to_the_other_manager_pages(quick_alert_server, desk):
    url = quick_alert_server.url
    open_manager_board(desk, url)
    links = desk.locator("nav.pages a")
    expect(links).to_have_text([label for _, label in MANAGE_PAGES])
    expect(desk.locator("nav.pages a[aria-current=page]")).to_have_text("管理看板")
    for href in links.evaluate_all("as => as.map(a => a.getAttribute('href'))"):
        assert httpx.get(url + href).status_code == 200
