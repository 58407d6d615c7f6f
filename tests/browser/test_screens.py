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
