"""Role boundaries on the whole demo hall: kiosk (anonymous), staff at their own window, manager, admin;
and public surfaces that carry no personal data."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.http.app import ServeOptions
from hall_controller.http.pages import MANAGE_PAGES
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cfg = load_config(DEMO_CONFIG)
    var = tmp_path_factory.mktemp("roles")
    clock = ManualClock(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo(cfg.timezone)))
    app = build_app(cfg, str(var / "hall.db"), clock, ServeOptions(devices="none", var_dir=var, rate_limit=0))
    with TestClient(app) as client:
        yield client


def login(client, who: str, password: str) -> dict[str, str]:
    r = client.post("/api/manager/sign-in", json={"manager_id": who, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def staff_login(client, window: str) -> dict[str, str]:
    raw = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    member = next(s for s in raw["staff"] if window in [str(w) for w in s["windows"]])
    r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": member["id"], "pin": member["pin"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_anonymous_kiosk_cannot_act_for_staff_or_managers(demo):
    assert demo.post("/api/windows/1/call-next").status_code == 401
    assert demo.get("/api/manager/overview").status_code == 401
    assert demo.post("/api/manager/windows/1/close").status_code == 401
    assert demo.post("/api/retention/purge").status_code == 401
    assert demo.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": demo.get("/api/services").json()["services"][0]["id"]}
                     ).status_code in (201, 409)  # issuing is the kiosk's own right


def test_staff_only_at_their_own_window_and_never_as_manager(demo):
    staff = staff_login(demo, "1")
    assert demo.post("/api/windows/2/call-next", headers=staff).status_code == 403
    assert demo.post("/api/windows/1/call-next", headers=staff).status_code in (200, 204)
    assert demo.get("/api/manager/overview", headers=staff).status_code == 403
    assert demo.post("/api/manager/notice", headers=staff, json={"text": "x"}).status_code == 403
    assert demo.post("/api/retention/purge", headers=staff).status_code == 403


def test_staff_managers_and_admins_cannot_rate(demo):
    for auth in (staff_login(demo, "3"), login(demo, "manager", "manager123"), login(demo, "admin", "admin123")):
        r = demo.post("/api/ratings", headers=auth, json={"token": "whatever", "level": 1})
        assert r.status_code == 403 and r.json()["error"] == "staff_cannot_rate", r.text


def test_manager_acts_and_is_recorded_but_is_no_admin_or_staff(demo):
    manager = login(demo, "manager", "manager123")
    assert demo.get("/api/manager/overview", headers=manager).status_code == 200
    assert demo.post("/api/windows/5/call-next", headers=manager).status_code == 401
    assert demo.post("/api/retention/purge", headers=manager).status_code == 403
    r = demo.post("/api/manager/notice", headers=manager, json={"text": "午间值班窗口：1、2号"})
    assert r.status_code == 200
    notices = [e for e in demo.get("/api/events?since=0&limit=1000").json()["events"] if e["type"] == "hall.notice"]
    assert notices[-1]["data"]["by"] == "manager"


def test_admin_purges_and_is_recorded(demo):
    admin = login(demo, "admin", "admin123")
    r = demo.post("/api/retention/purge", headers=admin)
    assert r.status_code == 200
    purges = [e for e in demo.get("/api/events?since=0&limit=1000").json()["events"] if e["type"] == "retention.purged"]
    assert purges and purges[-1]["data"]["by"] == "admin"


def test_public_surfaces_carry_no_personal_data(demo):
    staff_login(demo, "7")
    service = demo.get("/api/services").json()["services"][0]["id"]
    ticket = demo.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service}).json()
    public = {
        "/api/hall": demo.get("/api/hall").text,
        "/api/board": demo.get("/api/board").text,
        "/api/results": demo.get("/api/results").text,
        "/board": demo.get("/board").text,
        f"/api/t/{ticket.get('token', 'x')}": demo.get(f"/api/t/{ticket.get('token', 'x')}").text,
        "/api/events": demo.get("/api/events?since=0&limit=1000").text,
    }
    for path, body in public.items():
        assert '"pin"' not in body and "pin_hash" not in body, path
        assert "pbkdf2" not in body and "password" not in body and "token_hash" not in body, path
        assert '"holder"' not in body and "id_number" not in body and '"phone"' not in body, path


def test_the_public_event_stream_carries_no_personal_text(demo):
    svc = demo.app.state.service
    staff = staff_login(demo, "2")
    manager = login(demo, "manager", "manager123")
    service = next(s["id"] for s in demo.get("/api/services").json()["services"] if s["issuing_open"])
    r = demo.post("/api/appointments", headers=staff, json={"service_id": service, "date": "2026-11-24", "slot": "10:00",
                                                            "name": "欧阳明月", "phone": "13912345678", "channel": "phone"})
    assert r.status_code == 201, r.text
    booked = r.json()["appointment"]
    demo.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service})
    called = demo.post("/api/windows/2/call-next", headers=staff).json()["ticket"]
    demo.post("/api/windows/2/finish", headers=staff)
    token = svc.hall.tickets[called["id"]].token
    r = demo.post("/api/ratings", json={"token": token, "level": 5, "comment": "评价留言甲乙丙丁"})
    assert r.status_code == 200, r.text
    case_id = demo.get("/api/cases", headers=manager).json()["cases"][0]["case_id"]
    demo.post(f"/api/cases/{case_id}/verify", headers=manager, json={"valid": True, "note": "核实记录戊己庚辛"})
    r = demo.post("/api/complaints", json={"content": "投诉正文子丑寅卯", "name": "李四", "phone": "13700001111"})
    assert r.status_code in (200, 201), r.text
    secrets_ = ("评价留言甲乙丙丁", "核实记录戊己庚辛", "投诉正文子丑寅卯", booked["name"], booked["phone"])

    def leaks(text: str) -> list[str]:
        return [s for s in secrets_ if s in text]

    public = demo.get("/api/events?since=0&limit=1000").text + demo.get(f"/api/tickets/{called['id']}/history").text
    with demo.websocket_connect("/ws/events?since=0") as ws:
        last = svc.ledger.last_seq
        streamed = []
        while not streamed or streamed[-1]["seq"] < last:
            streamed.append(ws.receive_json())
    assert leaks(public) == [] and leaks(json.dumps(streamed, ensure_ascii=False)) == []
    assert {"rating.recorded", "case.opened", "case.verified", "complaint.registered", "appointment.booked"} <= {
        e["type"] for e in streamed}
    assert not [e for e in streamed if "id" in e["data"].get("appointment", {})
                or "appointment_id" in (e["data"].get("ticket") or {})]
    whole = demo.get("/api/events?since=0&limit=1000", headers=manager).text
    with demo.websocket_connect("/ws/events?since=0", headers=manager) as ws:
        streamed = []
        while not streamed or streamed[-1]["seq"] < last:
            streamed.append(ws.receive_json())
    assert set(leaks(whole)) == set(secrets_) and set(leaks(json.dumps(streamed, ensure_ascii=False))) == set(secrets_)
    assert demo.get("/api/events", headers=staff).status_code == 403  # a staff token is no manager's


def test_every_manager_page_offers_every_other_in_one_menu(demo):
    """A manager reaches 办件管理, 后台管理 and the rest from any manager page, the page shown marked."""
    for path, label in MANAGE_PAGES:
        r = demo.get(path)
        assert r.status_code == 200, path
        menu = re.search(r'<nav class="pages" aria-label="管理页面">(.*?)</nav>', r.text, re.S)
        assert menu, path
        links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', menu[1])
        assert [(href, text) for href, _, text in links] == list(MANAGE_PAGES), path
        assert [href for href, current, _ in links if current] == [path], (path, label)
