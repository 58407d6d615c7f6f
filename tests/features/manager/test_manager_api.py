"""The manager API in-process: roles, actions recorded with who did them, and the overview's figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from display_board.feature import feature as screens
from hall_controller.app import open_ledger
from hall_controller.core.decision import Decision
from hall_controller.core.passwords import hash_secret
from hall_controller.core.service import HallService
from hall_controller.core.settings import Manager
from hall_controller.features.manager.feature import feature as manager
from hall_controller.features.manager.rules import ManagerSettings
from hall_controller.http.app import create_app
from tests.factory import KIOSK, small_hall, with_kiosk

PASSWORD = hash_secret("secret1", iterations=1000)
MANAGER_ROUTES = [
    ("GET", "/api/manager/overview", None),
    ("POST", "/api/manager/windows/1/open", None),
    ("POST", "/api/manager/windows/1/close", None),
    ("POST", "/api/manager/windows/1/categories", {"weights": None}),
    ("POST", "/api/manager/notice", {"text": "通知"}),
    ("DELETE", "/api/manager/notice", None),
    ("POST", "/api/manager/alerts/acknowledge", {"alert_id": "queue:social@x"}),
]


@pytest.fixture
def hall_service(tmp_path, clock):
    config = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", PASSWORD),
                                             Manager("root", "系统管理员", "admin", PASSWORD)))
    config.sections["manager"] = ManagerSettings(queue_alert=3, idle_alert_minutes=5, pause_alert_minutes=10)
    svc = HallService(config, open_ledger(tmp_path / "hall.db"), clock)
    yield svc
    svc.ledger.close()


@pytest.fixture
def app_client(hall_service):
    app = with_kiosk(create_app(hall_service, [manager, screens]))
    with TestClient(app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def boss(app_client) -> dict[str, str]:
    r = app_client.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "secret1"})
    return bearer(r.json()["token"])


def staff(client: TestClient, window: str) -> dict[str, str]:
    r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": f"S00{window}", "pin": "1234"})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


def events(client: TestClient, type_: str) -> list[dict]:
    return [e for e in client.get("/api/events").json()["events"] if e["type"] == type_]


@pytest.mark.parametrize("method,path,body", MANAGER_ROUTES)
def test_manager_routes_need_a_manager(app_client, boss, method, path, body):
    assert app_client.request(method, path, json=body).status_code == 401
    assert app_client.request(method, path, json=body, headers=bearer("forged-token")).status_code == 401
    r = app_client.request(method, path, json=body, headers=staff(app_client, "2"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = app_client.request(method, path, json=body, headers=boss)
    assert r.status_code in (200, 404), r.text  # 404 only for acknowledging an alert that does not exist
    assert r.status_code == 200 or r.json()["error"] == "unknown_alert"


def test_an_admin_may_act_as_manager(app_client):
    token = app_client.post("/api/manager/sign-in", json={"manager_id": "root", "password": "secret1"}).json()["token"]
    assert app_client.get("/api/manager/overview", headers=bearer(token)).status_code == 200


def test_close_and_open_a_window_are_recorded_with_who(app_client, boss):
    staff(app_client, "1")
    r = app_client.post("/api/manager/windows/1/close", headers=boss)
    assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["staff"] is None
    assert app_client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).status_code == 409
    r = app_client.post("/api/manager/windows/1/open", headers=boss)
    assert r.json()["state"] == "signed_out"
    assert [e["data"]["by"] for e in events(app_client, "window.closed")] == ["boss"]
    assert [e["data"]["by"] for e in events(app_client, "window.opened")] == ["boss"]
    assert app_client.post("/api/manager/windows/nope/close", headers=boss).status_code == 404


def test_a_window_serving_cannot_be_closed(app_client, boss):
    auth = staff(app_client, "1")
    app_client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"})
    app_client.post("/api/windows/1/call-next", headers=auth)
    r = app_client.post("/api/manager/windows/1/close", headers=boss)
    assert r.status_code == 409 and r.json()["error"] == "window_busy"


def test_reassigned_categories_decide_the_next_call_and_reset_restores_the_config(app_client, boss, clock):
    auth = staff(app_client, "3")  # window 3: social 3, other 1
    social = app_client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"}).json()
    clock.advance(minutes=1)
    business = app_client.post("/api/tickets", headers=KIOSK, json={"service_id": "B1"}).json()
    r = app_client.post("/api/manager/windows/3/categories", headers=boss, json={"weights": {"business": 2}})
    assert r.status_code == 200 and r.json()["categories"] == {"business": 2.0}
    assert app_client.post("/api/windows/3/call-next", headers=auth).json()["ticket"]["id"] == business["id"]
    app_client.post("/api/windows/3/finish", headers=auth)
    assert app_client.post("/api/windows/3/call-next", headers=auth).status_code == 204  # social no longer here
    r = app_client.post("/api/manager/windows/3/categories", headers=boss, json={"weights": None})
    assert r.json()["categories"] == {"social": 3.0, "other": 1.0}
    assert app_client.post("/api/windows/3/call-next", headers=auth).json()["ticket"]["id"] == social["id"]
    assert [e["data"]["by"] for e in events(app_client, "window.categories_changed")] == ["boss", "boss"]


@pytest.mark.parametrize("weights,status", [({}, 422), ({"social": 0}, 422), ({"social": 101}, 422),
                                            ({"social": True}, 422), ({"social": "3"}, 422), ({"nope": 1}, 404)])
def test_bad_weights_are_refused(app_client, boss, weights, status):
    r = app_client.post("/api/manager/windows/3/categories", headers=boss, json={"weights": weights})
    assert r.status_code == status, r.text


def test_notice_broadcast_is_recorded_with_who_and_can_be_withdrawn(app_client, boss, clock):
    assert app_client.get("/api/notice").json() == {"notice": None}
    r = app_client.post("/api/manager/notice", headers=boss, json={"text": " 午间窗口 1、2 号值班 ", "minutes": 30})
    assert r.status_code == 200
    [e] = events(app_client, "hall.notice")
    assert e["data"]["text"] == "午间窗口 1、2 号值班" and e["data"]["by"] == "boss"
    assert e["data"]["until"] == (clock.now() + timedelta(minutes=30)).isoformat()
    assert app_client.get("/api/notice").json()["notice"]["text"] == "午间窗口 1、2 号值班"
    clock.advance(minutes=31)
    assert app_client.get("/api/notice").json()["notice"] is None  # expired
    app_client.post("/api/manager/notice", headers=boss, json={"text": "新公告"})
    app_client.delete("/api/manager/notice", headers=boss)
    assert app_client.get("/api/notice").json()["notice"] is None
    assert events(app_client, "hall.notice")[-1]["data"] == {"text": "", "by": "boss"}
    assert app_client.post("/api/manager/notice", headers=boss, json={"text": "   "}).status_code == 422
    assert app_client.post("/api/manager/notice", headers=boss, json={"text": "x" * 201}).status_code == 422


def test_alerts_appear_clear_and_are_acknowledged_with_who(app_client, boss, clock):
    auth = staff(app_client, "3")
    app_client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"})
    app_client.post("/api/windows/3/pause", headers=auth, json={"reason": "会议"})
    assert app_client.get("/api/manager/overview", headers=boss).json()["alerts"] == []
    clock.advance(minutes=10)
    [alert] = app_client.get("/api/manager/overview", headers=boss).json()["alerts"]
    assert alert["kind"] == "window_paused" and alert["for_s"] == 600 and alert["acknowledged_by"] is None
    r = app_client.post("/api/manager/alerts/acknowledge", headers=boss, json={"alert_id": alert["id"]})
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "boss"
    [e] = events(app_client, "manager.alert_acknowledged")
    assert e["data"]["alert_id"] == alert["id"] and e["data"]["by"] == "boss"
    [alert] = app_client.get("/api/manager/overview", headers=boss).json()["alerts"]
    assert alert["acknowledged_by"] == "boss"
    app_client.post("/api/windows/3/resume", headers=auth)
    assert app_client.get("/api/manager/overview", headers=boss).json()["alerts"] == []
    r = app_client.post("/api/manager/alerts/acknowledge", headers=boss, json={"alert_id": alert["id"]})
    assert r.status_code == 404


def test_overview_figures(app_client, boss, clock, hall_service):
    auth = {w: staff(app_client, w) for w in ("1", "2")}
    tickets = [app_client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"}).json() for _ in range(4)]
    clock.advance(minutes=10)
    app_client.post("/api/windows/1/call-next", headers=auth["1"])
    clock.advance(minutes=20)
    app_client.post("/api/windows/2/call-next", headers=auth["2"])
    clock.advance(minutes=6)
    app_client.post("/api/windows/1/finish", headers=auth["1"])
    app_client.post("/api/windows/2/skip", headers=auth["2"])
    hall_service.execute(lambda now: Decision(events=[
        ("rating.recorded", {"ticket_id": tickets[0]["id"], "level": 1, "bad": False, "service_id": "S1",
                             "window_id": "1", "staff_id": "S001"}),
        ("rating.recorded", {"ticket_id": tickets[1]["id"], "level": 5, "bad": True, "service_id": "S1",
                             "window_id": "2", "staff_id": "S002"})]))
    o = app_client.get("/api/manager/overview", headers=boss).json()
    k = o["kpis"]
    assert (k["issued"], k["served"], k["no_show"], k["waiting"]) == (4, 1, 1, 2)
    assert k["avg_wait_s"] == (10 * 60 + 30 * 60) / 2 and k["p90_wait_s"] == 30 * 60
    assert k["within_target"] == 0.5 and k["no_show_rate"] == 0.5 and k["avg_service_s"] == 26 * 60
    assert k["satisfaction"] == {"ratings": 2, "bad": 1, "rate": 0.5}
    social = next(c for c in o["categories"] if c["category_id"] == "social")
    assert (social["waiting"], social["served"], social["longest_wait_s"]) == (2, 1, 36 * 60)
    [s1] = o["services"]
    assert s1["service_id"] == "S1" and s1["satisfaction"]["rate"] == 0.5
    w1, w2 = o["windows"][0], o["windows"][1]
    assert (w1["state"], w1["served"], w1["satisfaction"]["rate"], w1["waiting_for"]) == ("open", 1, 1.0, 2)
    assert w2["satisfaction"]["bad"] == 1 and w2["no_show"] == 1
    assert sum(s["arrivals"] for s in o["charts"]["per_slot"]) == 4
    assert o["charts"]["waiting"][-1]["waiting"] == 2
    assert [r["count"] for r in o["charts"]["ratings"]] == [1, 0, 0, 0, 1]
    assert [a["kind"] for a in o["alerts"]] == ["bad_review"]
    assert o["seq"] == hall_service.ledger.last_seq
    clock.advance(minutes=5)  # both windows freed just now: idle alerts after idle_alert_minutes
    alerts = app_client.get("/api/manager/overview", headers=boss).json()["alerts"]
    assert sorted((a["kind"], a["subject"].get("window_id")) for a in alerts) == [
        ("bad_review", "2"), ("window_idle", "1"), ("window_idle", "2")]


def test_the_page_and_its_assets_are_served(app_client):
    r = app_client.get("/manager")
    assert r.status_code == 200 and "大厅管理看板" in r.text and "测试大厅" in r.text
    for asset in ("manager.js", "manager.css"):
        assert app_client.get(f"/static/manager/{asset}").status_code == 200
