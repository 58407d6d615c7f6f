"""好差评 from the phone: the ticket's QR page offers a rating once the service is finished."""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.screens import axe_violations, small_targets
from tests.e2e.test_e2e_core import comprehensive_windows, open_services, sign_in_all
from tests.conftest import DEMO_KIOSK

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_rating_from_the_ticket_page(server, page):
    url = server.url
    ticket = httpx.post(f"{url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": open_services(url)[0]}).json()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/t/{ticket['token']}")
    expect(page.locator("#number")).to_have_text(ticket["number"])
    expect(page.locator("#rate")).to_be_hidden()  # nothing to rate before the service

    window = comprehensive_windows(url)[0]
    auth = sign_in_all(url, [window])[window]
    assert httpx.post(f"{url}/api/windows/{window}/call-next", headers=auth).json()["ticket"]["id"] == ticket["id"]
    httpx.post(f"{url}/api/windows/{window}/finish", headers=auth).raise_for_status()

    expect(page.locator("#rate")).to_be_visible(timeout=5000)
    page.get_by_role("button", name="不满意", exact=True).click()
    expect(page.locator("#reasons")).to_be_visible()
    page.locator("#reasons input").first.check()
    page.locator("#comment").fill("材料清单与窗口要求不一致")
    expect(page.locator("#comment-count")).to_have_text("12/500")  # [ratings] comment_max
    assert small_targets(page) == [] and axe_violations(page) == []  # reasons are finger-sized (44 px)
    page.locator("#rater").fill("李先生 13800000000")
    page.locator("#rate-send").click()
    expect(page.locator("#rate-msg")).to_have_text("感谢您的评价！")

    db = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
    level, channel, reasons, comment = db.execute(
        "SELECT level, channel, reasons, comment FROM ratings WHERE ticket_id = ?", (ticket["id"],)).fetchone()
    cases = db.execute("SELECT COUNT(*) FROM cases WHERE ticket_id = ?", (ticket["id"],)).fetchone()[0]
    db.close()
    assert (level, channel, cases) == (4, "mobile", 1) and reasons != "[]"  # a 差评 opens a case
    assert comment == "材料清单与窗口要求不一致"

    page.reload()  # the rating is shown, not the form again
    expect(page.locator("#rated")).to_have_text(re.compile("您已评价：不满意"))
    expect(page.locator("#rate")).to_be_hidden()
    # and a second rating is refused by the controller, whatever the page shows
    again = httpx.post(f"{url}/api/ratings", json={"token": ticket["token"], "level": 1, "channel": "mobile"})
    assert again.status_code == 409 and again.json()["error"] == "already_rated"
