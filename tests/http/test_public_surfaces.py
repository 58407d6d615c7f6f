"""What the public surfaces give away and how much they may hold (in process; the attacks themselves run
against the real server from several addresses in tests/e2e/test_abuse.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.core.events import EventBus
from hall_controller.http.app import ServeOptions
from tests.conftest import DEMO_CONFIG


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    config = load_config(DEMO_CONFIG)
    clock = ManualClock(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo(config.timezone)))
    folder = tmp_path_factory.mktemp("demo")
    with TestClient(build_app(config, str(folder / "hall.db"), clock,
                              ServeOptions(devices="none", var_dir=folder, rate_limit=0))) as c:
        yield c


def test_the_schema_documents_every_file_a_route_answers_with(demo):
    token = demo.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
    paths = demo.get("/openapi.json").json()["paths"]
    for url, path in (("/api/reports/service.csv", "/api/reports/service.{fmt}"),
                      ("/api/reports/attendance.xlsx", "/api/reports/attendance.{fmt}")):
        r = demo.get(url, headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
        documented = paths[path]["get"]["responses"]["200"]["content"]
        assert r.headers["content-type"].split(";")[0] in documented and "application/json" not in documented


def test_an_oversized_message_closes_the_stream_behind_any_server(demo):
    with demo.websocket_connect("/ws/events") as ws:
        ws.send_text("x" * 5000)
        assert ws.receive()["code"] == 1009


def test_streams_that_read_nothing_hold_bounded_memory():
    """However many subscribers stop reading, the events queued for them all stay under the bus's bound: the
    most lagging is cut off (it resumes with `since`), the others keep their events."""
    bus = EventBus(max_queued=1000)
    stuck = [bus.subscribe() for _ in range(30)]
    events = [{"seq": n, "type": "ticket.issued", "at": "", "data": {}} for n in range(1, 101)]
    bus.publish(events)
    assert sum(s.queue.qsize() for s in stuck) <= 1000 + len(stuck)
    cut = [s for s in stuck if s.overflowed]
    assert cut and all(s.queue.get_nowait() is None for s in cut)
    assert bus.subscribers == len(stuck) - len(cut)
