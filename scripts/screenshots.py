"""Screenshots of the hall's staff and wall pages under load: the hall board, two window displays, the counter
keypad, the tablet pad and the manager live board (docs/hall-board.png, hall-board-portrait.png,
window-display*.png, counter-keypad.png, pad.png, manager-board.png, manager-categories.png).

Drives a morning of the demo hall through the HTTP API on a manual clock (arrivals, calls, finishes, no-shows,
ratings, pauses, a re-assigned window, a notice), so waits and service times are a real morning's, then serves
that ledger with the real server at the morning's end and photographs each page in headless Chromium.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from hall_controller.app import build_app, load_config  # noqa: E402
from hall_controller.core.clock import ManualClock  # noqa: E402
from hall_controller.core.decision import Decision  # noqa: E402
from hall_controller.http.app import ServeOptions  # noqa: E402
from tests.conftest import (  # noqa: E402
    CHROMIUM_ARGS,
    DEMO_CONFIG,
    DEMO_KIOSK,
    DEMO_PAD_KEYS,
    ServerProcess,
    demo_staff,
    open_manager_board,
)

START = datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
END = START + timedelta(hours=2, minutes=20)
WINDOWS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "13", "14", "15", "16", "17", "19"]
AWAY = {"14": "临时离开"}  # paused all morning: the window display shows 暂停服务
NOTICE = "上午业务高峰，21号高峰应急窗口已开启，请留意叫号；过号请到咨询服务台重新排队。"
MIX = {"hukou_move": 4, "id_card_renew": 5, "social_insurance_enrol": 3, "individual_business": 3,
       "llc_registration": 2, "pickup_result": 2, "policy_consult": 1}


def drive(db: Path) -> None:
    rng = random.Random(20261123)
    clock = ManualClock(START)
    app = build_app(load_config(DEMO_CONFIG), str(db), clock, ServeOptions(devices="none", rate_limit=0))
    services = [s for s in MIX if s]
    weights = [MIX[s] for s in services]
    with TestClient(app) as c:
        boss = {"Authorization": "Bearer " + c.post("/api/manager/sign-in", json={
            "manager_id": "manager", "password": "manager123"}).json()["token"]}
        staff = demo_staff()
        auth = {}
        for w in WINDOWS:
            sid, pin = staff[w]
            auth[w] = {"Authorization": "Bearer " + c.post(f"/api/windows/{w}/sign-in",
                                                            json={"staff_id": sid, "pin": pin}).json()["token"]}
        c.post("/api/manager/windows/8/categories", headers=boss, json={"weights": {"social": 3, "business": 2}})
        for w, reason in AWAY.items():
            c.post(f"/api/windows/{w}/pause", headers=auth[w], json={"reason": reason})
        busy_until: dict[str, datetime] = {}
        tokens: dict[str, str] = {}
        while clock.now() < END:
            now = clock.now()
            minute = (now - START).total_seconds() / 60
            rate = 2.2 if 40 < minute < 110 else 1.2  # the morning peak
            for _ in range(sum(1 for _ in range(6) if rng.random() < rate / 6)):
                r = c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": rng.choices(services, weights)[0]})
                if r.status_code == 201:
                    tokens[r.json()["id"]] = r.json()["token"]
            for w in WINDOWS:
                view = c.get(f"/api/windows/{w}").json()
                pausing = w == "5" and now >= END - timedelta(minutes=22)  # 5号 takes a break once free
                if pausing and view["state"] == "open":
                    c.post("/api/windows/5/pause", headers=auth[w], json={"reason": "临时离岗"})
                    continue
                if w in AWAY:
                    continue
                if view["ticket"] is not None and now >= busy_until[w]:
                    if rng.random() < 0.06 and view["ticket"]["status"] == "called":
                        c.post(f"/api/windows/{w}/skip", headers=auth[w])
                    else:
                        done = c.post(f"/api/windows/{w}/finish", headers=auth[w]).json()["ticket"]
                        if rng.random() < 0.7:
                            level = rng.choices([1, 2, 3, 4, 5], [60, 25, 8, 4, 3])[0]
                            c.post("/api/ratings", json={"token": tokens[done["id"]], "level": level})
                elif view["ticket"] is None and view["state"] == "open" and not pausing:
                    r = c.post(f"/api/windows/{w}/call-next", headers=auth[w])
                    if r.status_code == 200:
                        busy_until[w] = now + timedelta(minutes=rng.lognormvariate(2.0, 0.45))
            clock.advance(minutes=1)
        if c.get("/api/windows/3").json()["ticket"] is None:  # the counter screenshot shows a ticket in service
            c.post("/api/windows/3/call-next", headers=auth["3"])
        c.post("/api/manager/notice", headers=boss, json={"text": NOTICE, "minutes": 120})
        app.state.service.execute(lambda now: Decision(events=[
            ("printer.status", {"printer_id": "kiosk-1", "paper": "near_end", "online": True, "error": None})]))


def _settle(page) -> None:
    """Let arrival flashes finish and pose the notice marquee with its text in view."""
    page.wait_for_timeout(4500)
    page.evaluate("""() => { for (const a of document.getAnimations())
        if (a.animationName === 'marquee') a.currentTime = a.effect.getComputedTiming().duration * 0.3; }""")


def photograph(db: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    docs = ROOT / "docs"
    srv = ServerProcess(db, clock_start=END.replace(tzinfo=None).isoformat(), extra=["--devices", "none"]).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, path, (width, height) in [("hall-board", "/board", (1920, 1080)),
                                                ("hall-board-portrait", "/board", (1080, 1920)),
                                                ("window-display", "/window/3", (1280, 720)),
                                                ("window-display-paused", "/window/14", (1280, 720))]:
                page = browser.new_page(locale="zh-CN", viewport={"width": width, "height": height})
                page.goto(srv.url + path)
                expect(page.locator("#link")).to_have_attribute("data-online", "true")
                _settle(page)
                page.screenshot(path=docs / f"{name}.png")
                page.close()

            page = browser.new_page(locale="zh-CN", viewport={"width": 1600, "height": 900})
            page.goto(f"{srv.url}/counter/3")
            staff_id, pin = demo_staff()["3"]
            page.fill("#staff-id", staff_id)
            page.fill("#pin", pin)
            page.click("button[type=submit]")
            page.wait_for_selector("#desk:not([hidden])")
            boxes = page.locator("#materials input[type=checkbox]")
            for i in range(min(2, boxes.count())):
                boxes.nth(i).check()
            page.wait_for_timeout(2800)  # the sign-in toast fades
            page.screenshot(path=docs / "counter-keypad.png")
            page.close()

            # the tablet pad at window 4, invited by the service it just finished, a 差评 being given
            page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
            page.goto(f"{srv.url}/pad/4#key={DEMO_PAD_KEYS['4']}")  # the tablet provisioned with its key
            expect(page.locator("#link")).to_have_attribute("data-online", "true")
            staff_id, pin = demo_staff()["4"]
            token = httpx.post(f"{srv.url}/api/windows/4/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            if httpx.get(f"{srv.url}/api/windows/4").json()["ticket"] is None:
                httpx.post(f"{srv.url}/api/windows/4/call-next", headers=auth)
            httpx.post(f"{srv.url}/api/windows/4/finish", headers=auth, json={})
            page.wait_for_selector("#rate:not([hidden])")
            page.click(".level-4")
            page.locator(".reason", has_text="等候时间长").click()
            page.fill("#comment", "叫号后等了二十分钟")
            page.screenshot(path=docs / "pad.png")
            page.close()

            page = browser.new_page(locale="zh-CN", viewport={"width": 1600, "height": 1000})
            open_manager_board(page, srv.url)
            page.wait_for_timeout(500)
            page.screenshot(path=docs / "manager-board.png", full_page=True)
            page.click('#windows button[data-categories="8"]')
            page.wait_for_timeout(300)
            page.screenshot(path=docs / "manager-categories.png")
            browser.close()
    finally:
        srv.kill()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "hall.db"
        drive(db)
        photograph(db)
    print("wrote docs/hall-board.png, hall-board-portrait.png, window-display.png, window-display-paused.png, "
          "counter-keypad.png, pad.png, manager-board.png, manager-categories.png")


if __name__ == "__main__":
    main()
