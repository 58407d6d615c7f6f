"""Abuse from the hall's LAN, against the real server process, from several loopback addresses (127.0.0.2 …):
nobody rates for others, empties a day's numbers, locks the staff out or floods the event stream.

One server for the module; each test uses its own services, windows and accounts of the demo hall.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from hall_controller.app import open_ledger
from tests.conftest import DEMO_KIOSK, DEMO_PAD_KEYS, ROOT, ServerProcess, demo_staff

pytestmark = pytest.mark.slow

PLATFORM = {"authorization": "Bearer qinghe-demo-platform-key-5d1a"}  # the demo hall's 网上预约 key
ATTACKERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
CITIZEN = "127.0.0.9"


def client(address: str, url: str) -> httpx.Client:
    """An HTTP client whose connections leave from `address` (the server sees it as the client's address)."""
    return httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def stream(address: str, url: str, path: str = "/ws/events", **kw) -> ws_client.ClientConnection:
    """An event stream opened from `address`."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10, source_address=(address, 0))
    return ws_client.connect(f"ws://{host}:{port}{path}", sock=sock, open_timeout=10, **kw)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("abuse") / "hall.db", extra=["--ws-max", "40"]).start()
    yield srv
    srv.stop()


def sign_in(c: httpx.Client, window: str) -> dict[str, str]:
    sid, pin = demo_staff()[window]
    r = c.post(f"/api/windows/{window}/sign-in", json={"staff_id": sid, "pin": pin})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def manager(c: httpx.Client) -> dict[str, str]:
    r = c.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


# ------------------------------------------------------------------ secrets only to whoever holds them


def test_a_phone_number_checks_nobody_in_and_a_repeat_gets_no_token(hall):
    url = hall.url
    citizen, stranger = client(CITIZEN, url), client(ATTACKERS[0], url)
    r = citizen.post("/api/appointments", headers=PLATFORM, json={
        "service_id": "hukou_move", "date": "2026-11-23", "slot": "10:00", "name": "李四", "phone": "13700001234",
        "channel": "online"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    by_phone = stranger.post("/api/appointments/check-in", headers=DEMO_KIOSK, json={"phone": "13700001234"})
    assert by_phone.status_code == 422
    by_code = stranger.post("/api/appointments/check-in", json={"code": code})  # nor a code, without a kiosk
    assert by_code.status_code == 401
    mine = citizen.post("/api/appointments/check-in", headers=DEMO_KIOSK, json={"code": code}).json()["ticket"]
    assert mine["token"] and "appointment_id" not in mine
    # Whoever learns the code and checks in again, even at the other kiosk, gets the number, never the token
    # that rates the service.
    again = stranger.post("/api/appointments/check-in", headers={"x-kiosk-key": "qinghe-demo-kiosk-K2-9c1d"},
                          json={"code": code}).json()["ticket"]
    assert again["id"] == mine["id"] and "token" not in again and "status_url" not in again
    early = stranger.post("/api/ratings", json={"token": mine["token"], "level": 5})
    assert early.status_code == 409  # not served yet: nothing to rate
    public = stranger.get(f"/api/tickets/{mine['id']}").json()
    assert "appointment_id" not in public and "token" not in public


def test_public_views_carry_no_staff_list_and_no_rating_verdicts(hall):
    url = hall.url
    desk, stranger = client("127.0.0.5", url), client(ATTACKERS[1], url)
    auth = sign_in(desk, "19")
    board = stranger.get("/api/board").json()
    on_duty = {w["staff"]["id"] for w in board["windows"] if w["staff"]}
    assert set(board["staff"]) == on_duty and demo_staff()["19"][0] in on_duty
    assert len(board["staff"]) < len(demo_staff())
    off_duty = next(sid for w, (sid, _) in demo_staff().items() if sid not in on_duty)
    assert stranger.get(f"/staff-photo/{off_duty}").status_code == 404
    with stream(ATTACKERS[1], url) as ws:
        t = desk.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": "guide_consult"}).json()
        assert desk.post("/api/windows/19/call-next", headers=auth).json()["ticket"]["id"] == t["id"]
        desk.post("/api/windows/19/finish", headers=auth)
        assert desk.post("/api/ratings", json={"token": t["token"], "level": 5, "comment": "太慢了"}).status_code == 200
        rating = until(ws, "rating.recorded")
    assert not {"staff_id", "level", "label", "reasons", "comment"} & set(rating["data"])
    assert "staff" not in rating["data"]["satisfaction"]
    desk.post("/api/windows/19/sign-out", headers=auth)


def test_nobody_sees_or_rates_at_a_windows_tablet_without_its_key(hall):
    """Before: any address could open /pad/{id} and give the rating of the service just finished there."""
    url = hall.url
    with client("127.0.0.5", url) as desk, client(CITIZEN, url) as tablet:
        auth = sign_in(desk, "19")
        t = desk.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": "guide_consult"}).json()
        assert desk.post("/api/windows/19/call-next", headers=auth).json()["ticket"]["id"] == t["id"]
        desk.post("/api/windows/19/finish", headers=auth)
        answers = []
        for address in ATTACKERS:
            with client(address, url) as c:
                for headers in ({}, {"x-pad-key": f"guess-{address}-padding"}, {"x-pad-key": DEMO_PAD_KEYS["18"]},
                                DEMO_KIOSK):  # none, a guess, another window's tablet, a kiosk
                    answers.append(c.get("/api/pad/19", headers=headers).status_code)
                    answers.append(c.post("/api/pad/19/rating", headers=headers,
                                          json={"ticket": t["number"], "level": 5}).status_code)
        assert set(answers) == {401}
        own = {"x-pad-key": DEMO_PAD_KEYS["19"]}  # window 19's tablet, on another address
        assert tablet.get("/api/pad/19", headers=own).json()["invitation"]["ticket"] == t["number"]
        assert tablet.post("/api/pad/19/rating", headers=own, json={"ticket": t["number"], "level": 1}).status_code == 201
        assert tablet.post("/api/pad/19/rating", headers=own, json={"ticket": t["number"], "level": 5}).status_code == 409
        desk.post("/api/windows/19/sign-out", headers=auth)


# ------------------------------------------------------------------ issuing that cannot be emptied


def issued(url: str, service_id: str) -> int:
    return httpx.get(f"{url}/api/kiosk/K1/services/{service_id}").json()["ahead"]


def test_nobody_issues_without_a_kiosk_key_from_any_address(hall):
    """The attack that took all 60 of 户籍迁移's numbers in 1.6 s: no key, a wrong key, another channel."""
    url = hall.url
    before = issued(url, "hukou_move")
    answers = []
    for address in ATTACKERS:
        with client(address, url) as c:
            for n in range(20):
                headers = {} if n % 3 == 0 else {"x-kiosk-key": f"guess-{address}-{n:04d}-padding"}
                body = {"service_id": "hukou_move", "request_id": f"{address}-{n}"}
                answers.append(c.post("/api/kiosk/K1/tickets", headers=headers, json=body).status_code)
                if n % 3 == 2:
                    body["channel"] = "mobile"
                answers.append(c.post("/api/tickets", headers=headers, json=body).status_code)
            assert c.get("/api/kiosk/K1/status").status_code == 401  # nor may it read the card on the reader
    assert set(answers) <= {401, 403} and issued(url, "hukou_move") == before
    with client(CITIZEN, url) as kiosk:  # the kiosk itself still issues
        r = kiosk.post("/api/kiosk/K1/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move",
                                                                         "request_id": "kiosk-k1-0001"})
        assert r.status_code == 201 and r.json()["qr"]
    assert issued(url, "hukou_move") == before + 1


def test_a_service_with_a_per_person_limit_can_require_the_id_card(hall):
    url = hall.url
    with client(ATTACKERS[1], url) as c:  # even with the kiosk's key, no card: refused, over the API or the kiosk's route
        r = c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": "drug_retail_licence"})
        assert r.status_code == 403 and r.json()["error"] == "swipe_required"
        r = c.post("/api/kiosk/K1/tickets", headers=DEMO_KIOSK,
                   json={"service_id": "drug_retail_licence", "request_id": "no-card-0001"})
        assert r.status_code == 403 and "刷身份证" in r.json()["message"]
    with client(CITIZEN, url) as kiosk:
        numbers = []
        for n in range(3):
            deadline = time.monotonic() + 15
            while kiosk.get("/api/kiosk/K1/status", headers=DEMO_KIOSK).json()["swipe"] is None:
                assert time.monotonic() < deadline, "the card was not read"
                # laid again until read: the reader ignores the same card within 3 s of the last time
                assert kiosk.post("/api/sim/id-readers/K1/swipe", json={
                    "name": "钱七", "sex": "男", "birth": "1980-05-05", "id_number": "110101198005050011"}).status_code == 200
                time.sleep(0.5)
            numbers.append(kiosk.post("/api/kiosk/K1/tickets", headers=DEMO_KIOSK, json={
                "service_id": "drug_retail_licence", "request_id": f"card-{n:04d}"}))
    assert [r.status_code for r in numbers] == [201, 201, 409]
    assert numbers[2].json()["error"] == "person_daily_limit"


def test_the_mobile_channel_needs_the_platform_and_caps_per_person_and_service(hall):
    url = hall.url
    body = {"service_id": "gas_connection", "id_number": "110101199001010012"}
    with client(ATTACKERS[2], url) as c:
        assert c.post("/api/mobile/tickets", json=body).status_code == 401
        assert c.post("/api/mobile/tickets", headers={"authorization": "Bearer guess"}, json=body).status_code == 401
    with client(CITIZEN, url) as platform:
        mine = [platform.post("/api/mobile/tickets", headers=PLATFORM, json=body) for _ in range(3)]
        assert [r.status_code for r in mine] == [201, 201, 409] and mine[0].json()["token"]
        assert mine[0].json()["channel"] == "mobile" and mine[2].json()["error"] == "person_daily_limit"
        others = [platform.post("/api/mobile/tickets", headers=PLATFORM, json={
            "service_id": "gas_connection", "id_number": f"1101011990010{n:03d}X"}) for n in range(100, 120)]
    assert [r.status_code for r in others].count(201) == 18  # 20 a service a day through this channel
    assert others[-1].json()["error"] == "mobile_cap_reached"


def test_a_burst_from_one_kiosk_alerts_the_managers_board(hall):
    url = hall.url
    with client(CITIZEN, url) as kiosk:
        key = {"x-kiosk-key": "qinghe-demo-kiosk-K2-9c1d"}
        for n in range(12):
            assert kiosk.post("/api/tickets", headers=key, json={"service_id": "water_connection"}).status_code == 201
        alerts = kiosk.get("/api/manager/overview", headers=manager(kiosk)).json()["alerts"]
    [alert] = [a for a in alerts if a["kind"] == "scalping"]
    assert "取号机 K2" in alert["detail"] and alert["level"] == "danger"


# ------------------------------------------------------------------ lockout that cannot be turned against the staff


def test_one_address_guessing_every_pin_locks_nobody_out(hall):
    """Before: one address locked all 20 staff accounts in seconds, for 15 minutes, across restarts."""
    url = hall.url
    staff = demo_staff()
    victims = [w for w in staff if w not in ("10", "19")]  # windows the other tests of this module use
    with client(ATTACKERS[0], url) as attacker:
        answers = [attacker.post(f"/api/windows/{w}/sign-in", json={"staff_id": staff[w][0], "pin": "0000"}).status_code
                   for w in victims for _ in range(3)]
    assert answers.count(401) == 10 and set(answers[10:]) == {429}  # the address waits after ten, whoever it tries
    for w in victims[:3]:  # the staff at their own counters sign in at once
        with client("127.0.0.5", url) as desk:
            auth = sign_in(desk, w)
            assert desk.post(f"/api/windows/{w}/sign-out", headers=auth).status_code == 200


def test_many_addresses_at_one_pin_alert_and_a_manager_clears_it(hall):
    url = hall.url
    sid, pin = demo_staff()["10"]
    counter = "127.0.0.10"
    with client(counter, url) as desk:  # the staff member's own counter: known to the account
        desk.post("/api/windows/10/sign-out", headers=sign_in(desk, "10"))
    answers = []
    for n in range(2, 12):  # ten addresses, one guess each
        with client(f"127.0.1.{n}", url) as guesser:
            answers.append(guesser.post("/api/windows/10/sign-in", json={"staff_id": sid, "pin": f"{n:04d}"}).status_code)
    assert answers == [401] * 5 + [429] * 5
    with client("127.0.1.99", url) as stranger:  # right PIN, new address: it waits, as the guessers do
        r = stranger.post("/api/windows/10/sign-in", json={"staff_id": sid, "pin": pin})
        assert r.status_code == 429 and "联系大厅管理员" in r.json()["message"]
    with client(counter, url) as desk:  # the counter is not held up
        desk.post("/api/windows/10/sign-out", headers=sign_in(desk, "10"))
    with client("127.0.0.6", url) as office:
        boss = manager(office)
        alerts = office.get("/api/manager/overview", headers=boss).json()["alerts"]
        [alert] = [a for a in alerts if a["kind"] == "lockout"]
        assert f"工号 {sid}" in alert["detail"] and "来自 5 个地址" in alert["detail"]  # the sixth on waited
        r = office.post("/api/manager/lockouts/clear", headers=boss, json={"staff_id": sid})
        assert r.status_code == 200 and r.json()["cleared"] == 6  # five addresses' counts and the account's
        assert not [a for a in office.get("/api/manager/overview", headers=boss).json()["alerts"] if a["kind"] == "lockout"]
        cleared = [e for e in office.get("/api/events", headers=boss, params={"since": 0, "limit": 1000}).json()["events"]
                   if e["type"] == "lockout.cleared"]
        assert cleared[-1]["data"] == {"account": f"staff:{sid}", "by": "manager", "cleared": r.json()["cleared"]}
    with client("127.0.1.99", url) as stranger:
        r = stranger.post("/api/windows/10/sign-in", json={"staff_id": sid, "pin": pin})
        assert r.status_code == 200


def test_an_unknown_id_and_a_real_one_get_the_same_answers(hall):
    url = hall.url
    answers = {}
    for staff_id, address in (("QH1018", "127.0.2.1"), ("QH9999", "127.0.2.2")):
        with client(address, url) as c:
            answers[staff_id] = [(r.status_code, r.json()["error"]) for r in (
                c.post("/api/windows/18/sign-in", json={"staff_id": staff_id, "pin": "0000"}) for _ in range(6))]
    assert answers["QH1018"] == answers["QH9999"] == [(401, "bad_credentials")] * 3 + [(429, "too_many_attempts")] * 3


# ------------------------------------------------------------------ the event stream


def test_an_oversized_message_closes_the_stream(hall):
    with stream(ATTACKERS[0], hall.url) as ws:
        ws.send("x" * 64 * 1024)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_streams_are_capped_in_all_across_addresses(hall):
    """`--ws-max 40` here: 14 streams from each of three addresses, under the per-address cap of 50."""
    opened, refused = [], 0
    try:
        for address in ATTACKERS:
            for _ in range(14):
                ws = stream(address, hall.url)
                if is_open(ws):
                    opened.append(ws)
                else:
                    assert ws.close_code == 1013
                    refused += 1
        assert len(opened) == 40 and refused == 2
    finally:
        for ws in opened:
            ws.close()
    deadline = time.monotonic() + 10
    while True:  # closed streams free their places (the server notices each close on its own time)
        with stream(CITIZEN, hall.url) as ws:
            if is_open(ws) or time.monotonic() > deadline:
                break
    assert ws.close_code is None or ws.close_code == 1000


def test_a_managers_stream_ends_with_the_sign_out(hall):
    url = hall.url
    office = client("127.0.0.6", url)
    auth = manager(office)
    with stream("127.0.0.6", url, additional_headers=auth) as ws:
        office.post("/api/manager/sign-out", headers=auth)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1008


# ------------------------------------------------------------------ start-up


def test_an_unwritable_database_is_a_clear_error_at_start(tmp_path):
    db = tmp_path / "hall.db"
    open_ledger(db).close()
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        run = subprocess.run([sys.executable, "-m", "hall_controller.cli", "serve", "--db", str(db), "--port", "9",
                              "--devices", "none"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"cannot write the ledger {db}: attempt to write a readonly database" in run.stderr


def is_open(ws: ws_client.ClientConnection) -> bool:
    """Whether the server kept the stream: a refused one is closed before the server answers a ping sent after."""
    try:
        ws.ping().wait(10)
        while True:
            ws.recv(timeout=0)  # events the hall published meanwhile (devices report in) mean it is open
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False


def until(ws: ws_client.ClientConnection, event_type: str) -> dict:
    while True:
        event = json.loads(ws.recv(timeout=10))
        if event["type"] == event_type:
            return event
