"""The HTTP and WebSocket contract, in process, on the small test hall with a manual clock."""

from __future__ import annotations

import pytest

from hall_controller.features.appointments.feature import feature as appointments_f
from tests.factory import KIOSK, with_kiosk


def sign_in(client, window="1", staff="S001", pin="1234") -> dict:
    r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": pin})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def issue(client, service="S1", **kw):
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": service, "channel": "kiosk", **kw})
    assert r.status_code == 201, r.text
    return r.json()


def test_services_lists_materials_and_issuing_state(client):
    body = client.get("/api/services").json()
    assert {c["id"] for c in body["categories"]} >= {"social", "business"}
    s1 = next(s for s in body["services"] if s["id"] == "S1")
    assert s1["materials"][0]["name"] == "居民身份证" and s1["issuing_open"] is True
    o1 = next(s for s in body["services"] if s["id"] == "O1")
    assert o1["issuing_open"] is True and o1["issuing_hours"] == "09:00–11:00"


def test_issue_ticket_contract(client):
    t = issue(client)
    assert {"id", "number", "service_id", "category_id", "status", "ahead", "estimated_wait_s", "issued_at",
            "status_url"} <= set(t)
    assert t["number"] == "A001" and t["status"] == "waiting" and t["ahead"] == 0
    assert t["status_url"].endswith("/t/" + t["token"])
    second = issue(client)
    assert second["ahead"] == 1
    got = client.get(f"/api/tickets/{t['id']}").json()
    assert got["number"] == "A001" and "token" not in got  # the token never leaks through the id


def test_status_url_is_on_the_address_the_caller_used(client):
    """With no public_url configured the phone link uses the host the request came to, not the bind address."""
    r = client.post("/api/tickets", json={"service_id": "S1"}, headers={**KIOSK, "host": "192.168.10.5:8000"})
    assert r.json()["status_url"] == f"http://192.168.10.5:8000/t/{r.json()['token']}"


def test_request_id_double_tap_issues_once(client):
    a = issue(client, request_id="kiosk1-42")
    b = issue(client, request_id="kiosk1-42")
    assert a["id"] == b["id"]
    assert client.get("/api/hall").json()["counts"]["issued"] == 1


def test_request_id_replayed_for_another_service_is_409(client):
    issue(client, request_id="kiosk1-42")
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "B1", "request_id": "kiosk1-42"})
    assert r.status_code == 409 and r.json()["error"] == "request_id_conflict" and "A001" in r.json()["message"]


def test_request_id_reused_on_a_later_day_is_409_not_503(client, clock):
    first = issue(client, request_id="kiosk1-42")
    auth = sign_in(client)
    client.post("/api/windows/1/call-next", headers=auth), client.post("/api/windows/1/finish", headers=auth)
    clock.advance(days=1)  # Tuesday: yesterday's finished ticket leaves memory, its request id stays in the ledger
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1", "request_id": "kiosk1-42"})
    assert r.status_code == 409 and r.json()["error"] == "request_id_used"
    assert first["number"] in r.json()["message"] and "2026-11-23" in r.json()["message"]
    assert issue(client, request_id="kiosk1-43")["number"] == "A001"


@pytest.fixture
def booking(tmp_path, clock):
    from fastapi.testclient import TestClient

    from hall_controller.app import open_ledger
    from hall_controller.core.service import HallService
    from hall_controller.features.appointments.rules import AppointmentSettings
    from hall_controller.http.app import create_app
    from tests.factory import small_hall

    config = small_hall()
    config.sections["appointments"] = AppointmentSettings(identity_key="test-key", capacity=2)
    svc = HallService(config, open_ledger(tmp_path / "booked.db"), clock)
    app = with_kiosk(create_app(svc, [appointments_f]))
    with TestClient(app) as c:
        yield c
    svc.ledger.close()


def book(c) -> str:
    r = c.post("/api/appointments", headers=sign_in(c), json={
        "service_id": "S1", "date": "2026-11-23", "slot": "10:30", "name": "张三", "phone": "13800001111",
        "channel": "phone"})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_a_client_request_id_cannot_claim_an_appointments_ticket(booking, clock):
    c = booking
    code = book(c)
    clock.advance(minutes=35)
    mine = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()["ticket"]
    aid = c.app.state.service.hall.tickets[mine["id"]].appointment_id
    for guess in (f"appointment-{aid}", f"appointment:{aid}", aid):
        r = c.post("/api/tickets", headers=KIOSK, json={"service_id": "S1", "request_id": guess})
        assert r.status_code == 201 and r.json()["id"] != mine["id"] and r.json()["token"] != mine["token"]
        assert r.json()["priority"] is None
    again = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()["ticket"]
    assert again["id"] == mine["id"] and again["priority"] == "appointment"


def test_a_client_request_id_cannot_pre_claim_an_appointments_ticket(booking, clock):
    c = booking
    code = book(c)
    for n in range(1, 4):  # the appointment's id is unknown before check-in: an attacker tries the likely ones
        c.post("/api/tickets", headers=KIOSK, json={"service_id": "B1", "request_id": f"appointment-{n}"})
        c.post("/api/tickets", headers=KIOSK, json={"service_id": "B1", "request_id": f"appointment:{n}"})
    clock.advance(minutes=35)
    mine = c.post("/api/appointments/check-in", headers=KIOSK, json={"code": code}).json()["ticket"]
    assert mine["service_id"] == "S1" and mine["priority"] == "appointment" and mine["channel"] == "appointment"


def test_priority_and_staff_channel_need_a_staff_token(client):
    for body in ({"priority": "green"}, {"priority": "assist"}, {"channel": "staff"}):
        r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1", **body})
        assert r.status_code == 401 and r.json()["error"] == "unauthorised", body
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1", "channel": "appointment"})
    assert r.status_code == 403 and r.json()["error"] == "appointment_channel"
    manager = {"Authorization": "Bearer not-a-staff-token"}
    assert client.post("/api/tickets", json={"service_id": "S1", "priority": "green"}, headers=manager).status_code == 401
    auth = sign_in(client)
    r = client.post("/api/tickets", json={"service_id": "S1", "priority": "green", "channel": "staff"}, headers=auth)
    assert r.status_code == 201 and r.json()["priority"] == "green" and r.json()["channel"] == "staff"
    r = client.post("/api/tickets", json={"service_id": "S1", "priority": "vip"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"] == "invalid_priority"
    assert client.get("/api/hall").json()["counts"]["issued"] == 1


def test_cancel_and_rejoin_record_the_staff_member(client):
    waiting, late = issue(client), issue(client)
    auth = sign_in(client)
    client.post("/api/windows/1/call-next", headers=auth), client.post("/api/windows/1/skip", headers=auth)
    assert client.post(f"/api/tickets/{late['id']}/cancel", headers=auth).status_code == 200
    assert client.post(f"/api/tickets/{waiting['id']}/rejoin", headers=auth).status_code == 200
    events = {e["type"]: e["data"] for e in client.get("/api/events?since=0").json()["events"]}
    assert events["ticket.cancelled"]["by"] == "S001" and events["ticket.rejoined"]["by"] == "S001"


@pytest.mark.parametrize("body,status", [
    ({"service_id": "nope"}, 404),
    ({"service_id": "S1", "channel": "fax"}, 422),
    ({"service_id": "S1", "priority": "vip"}, 401),
    ({"service_id": ""}, 422),
    ({}, 422),
    ({"service_id": "S1", "extra": 1}, 422),
    ({"service_id": 5}, 422),
])
def test_bad_issue_requests_are_clear_4xx(client, body, status):
    r = client.post("/api/tickets", headers=KIOSK, json=body)
    assert r.status_code == status
    assert set(r.json()) == {"error", "message"} and r.json()["message"]


def test_malformed_json_and_unknown_routes(client):
    r = client.post("/api/tickets", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert client.get("/api/nothing").json()["error"] == "not_found"
    assert client.get("/api/tickets/none").status_code == 404
    assert client.delete("/api/tickets").status_code == 405


def test_closed_hours_message(client, clock):
    clock.set(clock.now().replace(hour=19))
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"})
    assert r.status_code == 409 and "取号时间" in r.json()["message"]


def test_window_flow(client):
    t = issue(client)
    auth = sign_in(client)
    r = client.post("/api/windows/1/call-next", headers=auth)
    assert r.status_code == 200 and r.json()["ticket"]["id"] == t["id"]
    assert r.json()["ticket"]["window_number"] == 1 and r.json()["ticket"]["call_reason"]
    assert client.post("/api/windows/1/call-next", headers=auth).status_code == 409
    assert client.post("/api/windows/1/recall", headers=auth).json()["ticket"]["recalls"] == 1
    assert client.get(f"/api/tickets/{t['id']}").json()["window_id"] == "1"
    r = client.post("/api/windows/1/finish", headers=auth, json={"outcome": "supplement"})
    assert r.json()["ticket"]["outcome"] == "supplement"
    assert client.post("/api/windows/1/finish", headers=auth).status_code == 409
    assert client.post("/api/windows/1/call-next", headers=auth).status_code == 204
    assert client.post("/api/windows/1/pause", headers=auth).json()["state"] == "paused"
    assert client.post("/api/windows/1/resume", headers=auth).json()["state"] == "open"
    history = client.get(f"/api/tickets/{t['id']}/history").json()["events"]
    assert [e["type"] for e in history] == ["ticket.issued", "ticket.called", "ticket.recalled", "ticket.finished"]
    assert client.post("/api/windows/1/sign-out", headers=auth).json()["state"] == "signed_out"
    assert client.post("/api/windows/1/call-next", headers=auth).status_code == 401


def test_finish_without_body_defaults_to_immediate(client):
    issue(client)
    auth = sign_in(client)
    client.post("/api/windows/1/call-next", headers=auth)
    assert client.post("/api/windows/1/finish", headers=auth).json()["ticket"]["outcome"] == "immediate"


def test_transfer_and_skip(client):
    t = issue(client)
    auth1, auth4 = sign_in(client), sign_in(client, "4", "S004")
    client.post("/api/windows/1/call-next", headers=auth1)
    r = client.post("/api/windows/1/transfer", headers=auth1, json={"category_id": "business"})
    assert r.json()["ticket"]["status"] == "waiting" and r.json()["ticket"]["category_id"] == "business"
    assert client.post("/api/windows/4/call-next", headers=auth4).json()["ticket"]["id"] == t["id"]
    assert client.post("/api/windows/4/skip", headers=auth4).json()["ticket"]["status"] == "no_show"
    assert client.post("/api/windows/4/transfer", headers=auth4, json={}).status_code == 422
    assert client.post("/api/windows/4/transfer", headers=auth4, json={"category_id": "social"}).status_code == 409
    r = client.post(f"/api/tickets/{t['id']}/rejoin", headers=auth4)
    assert r.status_code == 200 and r.json()["status"] == "waiting"
    assert client.post(f"/api/tickets/{t['id']}/rejoin").status_code == 401


def test_auth_boundaries(client):
    auth1 = sign_in(client)
    assert client.post("/api/windows/2/call-next", headers=auth1).status_code == 403
    assert client.post("/api/windows/1/call-next").status_code == 401
    assert client.post("/api/windows/1/call-next", headers={"Authorization": "Bearer junk"}).status_code == 401
    assert client.post("/api/windows/99/call-next", headers=auth1).status_code == 404
    r = client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "0000"})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
    # a stand-in taking the window over invalidates the regular staff's token
    sign_in(client, "1", "S003")
    assert client.post("/api/windows/1/call-next", headers=auth1).status_code == 401


def test_session_expiry(client, clock):
    auth = sign_in(client)
    clock.advance(hours=13)
    r = client.post("/api/windows/1/pause", headers=auth)
    assert r.status_code == 401 and r.json()["error"] == "session_expired"


def test_hall_snapshot(client):
    issue(client), issue(client, "B1")
    auth = sign_in(client)
    client.post("/api/windows/1/call-next", headers=auth)
    snap = client.get("/api/hall").json()
    w1 = next(w for w in snap["windows"] if w["id"] == "1")
    assert w1["state"] == "serving" and w1["staff"]["id"] == "S001" and w1["ticket"]["number"] == "A001"
    q = {q["category_id"]: q for q in snap["queues"]}
    assert q["business"]["waiting"] == 1 and q["social"]["waiting"] == 0
    assert snap["counts"] == {"issued": 2, "called": 1, "waiting": 1}


def test_websocket_resume_loses_nothing(client):
    issue(client)
    with client.websocket_connect("/ws/events?since=0") as ws:
        first = ws.receive_json()
        assert first["seq"] == 1 and first["type"] == "ticket.issued" and first["data"]["ticket"]["number"] == "A001"
    for _ in range(3):
        issue(client)  # missed while disconnected
    with client.websocket_connect("/ws/events?since=1") as ws:
        seen = [ws.receive_json()["seq"] for _ in range(3)]
        issue(client)  # live, after the backlog
        seen.append(ws.receive_json()["seq"])
    assert seen == [2, 3, 4, 5]


def test_websocket_bad_since_closes(client):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/ws/events?since=-3") as ws:
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
    assert e.value.code == 1008


def test_since_beyond_the_ledger_is_refused_not_silent(client):
    from starlette.websockets import WebSocketDisconnect

    issue(client)
    r = client.get("/api/events?since=5")
    assert r.status_code == 409 and r.json()["error"] == "since_ahead" and "1" in r.json()["message"]
    assert client.get("/api/events?since=1").json() == {"events": [], "last_seq": 1}
    with client.websocket_connect("/ws/events?since=5") as ws:
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
    assert e.value.code == 1008 and "beyond the last event 1" in e.value.reason


def test_event_streams_per_address_are_capped(service):
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from hall_controller.http.app import ServeOptions, create_app

    with TestClient(with_kiosk(create_app(service, options=ServeOptions(rate_limit=0, ws_per_client=2)))) as c:
        with c.websocket_connect("/ws/events?since=0"), c.websocket_connect("/ws/events?since=0"):
            with c.websocket_connect("/ws/events?since=0") as third:
                with pytest.raises(WebSocketDisconnect) as e:
                    third.receive_json()
            assert e.value.code == 1008 and "too many event streams" in e.value.reason
        assert c.app.state.ws_clients == {}  # closed streams are counted out
        with c.websocket_connect("/ws/events") as again:
            issue(c)
            assert again.receive_json()["type"] == "ticket.issued"


def test_events_paging(client):
    for _ in range(5):
        issue(client)
    body = client.get("/api/events?since=2&limit=2").json()
    assert [e["seq"] for e in body["events"]] == [3, 4] and body["last_seq"] == 5
    assert client.get("/api/events?since=-1").status_code == 422


def test_wrong_pins_slow_the_guesser_down_and_never_lock(client, clock):
    for _ in range(3):
        assert client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "9"}).status_code == 401
    r = client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"})
    assert r.status_code == 429 and "秒后再试" in r.json()["message"]  # from this address, even the right PIN waits
    for k in range(12):  # each wait over, a wrong try again: the waits double, to 15 minutes at most
        clock.advance(seconds=min(2 ** (k + 1), 900) + 1)
        assert client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "9"}).status_code == 401
    r = client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"})
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts" and "分钟后再试" in r.json()["message"]
    clock.advance(minutes=15, seconds=1)
    assert client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).status_code == 200


def test_waits_survive_a_restart(service, clock, tmp_path):
    from fastapi.testclient import TestClient

    from hall_controller.app import open_ledger
    from hall_controller.core.service import HallService
    from hall_controller.http.app import create_app

    with TestClient(with_kiosk(create_app(service))) as c:
        for _ in range(6):
            clock.advance(seconds=60)
            assert c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "9"}).status_code == 401
        assert c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).status_code == 429
    service.ledger.close()
    restarted = HallService(service.config, open_ledger(tmp_path / "hall.db"), clock)
    with TestClient(with_kiosk(create_app(restarted))) as c:
        r = c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"})
        assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
        clock.advance(minutes=16)
        assert c.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).status_code == 200
    again = HallService(service.config, open_ledger(tmp_path / "hall.db"), clock)
    assert not [k for k, r in again.lockout.counts.items() if k.startswith("pair|")]  # the right PIN cleared it
    restarted.ledger.close(), again.ledger.close()


def test_an_unknown_id_is_answered_counted_and_stored_like_a_real_one(client, service, clock):
    """Or the answers, or what a restart keeps, would tell which 工号 exist."""
    answers = {}
    for staff in ("S001", "NOBODY"):
        tries = []
        for _ in range(5):
            clock.advance(seconds=1)
            r = client.post("/api/windows/1/sign-in", json={"staff_id": staff, "pin": "9"})
            tries.append((r.status_code, r.json()["error"]))
        answers[staff] = tries
        clock.advance(minutes=20)
    assert answers["S001"] == answers["NOBODY"]
    stored = {key.split("|")[1] for (key,) in service.ledger.query("SELECT key FROM lockouts WHERE key LIKE 'pair|%'")}
    assert stored == {"staff:S001", "staff:NOBODY"}


@pytest.fixture
def managed(tmp_path, clock):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from hall_controller.app import open_ledger
    from hall_controller.core.passwords import hash_secret
    from hall_controller.core.service import HallService
    from hall_controller.core.settings import Manager
    from hall_controller.http.app import create_app
    from tests.factory import small_hall

    config = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", hash_secret("pw", iterations=1000)),))
    svc = HallService(config, open_ledger(tmp_path / "managed.db"), clock)
    with TestClient(with_kiosk(create_app(svc))) as c:
        yield c
    svc.ledger.close()


def test_manager_sign_in_sign_out_and_failures_are_recorded(managed, clock):
    c = managed
    assert c.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "wrong"}).status_code == 401
    assert c.post("/api/manager/sign-in", json={"manager_id": "ghost", "password": "wrong"}).status_code == 401
    token = c.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/events", headers=auth).status_code == 200
    r = c.post("/api/manager/sign-out", headers=auth)
    assert r.status_code == 200 and r.json() == {"signed_out": "boss"}
    r = c.get("/api/events", headers=auth)
    assert r.status_code == 401 and r.json()["error"] == "session_expired"  # the token is revoked at once
    assert c.post("/api/manager/sign-out", headers=auth).status_code == 401
    assert c.post("/api/manager/sign-out").status_code == 401
    public = [(e["type"], e["data"]) for e in c.get("/api/events?since=0").json()["events"]]
    assert all("manager_id" not in data for _, data in public)  # which manager ids exist is not public
    events = [(e["type"], e["data"]) for e in c.app.state.service.ledger.events_since(0)]
    assert events == [("manager.sign_in_failed", {"manager_id": "boss"}),
                      ("manager.signed_in", {"manager_id": "boss", "role": "manager"}),
                      ("manager.signed_out", {"manager_id": "boss"})]
    assert token not in str(events)


def test_manager_token_expires(managed, clock):
    c = managed
    token = c.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    clock.advance(hours=9, minutes=59)
    assert c.get("/api/events", headers=auth).status_code == 200
    clock.advance(minutes=1)
    r = c.get("/api/events", headers=auth)
    assert r.status_code == 401 and r.json()["error"] == "session_expired"


def test_manager_sign_in(client):
    r = client.post("/api/manager/sign-in", json={"manager_id": "nobody", "password": "x"})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"


def test_oversized_body_is_413(client):
    r = client.post("/api/tickets", content=b"x" * (3 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 65536

    r = client.post("/api/tickets", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_flood_from_one_address_is_limited(service):
    from fastapi.testclient import TestClient

    from hall_controller.http.app import ServeOptions, create_app

    with TestClient(with_kiosk(create_app(service, options=ServeOptions(rate_limit=5)))) as c:
        statuses = [c.get("/api/hall").status_code for _ in range(30)]
    assert statuses[:10] == [200] * 10  # a burst of twice the rate passes
    assert 429 in statuses
