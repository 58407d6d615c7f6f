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


# ------------------------------------------------------------------ kiosk keys in the config


def test_kiosk_keys_are_stored_hashed_and_checked_at_load(tmp_path):
    from hall_controller.app import parse_config
    from hall_controller.config_loader import ConfigError
    from hall_controller.http.issuing import key_hash
    from kiosk_ui.settings import settings_of

    demo = DEMO_CONFIG.read_text(encoding="utf-8")
    kiosks = settings_of(parse_config(demo, "demo.toml")).kiosks
    assert kiosks[0].key_hash == key_hash("qinghe-demo-kiosk-K1-4b7e") and "qinghe" not in repr(kiosks)
    hashed = key_hash("a-key-from-hall-controller-kiosk-key")
    text = demo.replace('key = "qinghe-demo-kiosk-K1-4b7e"', f'key_hash = "{hashed}"')
    assert settings_of(parse_config(text, "hall.toml")).kiosks[0].key_hash == hashed
    for bad, reason in (('key = "short"', "at least 16"), ('key_hash = "md5$abc"', "sha256$"),
                        (f'key = "qinghe-demo-kiosk-K1-4b7e"\nkey_hash = "{hashed}"', "not both")):
        with pytest.raises(ConfigError) as failed:
            parse_config(demo.replace('key = "qinghe-demo-kiosk-K1-4b7e"', bad), "hall.toml")
        assert "kiosks.kiosk" in str(failed.value) and reason in str(failed.value)
    with pytest.raises(ConfigError) as failed:
        parse_config(demo.replace('require_swipe = ["drug_retail_licence"', 'require_swipe = ["nope"'), "hall.toml")
    assert "require_swipe" in str(failed.value) and "nope" in str(failed.value)


def test_the_kiosk_key_command_prints_a_hash_the_config_takes(capsys):
    from hall_controller.cli import main
    from hall_controller.http.issuing import key_hash

    assert main(["kiosk-key", "K3"]) == 0
    out = capsys.readouterr().out
    hashed = out.split('key_hash = "')[1].split('"')[0]
    key = out.split("#key=")[1].split()[0]
    assert key_hash(key) == hashed and len(key) >= 32
