"""/metrics in the Prometheus text format, /healthz and /readyz, JSON log lines with the request id."""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.http.app import ServeOptions
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ServerProcess, demo_staff


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_metrics_follow_the_hall(tmp_path):
    cfg = load_config(DEMO_CONFIG)
    clock = ManualClock(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo(cfg.timezone)))
    app = build_app(cfg, str(tmp_path / "hall.db"), clock, ServeOptions(devices="none", var_dir=tmp_path, rate_limit=0))
    assert TestClient(app).get("/readyz").status_code == 503  # no start-up has run: not ready for traffic
    with TestClient(app) as client:
        assert client.get("/readyz").json()["ok"] is True
        svc = app.state.service
        catalogue = client.get("/api/services").json()
        general = {c["id"] for c in catalogue["categories"] if c["general"]}
        service = next(s for s in catalogue["services"] if s["issuing_open"] and s["category_id"] in general)
        for _ in range(3):
            assert client.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service["id"]}).status_code == 201
        window, (staff, pin) = next(iter(demo_staff().items()))
        token = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": pin}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert client.post(f"/api/windows/{window}/call-next", headers=auth).status_code == 200
        assert client.post(f"/api/windows/{window}/finish", headers=auth, json={}).status_code == 200
        assert client.post(f"/api/windows/{window}/call-next", headers=auth).status_code == 200
        clock.advance(minutes=7)

        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        found = samples(r.text)
        cat = service["category_id"]
        assert value(found, "hall_tickets_issued_total", category=cat) == 3
        assert value(found, "hall_tickets_served_total", category=cat) == 1
        waiting = value(found, "hall_waiting_tickets", category=cat)
        assert waiting == sum(1 for t in svc.hall.tickets.values() if t.status == "waiting" and t.category_id == cat)
        assert value(found, "hall_longest_wait_seconds", category=cat) >= 7 * 60 if waiting else True
        assert value(found, "hall_windows", state="serving") == 1
        assert value(found, "hall_tickets_in_service") == 1
        assert value(found, "hall_ledger_events_total") == svc.ledger.last_seq
        assert value(found, "hall_http_request_duration_seconds_count", method="POST", route="/api/tickets",
                     status="2xx") == 3
        # Routes are templates: one series for every window, not one each.
        assert ("hall_http_request_duration_seconds_count",
                frozenset({"method": "POST", "route": "/api/windows/{window_id}/call-next", "status": "2xx"}.items())) in found
        assert not any(dict(labels).get("route", "").startswith(f"/api/windows/{window}") for _, labels in found)
        assert value(found, "hall_backup_failures_total") == 0


@pytest.fixture(scope="module")
def json_server(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("obs") / "hall.db", extra=["--log-format", "json"]).start(timeout=600)
    yield srv
    srv.stop()


@pytest.mark.timeout(900)  # starts the server: minutes on a loaded machine
def test_devices_printers_voice_and_readiness_on_the_real_server(json_server):
    url = json_server.url
    assert httpx.get(f"{url}/healthz").json()["ok"] is True
    assert httpx.get(f"{url}/readyz").json()["ok"] is True
    deadline = time.monotonic() + 180
    while True:  # the simulated buses report their devices after the first poll round
        found = samples(httpx.get(f"{url}/metrics").text)
        online = [v for (name, labels), v in found.items() if name == "hall_device_online" and v == 1]
        if online or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert online
    assert any(name == "hall_bus_frames_total" and v > 0 for (name, _), v in found.items())
    assert any(name == "hall_bus_errors_total" for name, _ in found)
    assert any(name == "hall_printer_online" for name, _ in found)
    assert any(name == "hall_printer_paper" for name, _ in found)
    assert ("hall_voice_backlog", frozenset()) in found


@pytest.mark.timeout(900)
def test_json_log_lines_carry_the_request_id(json_server):
    r = httpx.post(f"{json_server.url}/api/tickets", json={"service_id": "no-such-service"},
                   headers={**DEMO_KIOSK, "X-Request-ID": "kiosk-K1-000042"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "kiosk-K1-000042"
    mine = httpx.get(f"{json_server.url}/api/hall")
    made = mine.headers["x-request-id"]
    assert len(made) == 32
    evil = httpx.get(f"{json_server.url}/api/hall", headers={"X-Request-ID": "x" * 300})
    assert evil.headers["x-request-id"] != "x" * 300  # not taken from a client blindly: a fresh one
    deadline = time.monotonic() + 120
    while True:
        lines = [json.loads(line) for line in json_server.log.read_text().splitlines() if line.startswith("{")]
        access = {line.get("request_id"): line for line in lines if line["logger"] == "hall_controller.access"}
        if {"kiosk-K1-000042", made} <= set(access) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert access["kiosk-K1-000042"]["status"] == 404 and access["kiosk-K1-000042"]["path"] == "/api/tickets"
    assert access[made]["method"] == "GET" and access[made]["duration_ms"] >= 0
    # Every line of the log is JSON, uvicorn's own included.
    text = [line for line in json_server.log.read_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in text), [line for line in text if not line.startswith("{")][:3]
    assert any(line["logger"].startswith("uvicorn") for line in lines)
