"""Abuse from the hall's LAN, against the real server process, from several loopback addresses (127.0.0.2 …):
nobody rates for others, empties a day's numbers, locks the staff out or floods the event stream.

One server for the module; each test uses its own services, windows and accounts of the demo hall.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import httpx
import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from hall_controller.app import open_ledger
from tests.conftest import ServerProcess, demo_staff

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
    by_phone = stranger.post("/api/appointments/check-in", json={"phone": "13700001234"})
    assert by_phone.status_code == 422
    mine = citizen.post("/api/appointments/check-in", json={"code": code}).json()["ticket"]
    assert mine["token"] and "appointment_id" not in mine
    # Whoever learns the code later gets the number, never the token that rates the service.
    again = stranger.post("/api/appointments/check-in", json={"code": code}).json()["ticket"]
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
        t = desk.post("/api/tickets", json={"service_id": "guide_consult"}).json()
        assert desk.post("/api/windows/19/call-next", headers=auth).json()["ticket"]["id"] == t["id"]
        desk.post("/api/windows/19/finish", headers=auth)
        assert desk.post("/api/ratings", json={"token": t["token"], "level": 5, "comment": "太慢了"}).status_code == 200
        rating = until(ws, "rating.recorded")
    assert not {"staff_id", "level", "label", "reasons", "comment"} & set(rating["data"])
    assert "staff" not in rating["data"]["satisfaction"]
    desk.post("/api/windows/19/sign-out", headers=auth)


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
        srv = ServerProcess(db)
        with pytest.raises(RuntimeError) as failed:
            srv.start()
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    assert srv.proc.returncode == 2
    assert f"cannot write the ledger {db}" in str(failed.value) and "Traceback" not in str(failed.value)


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
