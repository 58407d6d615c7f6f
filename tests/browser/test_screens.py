"""Every page on every screen it meets: each page at 1280×720, 1366×768, 1920×1080, 3840×2160 and portrait
1080×1920 without sideways scroll or clipped text, axe-core's serious and critical rules, touch targets on the
touch pages, and the API docs without internet. One demo-hall server and one Chromium for the module."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser.screens import SIZES, axe_violations, clipped, small_targets
from tests.conftest import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("screens") / "hall.db").start()
    yield srv
    srv.stop()


@pytest.fixture
def offline(browser, hall):
    """A browser context that reaches the controller only: anything else (a CDN, web fonts) is refused and
    recorded, as on a hall LAN without internet."""
    contexts, refused = [], []

    def open_(width: int = 1920, height: int = 1080):
        ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
        own = urlparse(hall.url).netloc

        def route(r):
            if urlparse(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                refused.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        contexts.append(ctx)
        return ctx.new_page()

    open_.refused = refused
    yield open_
    for c in contexts:
        c.close()


def test_api_docs_work_without_internet(hall, offline):
    from playwright.sync_api import expect

    page = offline()
    page.goto(f"{hall.url}/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 20  # every route, from /openapi.json
    page.goto(f"{hall.url}/redoc")
    expect(page.locator("[role=menuitem], .menu-content li").first).to_be_attached(timeout=15_000)
    expect(page.get_by_text("Hall controller 政务服务大厅排队叫号").first).to_be_visible()
    # all that leaves for the internet is redoc's decorative "powered by" badge, a CSS background image
    assert set(offline.refused) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, offline.refused


class Desk:
    """Staff at a window through the HTTP API (the demo hall's PINs)."""

    def __init__(self, url: str, window: str):
        import httpx

        from tests.conftest import demo_staff

        self.http, self.window = httpx.Client(base_url=url, timeout=10), window
        self.staff_id, pin = demo_staff()[window]
        token = self.http.post(f"/api/windows/{window}/sign-in", json={"staff_id": self.staff_id, "pin": pin}).json()["token"]
        self.auth = {"authorization": f"Bearer {token}"}

    def serve(self, service_id: str = "hukou_move", finish: bool = True) -> str:
        self.http.post("/api/tickets", json={"service_id": service_id}).raise_for_status()
        r = self.http.post(f"/api/windows/{self.window}/call-next", headers=self.auth)
        r.raise_for_status()
        if finish:
            self.http.post(f"/api/windows/{self.window}/finish", headers=self.auth, json={}).raise_for_status()
        return r.json()["ticket"]["number"]


def test_tablet_pad_rates_a_finished_service_and_thanks(hall, browser):
    from playwright.sync_api import expect

    desk = Desk(hall.url, "6")
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(f"{hall.url}/pad/6")
        expect(page.locator("#link")).to_have_attribute("data-online", "true", timeout=10_000)
        expect(page.locator("#staff-name")).to_have_text("杨帆")
        expect(page.locator("#staff-id")).to_have_text(desk.staff_id)
        serving = desk.serve(finish=False)
        expect(page.locator("#serving-number")).to_have_text(serving, timeout=5000)  # live, no reload
        desk.http.post("/api/windows/6/finish", headers=desk.auth, json={}).raise_for_status()
        expect(page.locator("#rate")).to_be_visible(timeout=5000)
        expect(page.locator("#rate-ticket")).to_have_text(serving)
        expect(page.locator("#countdown")).to_contain_text("秒")
        expect(page.locator("#submit")).to_be_disabled()
        page.locator(".level-4").tap()
        expect(page.locator("#reasons-box")).to_be_visible()
        assert axe_violations(page) == []
        assert small_targets(page) == []
        page.locator(".reason", has_text="等候时间长").tap()
        page.fill("#comment", "叫号后等了很久")
        expect(page.locator("#comment-count")).to_have_text("7/500")
        page.locator("#submit").tap()
        expect(page.locator("#thanks")).to_be_visible(timeout=5000)
        # stored before the thanks: the 差评 opened its case, with the reason and the comment
        manager = desk.http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
        auth = {"authorization": f"Bearer {manager.json()['token']}"}
        case = next(c for c in desk.http.get("/api/cases", headers=auth).json()["cases"] if c["number"] == serving)
        rated = desk.http.get(f"/api/cases/{case['case_id']}", headers=auth).json()["rating"]
        assert (rated["channel"], rated["level"], rated["reasons"], rated["comment"]) == ("pad", 4, ["wait"], "叫号后等了很久")
        expect(page.locator("#idle")).to_be_visible(timeout=10_000)  # back for the next citizen
    finally:
        ctx.close()
