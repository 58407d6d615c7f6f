"""办件 in headless Chromium against a real controller (demo hall, 09:30 Monday): the counter attaches a scanned
办件编号 and finishes 补办件 with its materials and a 一件事 ticket matter by matter; the kiosk shows the bundle
and issues a 出件 ticket by 办件编号; the citizen's phone shows the 办件; the manager's 办件 page filters.

Screenshots and the decoded 补正通知书 for docs/applications.md:
`APPLICATIONS_DOCS=docs .venv/bin/python -m pytest tests/browser/test_applications_browser.py`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import DEMO_KIOSK, DEMO_PAD_KEYS, ROOT, ServerProcess, demo_staff, open_manager_board

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SYSTEM = {"authorization": "Bearer demo-yichuang-key-0123456789"}
DOCS = os.environ.get("APPLICATIONS_DOCS")
COUNTER = {"width": 1600, "height": 1000}


def shot(page, name: str, full_page: bool = False) -> None:
    if DOCS:
        page.screenshot(path=str(Path(DOCS) / name), full_page=full_page)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("applications") / "hall.db").start()
    yield s
    s.stop()


def manager_token(url: str) -> dict:
    r = httpx.post(f"{url}/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
    return {"authorization": f"Bearer {r.json()['token']}"}


def counter(browser, url: str, window: str):
    context = browser.new_context(locale="zh-CN", viewport=COUNTER)
    page = context.new_page()
    staff_id, pin = demo_staff()[window]
    page.goto(f"{url}/counter/{window}")
    page.fill("#staff-id", staff_id)
    page.fill("#pin", pin)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()
    return context, page


def test_counter_attaches_a_scanned_number_and_finishes_a_supplement(browser, srv):
    context, page = counter(browser, srv.url, "3")
    httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "llc_registration"}).raise_for_status()
    page.click(".key[data-action=call-next]")
    expect(page.locator("#attach-form")).to_be_visible()
    brought = page.locator("#materials li label > span").nth(0).evaluate("e => e.firstChild.textContent")
    page.locator("#materials input[type=checkbox]").nth(0).check()  # the first material was brought
    page.fill("#application-no", "QH2026-330001")
    page.press("#application-no", "Enter")  # a USB scanner types the number and Enter
    expect(page.locator("#attached")).to_have_text("已关联 QH2026-330001")
    page.keyboard.press("F4")
    page.get_by_role("button", name="补办件").click()
    form = page.locator("#finish-form")
    expect(form).to_be_visible()
    expect(form.locator("input[name=application_no]")).to_have_value("QH2026-330001")
    checked = form.locator("input[name=missing]:checked")
    assert checked.count() >= 1  # what was not ticked on the checklist is offered as missing
    form.locator("input[name=other]").fill("经营场所使用证明")
    shot(page, "applications-counter.png")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("已办结（办件 QH2026-330001）")
    app = httpx.get(f"{srv.url}/api/applications/QH2026-330001", headers=manager_token(srv.url)).json()
    assert app["status"] == "supplement" and "经营场所使用证明" in app["missing"]
    assert brought not in app["missing"] and len(app["missing"]) >= 2
    context.close()


def test_counter_accepts_with_a_rongque_commitment(browser, srv):
    """容缺受理 at the counter: 承诺件 on an attached 办件, the 容缺 material and the date it is promised by."""
    context, page = counter(browser, srv.url, "11")
    httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "company_change"}).raise_for_status()
    page.click(".key[data-action=call-next]")
    page.fill("#application-no", "QH2026-110011")
    page.press("#application-no", "Enter")
    expect(page.locator("#attached")).to_have_text("已关联 QH2026-110011")
    page.keyboard.press("F4")
    page.get_by_role("button", name="承诺件").click()
    form = page.locator("#finish-form")
    expect(form.locator("legend")).to_contain_text("容缺受理")
    form.locator("input[name=other]").fill("股东会决议")
    form.locator("input[name=commitment_due]").fill("2026-11-25")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("已办结（办件 QH2026-110011）")
    app = httpx.get(f"{srv.url}/api/applications/QH2026-110011", headers=manager_token(srv.url)).json()
    assert app["status"] == "accepted" and app["commitment_materials"] == ["股东会决议"]
    assert app["commitment_due"].startswith("2026-11-25T") and app["due_at"].startswith("2026-11-24T")  # 承诺 1 个工作日
    context.close()


def test_counter_finishes_a_bundle_matter_by_matter(browser, srv):
    context, page = counter(browser, srv.url, "4")
    t = httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "newborn_bundle"}).json()
    page.click(".key[data-action=call-next]")
    expect(page.locator("#t-facts")).to_contain_text("一件事")
    expect(page.locator("#attach-form")).to_be_hidden()
    page.keyboard.press("F4")
    form = page.locator("#finish-form")
    expect(form.locator("fieldset.matter")).to_have_count(4)
    form.locator("select[name='outcome:newborn_hukou']").select_option("supplement")
    form.locator("input[name='note:newborn_hukou']").fill("结婚证")
    form.locator("select[name='outcome:social_security_card']").select_option("promised")
    form.locator("input[name='no:birth_certificate']").fill("CSYX-2026-0001")
    shot(page, "applications-bundle.png")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("已办结")
    headers = manager_token(srv.url)
    assert httpx.get(f"{srv.url}/api/applications/CSYX-2026-0001", headers=headers).json()["bundle_id"] == "newborn"
    hukou = httpx.get(f"{srv.url}/api/applications/QH{t['id'].replace('-', '')}-2", headers=headers).json()
    assert hukou["status"] == "supplement" and hukou["missing"] == ["结婚证"]
    context.close()


def test_kiosk_shows_the_bundle_and_issues_a_pickup_by_number(browser, srv, page):
    # a 办件 made ready by the business system
    staff_id, pin = demo_staff()["5"]
    token = httpx.post(f"{srv.url}/api/windows/5/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    t = httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "id_card_reissue"}).json()
    httpx.post(f"{srv.url}/api/windows/5/call-next", headers=auth).raise_for_status()
    httpx.post(f"{srv.url}/api/integration/windows/5/application", headers=SYSTEM,
               json={"application_no": "QH2026-550001", "phone": "13812345678"}).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/5/finish", headers=auth, json={"outcome": "promised"}).raise_for_status()
    for status in ("processing", "completed", "ready"):
        httpx.post(f"{srv.url}/api/integration/applications/QH2026-550001/status", headers=SYSTEM,
                   json={"status": status}).raise_for_status()

    page.goto(f"{srv.url}/kiosk/K1#key={DEMO_KIOSK['x-kiosk-key']}")
    page.click("[data-category=social]")
    while not page.locator("[data-service=newborn_bundle]").count():
        page.click("#next")
    page.click("[data-service=newborn_bundle]")
    expect(page.locator("#bundle-matters")).to_contain_text("出生医学证明办理、新生儿户口登记")
    names = page.locator("#materials li").all_inner_texts()
    assert sum("父母双方居民身份证" in n for n in names) == 1  # merged, once
    shot(page, "applications-kiosk-bundle.png")

    page.click("#home-btn")
    page.click("#go-pickup")
    for key in "QH2026-550001":
        page.click(f"#screen [data-key='{key}']")
    expect(page.locator("#pickup-entry")).to_have_text("QH2026-550001")
    page.click("#pickup-submit")
    expect(page.locator("#ticket-number")).to_have_text("E001")
    expect(page.locator("#screen")).to_contain_text("出件取号成功（居民身份证补领）")
    shot(page, "applications-kiosk-pickup.png")

    # the citizen's phone: the first ticket's page shows the 办件 ready for collection
    phone = page.context.browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    with sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True) as db:  # the token the kiosk's QR carried
        tok = db.execute("SELECT token FROM tickets WHERE id = ?", (t["id"],)).fetchone()[0]
    phone.goto(f"{srv.url}/t/{tok}")
    expect(phone.locator("#application-list")).to_contain_text("居民身份证补领（QH2026-550001）：可领取")
    shot(phone, "applications-phone.png")
    phone.context.close()


def test_kiosk_issues_a_pickup_by_id_card(browser, srv, page):
    """出件 by ID card: the business system sent the citizen's ID number with the 办件 (kept only as the keyed
    hash the reader produces); the card laid on kiosk K1 finds the ready 办件 and 领取结果 issues its ticket."""
    staff_id, pin = demo_staff()["10"]
    token = httpx.post(f"{srv.url}/api/windows/10/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "company_change"}).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/10/call-next", headers=auth).raise_for_status()
    httpx.post(f"{srv.url}/api/integration/windows/10/application", headers=SYSTEM, json={
        "application_no": "QH2026-100001", "citizen_name": "钱七", "id_number": "371502199001010033"}).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/10/finish", headers=auth, json={"outcome": "promised"}).raise_for_status()
    for status in ("completed", "ready"):
        httpx.post(f"{srv.url}/api/integration/applications/QH2026-100001/status", headers=SYSTEM,
                   json={"status": status}).raise_for_status()
    page.goto(f"{srv.url}/kiosk/K1#key={DEMO_KIOSK['x-kiosk-key']}")
    httpx.post(f"{srv.url}/api/sim/id-readers/K1/swipe", json={
        "name": "钱七", "sex": "男", "birth": "1990-01-01", "id_number": "371502199001010033"}).raise_for_status()
    page.click("#swipe-pickup")
    expect(page.locator("#screen")).to_contain_text("出件取号成功（企业变更登记）")
    app = httpx.get(f"{srv.url}/api/applications/QH2026-100001", headers=manager_token(srv.url)).json()
    assert app["pickup_ticket_id"] and app["status"] == "ready"  # handed over when window 17/18 finishes it


def test_manager_page_lists_and_filters(browser, srv):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{srv.url}/manage/applications")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#signin button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("#list tbody tr[data-no='QH2026-330001']")).to_be_visible()
    page.select_option("select[name=status]", "supplement")
    expect(page.locator("#list tbody tr[data-no='QH2026-550001']")).to_have_count(0)
    expect(page.locator("#list tbody tr[data-no='QH2026-330001']")).to_be_visible()
    page.locator("#list tbody tr[data-no='QH2026-330001'] button").click()
    expect(page.locator("#detail-title")).to_contain_text("QH2026-330001")
    expect(page.locator("#detail-facts")).to_contain_text("经营场所使用证明")
    expect(page.locator("#bundles tbody")).to_contain_text("新生儿出生一件事")
    shot(page, "applications-manager.png", full_page=True)
    # the 统计报表 (same tab: the manager's sign-in holds) counts the 一件事 finished at window 4, 4 matters
    page.goto(f"{srv.url}/reports")
    expect(page.locator("#note")).to_contain_text("一件事“新生儿出生一件事”办结 1 件、4 个事项。")
    context.close()


def test_manager_records_a_mailing_instead_of_a_pickup(browser, srv):
    """政务专递: a ready 办件 is mailed; the page records recipient, address and waybill."""
    staff_id, pin = demo_staff()["6"]
    token = httpx.post(f"{srv.url}/api/windows/6/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "food_business_licence"}).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/6/call-next", headers=auth).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/6/finish", headers=auth,
               json={"outcome": "immediate", "application_no": "QH2026-660001"}).raise_for_status()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{srv.url}/manage/applications")
    page.fill("input[name=manager_id]", "manager")
    page.fill("input[name=password]", "manager123")
    page.click("#signin button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.fill("input[name=no]", "QH2026-660001")
    page.press("input[name=no]", "Enter")
    mail = page.locator("#mail")
    expect(mail).to_be_visible()
    mail.locator("input[name=recipient]").fill("赵六")
    mail.locator("input[name=phone]").fill("13700001111")
    mail.locator("input[name=address]").fill("清河县幸福路 8 号")
    mail.locator("input[name=waybill]").fill("11800")
    mail.locator("button[type=submit]").click()
    expect(mail.locator("#waybill-error")).to_contain_text("运单号应为 6–40 位")  # beside the field
    mail.locator("input[name=waybill]").fill("1180012345678")
    mail.locator("button[type=submit]").click()
    expect(page.locator("#detail-facts")).to_contain_text("已寄递")
    expect(page.locator("#detail-facts")).to_contain_text("中国邮政 EMS 1180012345678 · 清河县幸福路 8 号")
    expect(page.locator("#detail-facts")).not_to_contain_text("13700001111")  # the phone is not kept readable
    expect(mail).to_be_hidden()
    context.close()


def ready_application(url: str, window: str, service_id: str, no: str) -> dict:
    """A 办件 finished at `window` and made 可领取 by the business system; returns the served ticket."""
    staff_id, pin = demo_staff()[window]
    token = httpx.post(f"{url}/api/windows/{window}/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    t = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id}).json()
    httpx.post(f"{url}/api/windows/{window}/call-next", headers=auth).raise_for_status()
    httpx.post(f"{url}/api/windows/{window}/finish", headers=auth,
               json={"outcome": "immediate", "application_no": no}).raise_for_status()
    httpx.post(f"{url}/api/integration/applications/{no}/status", headers=SYSTEM,
               json={"status": "ready"}).raise_for_status()
    return t


def test_counter_mails_a_ready_application_at_the_pickup_window(browser, srv):
    """政务专递 at the 统一出件 window's soft keypad: the 出件 ticket's 办件 mailed instead of handed over; a
    wrong phone number or waybill is answered beside its field."""
    # window 17 clears the 出件 queue first, so window 18 calls this test's ticket
    staff_id, pin = demo_staff()["17"]
    token = httpx.post(f"{srv.url}/api/windows/17/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth17 = {"authorization": f"Bearer {token}"}
    while httpx.post(f"{srv.url}/api/windows/17/call-next", headers=auth17).status_code == 200:  # 204: none left
        httpx.post(f"{srv.url}/api/windows/17/finish", headers=auth17).raise_for_status()
    httpx.post(f"{srv.url}/api/windows/17/sign-out", headers=auth17).raise_for_status()
    ready_application(srv.url, "7", "hukou_move", "QH2026-770001")
    pickup = httpx.post(f"{srv.url}/api/kiosk/K1/pickup", headers=DEMO_KIOSK,
                        json={"request_id": "browser-pickup-770001", "application_no": "QH2026-770001"})
    assert pickup.status_code == 201, pickup.text

    context, page = counter(browser, srv.url, "18")
    page.click(".key[data-action=call-next]")
    expect(page.locator("#t-number")).to_have_text(pickup.json()["ticket"]["number"])
    expect(page.locator("#attach-form")).to_be_hidden()
    row = page.locator("#handover-list li[data-no='QH2026-770001']")
    expect(row).to_contain_text("可领取")
    row.get_by_role("button", name="政务专递").click()
    form = page.locator("#mail-form")
    expect(form.locator("input[name=application_no]")).to_have_value("QH2026-770001")
    form.locator("input[name=recipient]").fill("周八")
    form.locator("input[name=phone]").fill("1371234")
    form.locator("input[name=address]").fill("清河县文化路 18 号 3 单元")
    form.locator("input[name=waybill]").fill("1190012345678")
    form.locator("button[type=submit]").click()
    error = form.locator("#phone-error")
    expect(error).to_contain_text("手机号码")
    expect(form.locator("input[name=phone]")).to_have_attribute("aria-invalid", "true")
    shot(page, "applications-counter-mailing.png")
    form.locator("input[name=phone]").fill("13712345678")
    expect(error).to_have_count(0)  # cleared as the field is edited
    form.locator("input[name=waybill]").fill("119 0012")
    form.locator("button[type=submit]").click()
    expect(form.locator("#waybill-error")).to_contain_text("运单号")
    form.locator("input[name=waybill]").fill("1190012345678")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("已登记政务专递：办件 QH2026-770001，运单号 1190012345678")
    expect(row).to_contain_text("已寄递 · 1190012345678")
    page.keyboard.press("F4")
    page.get_by_role("button", name="即办件").click()
    expect(page.locator("#toast")).to_contain_text("已办结")
    app = httpx.get(f"{srv.url}/api/applications/QH2026-770001", headers=manager_token(srv.url)).json()
    assert app["status"] == "mailed" and app["delivery"]["waybill"] == "1190012345678"
    assert app["delivery"]["phone"] == "137****5678"
    context.close()


def test_the_tablet_pad_shows_the_application_it_rates(browser, srv):
    """The business system triggers the evaluation with its 办件: the tablet names the 办件 (masked) and the
    matter instead of the ticket, and the rating is filed under it."""
    staff_id, pin = demo_staff()["8"]
    token = httpx.post(f"{srv.url}/api/windows/8/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    pad = context.new_page()
    pad.goto(f"{srv.url}/pad/8#key={DEMO_PAD_KEYS['8']}")
    expect(pad.locator("#link")).to_have_attribute("data-online", "true")
    t = httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move"}).json()
    httpx.post(f"{srv.url}/api/windows/8/call-next", headers=auth).raise_for_status()
    httpx.post(f"{srv.url}/api/integration/windows/8/application", headers=SYSTEM,
               json={"application_no": "QH2026-880001"}).raise_for_status()
    r = httpx.post(f"{srv.url}/api/integration/applications/QH2026-880001/evaluate", headers=SYSTEM,
                   json={"outcome": "promised"})
    assert r.status_code == 200 and r.json()["finished"] is True, r.text
    expect(pad.locator("#rate")).to_be_visible()
    expect(pad.locator("#rate-ticket")).to_have_text("办件 QH20*****0001")
    expect(pad.locator("#rate-service")).to_have_text("户籍迁移（户口迁入）")
    shot(pad, "applications-pad.png")
    pad.locator(".level-1").click()
    pad.locator("#submit").click()
    expect(pad.locator("#thanks")).to_be_visible()
    with sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True) as db:
        row = db.execute("SELECT application_no FROM ratings WHERE ticket_id = ?", (t["id"],)).fetchone()
    assert row == ("QH2026-880001",)
    context.close()


def test_the_command_line_over_the_api(srv):
    """`hall-controller applications … --url` against the running hall, signed in as a manager."""
    env = {**os.environ, "HALL_MANAGER_PASSWORD": "manager123"}

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hall_controller.cli", "applications", *argv, "--url", srv.url],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    shown = cli("show", "QH2026-330001")
    assert shown.returncode == 0, shown.stderr
    assert "办件 QH2026-330001  有限责任公司设立登记" in shown.stdout and "状态：待补正" in shown.stdout
    listed = cli("list", "--status", "supplement", "--json")
    assert "QH2026-330001" in [a["application_no"] for a in json.loads(listed.stdout)["applications"]]
    report = cli("report", "--from", "2026-11-01", "--to", "2026-11-30")
    assert "一件事 新生儿出生一件事：1 件，4 个事项" in report.stdout, report.stdout
    wrong = subprocess.run([sys.executable, "-m", "hall_controller.cli", "applications", "list", "--url", srv.url],
                           cwd=ROOT, env={**env, "HALL_MANAGER_PASSWORD": "wrong-password"}, capture_output=True,
                           text=True, timeout=60)
    assert wrong.returncode == 2 and "applications list: 401" in wrong.stderr


def test_overdue_applications_alert_on_the_live_board(browser, tmp_path_factory):
    """承诺件 and 容缺 deadlines after the counter: the hall reopens two days later, the watch finds both
    missed, and the manager's live board shows 办件超期 until each is met (materials supplied, 办结)."""
    db = tmp_path_factory.mktemp("applications-overdue") / "hall.db"
    monday = ServerProcess(db).start()  # 2026-11-23 09:30
    try:
        staff_id, pin = demo_staff()["9"]
        token = httpx.post(f"{monday.url}/api/windows/9/sign-in", json={"staff_id": staff_id, "pin": pin}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        for service_id, body in (
                ("llc_registration", {"outcome": "promised", "application_no": "QH2026-990001"}),  # 承诺 1 个工作日
                ("company_change", {"outcome": "promised", "application_no": "QH2026-990002",  # 容缺: today
                                    "missing_materials": ["股东会决议"], "commitment_due": "2026-11-23"})):
            httpx.post(f"{monday.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id}).raise_for_status()
            httpx.post(f"{monday.url}/api/windows/9/call-next", headers=auth).raise_for_status()
            httpx.post(f"{monday.url}/api/windows/9/finish", headers=auth, json=body).raise_for_status()
    finally:
        monday.stop()
    wednesday = ServerProcess(db, clock_start="2026-11-25T09:30:00").start()
    try:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        open_manager_board(page, wednesday.url)
        alerts = page.locator("#alerts")
        expect(alerts).to_contain_text("办件 QH2026-990001（有限责任公司设立登记）承诺办结已超过期限（11-24 17:30）")
        expect(alerts).to_contain_text("办件 QH2026-990002（企业变更登记）容缺材料补交已超过期限（11-23 17:30）")
        expect(alerts).to_contain_text("办件超期")
        shot(page, "applications-board-overdue.png")
        # the 容缺 materials come in: that alert ends, and the 承诺 deadline it still misses takes its place
        httpx.post(f"{wednesday.url}/api/integration/applications/QH2026-990002/status", headers=SYSTEM,
                   json={"supplied": True}).raise_for_status()
        expect(alerts).to_contain_text("办件 QH2026-990002（企业变更登记）承诺办结已超过期限（11-24 17:30）")
        expect(alerts).not_to_contain_text("容缺材料补交")
        # 办结 ends the other
        httpx.post(f"{wednesday.url}/api/integration/applications/QH2026-990001/status", headers=SYSTEM,
                   json={"status": "completed"}).raise_for_status()
        expect(alerts).not_to_contain_text("QH2026-990001")
        expect(alerts).to_contain_text("QH2026-990002")
        context.close()
    finally:
        wednesday.stop()
