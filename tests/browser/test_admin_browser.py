"""后台管理 in headless Chromium against the real server: a staff member added at /admin signs in at the counter
with no restart; a material edited at /admin shows at the kiosk and a rollback undoes it; a stale version is
refused; a bad value is shown beside its field. Screenshots for docs/admin.md."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_kiosk_browser import open_service
from tests.conftest import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs"
LIVE = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("admin") / "hall.db").start()
    yield srv
    srv.stop()


@pytest.fixture
def admin(browser, server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, server.url)
    yield page
    context.close()


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/admin")
    page.fill("input[name=manager_id]", "admin")
    page.fill("input[name=password]", "admin123")
    page.click("#signin button[type=submit]")
    expect(page.locator("#version")).to_contain_text("当前版本")


def version(page) -> int:
    return int(page.locator("#version").inner_text().split()[-1])


def apply(page) -> int:
    before = version(page)
    page.click("#preview")
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("#diff li").first).to_be_visible()
    page.click("#apply")
    expect(page.locator("#dirty")).to_have_text(f"已应用为版本 {before + 1}", timeout=LIVE)
    return before + 1


def test_a_staff_member_added_at_admin_signs_in_at_the_counter_without_a_restart(admin, browser, server):
    admin.click("#tabs [data-tab=staff]")
    admin.click("#panel .split > div:first-child button.secondary")  # ＋ 新增
    editor = admin.locator("#panel .split > div:nth-child(2)")
    editor.locator("[data-path$='.id']").first.fill("QH3001")
    editor.locator("[data-path$='.name']").first.fill("孙明远")
    editor.locator("[data-path$='.unit']").first.fill("县市场监管局")
    editor.locator("[data-path$='.pin']").fill("2580")
    editor.locator("fieldset").first.get_by_label("4号综合窗口").check()
    admin.click("#preview")
    expect(admin.locator("#diff")).to_contain_text("QH3001")
    admin.screenshot(path=str(DOCS / "admin-staff.png"))
    admin.click("#apply")
    expect(admin.locator("#dirty")).to_contain_text("已应用为版本", timeout=LIVE)

    counter = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    counter.goto(f"{server.url}/counter/4")
    counter.fill("#staff-id", "QH3001")
    counter.fill("#pin", "2580")
    counter.click("button[type=submit]")
    expect(counter.locator("#desk")).to_be_visible(timeout=LIVE)
    expect(counter.locator("#staff-line")).to_contain_text("孙明远")
    counter.close()


def test_a_material_edited_at_admin_shows_at_the_kiosk_and_a_rollback_undoes_it(admin, browser, server):
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920}, locale="zh-CN")
    open_service(kiosk, server.url)
    expect(kiosk.locator("#materials")).to_contain_text("居民身份证原件")

    admin.click("#tabs [data-tab=services]")
    admin.locator(".list button", has_text="hukou_move").click()
    first = admin.locator("[data-path='services[id=hukou_move].materials[0].name']")
    first.fill("居民身份证原件（或临时身份证）")
    admin.locator("[data-path='services[id=hukou_move].fee']").fill("不收费")
    admin.screenshot(path=str(DOCS / "admin-services.png"))
    edited = apply(admin)

    # The kiosk reloads its catalogue on the event: the citizen who opens the matter now sees the new list.
    open_service(kiosk, server.url)
    expect(kiosk.locator("#materials")).to_contain_text("居民身份证原件（或临时身份证）", timeout=LIVE)
    expect(kiosk.locator("#publicity")).to_contain_text("不收费")

    admin.click("#tabs [data-tab=versions]")
    row = admin.locator(f"details.version[data-version='{edited}']")
    expect(row).to_contain_text("事项 hukou_move")
    row.locator("summary").click()
    admin.screenshot(path=str(DOCS / "admin-versions.png"))
    admin.once("dialog", lambda d: d.accept())
    admin.locator(f"details.version[data-version='{edited - 1}'] summary button").click()
    expect(admin.locator("#version")).to_have_text(f"当前版本 {edited + 1}", timeout=LIVE)
    open_service(kiosk, server.url)
    expect(kiosk.locator("#materials")).not_to_contain_text("临时身份证", timeout=LIVE)
    expect(kiosk.locator("#materials")).to_contain_text("居民身份证原件")
    kiosk.close()


def test_a_stale_version_is_refused_and_a_bad_value_is_shown_beside_its_field(admin, browser, server):
    other = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    sign_in(other, server.url)
    other.click("#tabs [data-tab=hall]")
    other.locator("[data-path='hall.name']").fill("清河县政务服务中心（东区）")

    admin.click("#tabs [data-tab=hall]")
    admin.locator("[data-path='queue.recall_limit']").fill("2")
    apply(admin)

    expect(other.locator("#message")).to_contain_text("配置已被 admin 修改", timeout=LIVE)
    other.click("#preview")
    other.click("#apply")
    expect(other.locator("#message")).to_contain_text("配置已被他人修改", timeout=LIVE)
    other.close()

    admin.click("#tabs [data-tab=services]")
    admin.locator(".list button", has_text="id_card_renew").click()
    admin.locator("[data-path='services[id=id_card_renew].prefix']").fill("a1")
    admin.click("#preview")
    note = admin.locator("[data-error-for='services[id=id_card_renew].prefix']")
    expect(note).to_contain_text("大写英文字母")
    admin.screenshot(path=str(DOCS / "admin-error.png"))
    admin.click("#discard")
    assert httpx.get(f"{server.url}/api/services").json()["hall"] == "清河县政务服务中心"


def test_screenshots_of_the_other_admin_pages(admin):
    for tab in ("hall", "windows", "devices", "catalogue"):
        admin.click(f"#tabs [data-tab={tab}]")
        expect(admin.locator(f"#tabs [data-tab={tab}]")).to_have_attribute("aria-selected", "true")
        admin.screenshot(path=str(DOCS / f"admin-{tab}.png"))


def test_the_fairness_rule_and_service_level_are_set_at_admin(admin, server):
    """Last in the module: it leaves the shared server on the ratio rule."""
    admin.click("#tabs [data-tab=hall]")
    admin.locator("[data-path='queue.fairness']").select_option("ratio")
    admin.locator("[data-path='queue.priority_head_start_minutes']").fill("20")
    admin.locator("[data-path='queue.service_level_percent']").fill("90")
    apply(admin)
    token = httpx.post(f"{server.url}/api/manager/sign-in",
                       json={"manager_id": "admin", "password": "admin123"}).json()["token"]
    queue = httpx.get(f"{server.url}/api/admin/config",
                      headers={"authorization": f"Bearer {token}"}).json()["config"]["queue"]
    assert (queue["fairness"], queue["priority_head_start_minutes"], queue["service_level_percent"]) == ("ratio", 20, 90)
    # Out of range is refused beside its field, in Chinese, like every other value.
    admin.locator("[data-path='queue.priority_head_start_minutes']").fill("300")
    admin.click("#preview")
    expect(admin.locator("[data-error-for='queue.priority_head_start_minutes']")).to_contain_text("240")
    admin.click("#discard")
