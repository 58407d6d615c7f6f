"""Every page on every screen it meets: each page at 1280×720, 1366×768, 1920×1080, 3840×2160 and portrait
1080×1920 without sideways scroll or clipped text, axe-core's serious and critical rules, touch targets on the
touch pages, and the API docs without internet. One demo-hall server and one Chromium for the module."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser.screens import SIZES, axe_violations, clipped, english_validation, small_targets
from tests.conftest import DEMO_KIOSK, DEMO_PAD_KEYS, ServerProcess

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
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=60_000)  # a big schema, a busy CI
    assert page.locator(".swagger-ui .opblock").count() > 20  # every route, from /openapi.json
    page.goto(f"{hall.url}/redoc")
    expect(page.locator("[role=menuitem], .menu-content li").first).to_be_attached(timeout=60_000)
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
        self.http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id}).raise_for_status()
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
        # a tablet (or a phone on the hall LAN) without this window's key: refused, in Chinese, nothing shown
        for address in (f"{hall.url}/pad/6", f"{hall.url}/pad/6#key={DEMO_PAD_KEYS['5']}"):
            page.goto("about:blank")  # a new document each time, not a fragment change
            page.goto(address)
            expect(page.locator("#refused")).to_be_visible(timeout=10_000)
            expect(page.locator("#refused-text")).to_contain_text("未获授权")
            expect(page.locator("#staff-name")).to_have_text("暂无工作人员")
        # provisioned once with its key: the page keeps it and takes it out of the address bar
        page.goto("about:blank")
        page.goto(f"{hall.url}/pad/6#key={DEMO_PAD_KEYS['6']}")
        expect(page.locator("#link")).to_have_attribute("data-online", "true", timeout=10_000)
        assert page.evaluate("location.hash") == ""
        page.reload()
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


def test_a_refused_form_says_why_beside_its_field(hall, browser):
    """The controller's refusal shows under the field it is about, in view, not at the top of the page."""
    import httpx
    from playwright.sync_api import expect

    token = httpx.post(f"{hall.url}/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    ctx.add_init_script(f"sessionStorage.setItem('hall.manager.token', '{token}');")
    page = ctx.new_page()
    try:
        page.goto(f"{hall.url}/manage/cases")
        form = page.locator("#complaint-form")
        content = form.locator("textarea[name=content]")
        content.fill("   ")  # passes the browser's `required`, not the controller's check
        form.locator("button[type=submit]").click()
        note = form.locator(".field-error")
        expect(note).to_have_text("请填写投诉内容。")
        expect(note).to_be_in_viewport()
        expect(content).to_have_attribute("aria-invalid", "true")
        assert note.evaluate("n => n.previousElementSibling.contains(document.querySelector('#complaint-form textarea'))")
        content.fill("窗口人员态度生硬")  # editing the field clears its note
        expect(note).to_have_count(0)
    finally:
        ctx.close()


# Every page with what to do before checking it; `fixed`: a screen that never scrolls (boards, kiosk, pad);
# `touch`: its controls are pressed by fingers (44 px); `phone`: also met on a 390 px phone.
PAGES = [
    # path, fixed, touch, phone, steps
    ("/board", True, False, False, None),
    ("/window/1", True, False, False, None),
    ("/window/9", True, False, False, None),  # paused: the 暂停服务 sign
    ("/pad/6", True, True, False, None),
    ("/pad/7", True, True, False, None),  # a tablet without window 7's key: refused, says what to do
    ("/counter/2", False, False, False, None),
    ("/counter/2#transfer", False, False, False, "click:.key[data-action=transfer]"),  # 转移: who can take it
    ("/kiosk/K1", True, True, False, None),
    ("/kiosk/K1#search", True, True, False, "search"),
    ("/kiosk/K1#service", True, True, False, "service"),
    ("/kiosk/K1#elder", True, True, False, "elder"),
    ("/t/{token}", False, True, True, None),
    ("/results", False, False, True, None),
    ("/manager", False, False, False, None),
    ("/manage/appointments", False, False, False, None),
    ("/manage/cases", False, False, False, None),
    ("/manage/cases/{case}", False, False, False, None),
    ("/reports", False, False, False, None),
    ("/manage/applications", False, False, False, None),
    ("/manage/supervision", False, False, False, None),
    ("/manage/supervision#causes", False, False, False, "click:button[data-tab=causes]"),
    ("/manage/supervision#efficiency", False, False, False, "click:button[data-tab=efficiency]"),
    ("/manage/supervision#assessment", False, False, False, "click:button[data-tab=assessment]"),
    ("/manage/rota", False, False, False, None),
    # 后台管理 (signed in as an admin), each tab: its hash opens it
    *((f"/admin#{tab}", False, False, False, None) for tab in (
        "hall", "categories", "services", "windows", "staff", "devices", "notices", "catalogue", "versions", "raw")),
]


def busy_hall(url: str) -> dict[str, str]:
    """A morning's state: staffed windows calling, one paused, a finished service rated 差评 (its case)."""
    import httpx

    from tests.conftest import demo_staff

    http = httpx.Client(base_url=url, timeout=10)
    services = [s["id"] for s in http.get("/api/services").json()["services"] if s["issuing_open"]]
    for s in services * 2:
        http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": s})
    tokens = {}
    for window, (staff_id, pin) in demo_staff().items():
        tokens[window] = http.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
        auth = {"authorization": f"Bearer {tokens[window]}"}
        http.post(f"/api/windows/{window}/call-next", headers=auth)
        if window == "9":
            http.post(f"/api/windows/{window}/finish", headers=auth, json={})
            http.post(f"/api/windows/{window}/pause", headers=auth, json={"reason": "临时离开"})
    mine = http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move"}).json()
    manager = http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
    admin = http.post("/api/manager/sign-in", json={"manager_id": "admin", "password": "admin123"}).json()["token"]
    return {"token": mine["token"], "counter": tokens["2"], "manager": manager, "admin": admin,
            "case": _a_case(http, tokens["3"], manager)}


def _a_case(http, staff_token: str, manager: str) -> str:
    auth = {"authorization": f"Bearer {staff_token}"}
    number = http.post("/api/windows/3/finish", headers=auth, json={})
    ticket = http.get(f"/api/tickets/{number.json()['ticket']['id']}").json() if number.status_code == 200 else None
    assert ticket is not None
    # rated at the window's tablet pad: the invitation of the service just finished
    r = http.post("/api/pad/3/rating", headers={"x-pad-key": DEMO_PAD_KEYS["3"]},
                  json={"ticket": ticket["number"], "level": 5, "reasons": ["attitude"], "comment": "态度生硬"})
    assert r.status_code == 201, r.text
    cases = http.get("/api/cases", headers={"authorization": f"Bearer {manager}"}).json()["cases"]
    return cases[0]["case_id"]


def test_every_page_fits_every_screen_and_passes_axe(hall, browser):
    """Each page at 1280×720, 1366×768, 1920×1080, 3840×2160 and 1080×1920 (and a 390 px phone for the
    public pages): no sideways scroll, no text cut, fixed screens keep everything above the bottom edge;
    axe-core finds no serious or critical violation; touch pages have no control under 44 px; a form field the
    browser finds invalid says why in Chinese."""
    state = busy_hall(hall.url)
    problems = []
    for path, fixed, touch, phone, steps in PAGES:
        # the kiosk's, counter's and supervision's fragments only name the state; the admin page opens the tab its hash names
        url = hall.url + (path if path.startswith("/admin") else path.split("#")[0]).format(**state)
        token = state["admin"] if path.startswith("/admin") else state["manager"]
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
        ctx.add_init_script(f"sessionStorage.setItem('hall.manager.token', '{token}');"
                            f"sessionStorage.setItem('hall.counter.2', '{state['counter']}');"
                            f"localStorage.setItem('pad.key.6', '{DEMO_PAD_KEYS['6']}');"
                            + ("sessionStorage.setItem('kiosk.elder', '1');" if steps == "elder" else ""))
        page = ctx.new_page()
        try:
            page.goto(url)
            page.wait_for_timeout(1000)  # the snapshot and the event stream (kiosk and board poll: no network idle)
            if steps == "search":
                page.click("#go-search")
                for key in "sfz":
                    page.click(f".keys button[data-key={key}]")
                page.wait_for_selector("#results .item")
            elif steps == "service":
                page.locator(".tile").first.click()
                page.locator(".item", has_text="户籍迁移").first.click()
                page.wait_for_selector("#take")
            elif steps == "elder":
                page.locator(".tile").first.click()
                page.wait_for_selector(".pager")
            elif steps and steps.startswith("click:"):
                page.click(steps[len("click:"):])
                page.wait_for_timeout(500)
            sizes = {**SIZES, **({"390x844": (390, 844)} if phone else {})}
            for name, (w, h) in sizes.items():
                page.set_viewport_size({"width": w, "height": h})
                page.wait_for_timeout(150)  # a resize re-lays out; media queries apply at once
                found = clipped(page, fixed=fixed)
                if found:
                    problems.append((path, name, found[:5]))
                if touch and (small := small_targets(page)):
                    problems.append((path, name, "small targets", small[:5]))
            page.set_viewport_size({"width": 1920, "height": 1080} if not phone else {"width": 390, "height": 844})
            if violations := axe_violations(page):
                problems.append((path, "axe", violations))
            if english := english_validation(page):
                problems.append((path, "validation messages not in Chinese", english[:5]))
        finally:
            ctx.close()
    assert problems == [], "\n".join(map(str, problems))
