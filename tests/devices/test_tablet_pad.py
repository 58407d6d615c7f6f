"""The tablet evaluation pad's API (`/api/pad/{window_id}`): invited by a finished service like the serial pad,
timed out after the same minute, one rating per ticket whatever the channel; only the window's own tablet,
holding its key, sees or rates anything."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hall_controller.features.devices.feature import feature as devices_f
from hall_controller.features.devices.pads import RATING_TIMEOUT_S
from hall_controller.features.devices.settings import DeviceSettings, TabletSpec
from hall_controller.features.ratings.feature import feature as ratings_f
from hall_controller.http.app import ServeOptions, create_app
from hall_controller.http.issuing import key_hash

PAD_KEYS = {"1": "test-pad-key-window-1", "2": "test-pad-key-window-2"}  # window 3's tablet: not provisioned


def key(window: str) -> dict[str, str]:
    return {"x-pad-key": PAD_KEYS[window]}


class Tablet:
    """A client that is window `window`'s tablet: its requests carry that tablet's key, as the page does."""

    def __init__(self, client: TestClient, window: str = "1"):
        self.client, self.headers = client, key(window)

    def get(self, path: str, **kw):
        return self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, **kw):
        return self.client.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def app(service):
    service.config.sections["devices"] = DeviceSettings(tablets=(
        TabletSpec("1", key_hash(PAD_KEYS["1"])), TabletSpec("2", key_hash(PAD_KEYS["2"])), TabletSpec("3", "")))
    return create_app(service, [ratings_f, devices_f], ServeOptions(devices="none", rate_limit=0))


@pytest.fixture
def anyone(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def pad(anyone):
    return Tablet(anyone)


def serve_one(svc, clock, window: str = "1") -> dict:
    t = svc.issue_ticket("S1", "kiosk")
    if svc.hall.windows[window].staff_id is None:
        svc.sign_in(window, "S001", "1234")
    svc.window_command(window, "call-next")
    clock.advance(minutes=4)
    svc.window_command(window, "finish")
    return t


def rating(pad, number: str, level: int = 1, **extra):
    return pad.post("/api/pad/1/rating", json={"ticket": number, "level": level, **extra})


def test_a_finished_service_invites_the_tablet_with_its_staff_and_a_minute(pad, service, clock):
    view = pad.get("/api/pad/1").json()
    assert view["invitation"] is None and view["staff"] is None and view["window"]["state"] == "signed_out"
    assert [x["label"] for x in view["levels"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]

    t = service.issue_ticket("S1", "kiosk")
    service.sign_in("1", "S001", "1234")
    service.window_command("1", "call-next")
    view = pad.get("/api/pad/1").json()
    assert view["serving"] == {"number": t["number"], "status": "called", "service_name": "户籍迁移"}
    assert view["staff"]["id"] == "S001" and view["staff"]["photo_url"] == "/staff-photo/S001"
    assert view["invitation"] is None

    service.window_command("1", "finish")
    clock.advance(seconds=10)
    view = pad.get("/api/pad/1").json()
    assert view["serving"] is None
    assert view["invitation"]["ticket"] == t["number"] and view["invitation"]["seconds_left"] == RATING_TIMEOUT_S - 10
    assert pad.get("/api/pad/2", headers=key("2")).json()["invitation"] is None  # the next window's is not asked


def test_the_tablet_rates_once_with_reasons_and_comment(pad, service, clock):
    t = serve_one(service, clock)
    r = rating(pad, t["number"], 5, reasons=["attitude", "slow"], comment="  材料退回三次  ")
    assert r.status_code == 201, r.text
    stored = service.ledger.query("SELECT channel, level, reasons, comment FROM ratings WHERE ticket_id = ?",
                                  (t["id"],))
    assert stored == [("pad", 5, '["attitude", "slow"]', "材料退回三次")]
    assert service.ledger.query("SELECT COUNT(*) FROM cases")[0][0] == 1  # a 差评 opens its case
    assert pad.get("/api/pad/1").json()["invitation"] is None
    again = rating(pad, t["number"], 1)
    assert again.status_code == 409 and again.json()["error"] == "not_invited"
    # the phone cannot rate it a second time either
    phone = pad.post("/api/ratings", json={"token": t["token"], "level": 1, "channel": "mobile"})
    assert phone.status_code == 409 and phone.json()["error"] == "already_rated"


def test_a_rating_from_another_channel_closes_the_invitation(pad, service, clock):
    t = serve_one(service, clock)
    assert pad.post("/api/ratings", json={"token": t["token"], "level": 2, "channel": "mobile"}).status_code == 200
    assert pad.get("/api/pad/1").json()["invitation"] is None
    assert rating(pad, t["number"], 1).json()["error"] == "not_invited"


def test_the_invitation_times_out_like_the_serial_pad(pad, service, clock):
    t = serve_one(service, clock)
    clock.advance(seconds=RATING_TIMEOUT_S)
    assert pad.get("/api/pad/1").json()["invitation"] is None
    r = rating(pad, t["number"], 1)
    assert r.status_code == 409 and r.json()["error"] == "invitation_expired" and "二维码" in r.json()["message"]


def test_only_the_invited_ticket_and_valid_choices(pad, service, clock):
    first = serve_one(service, clock)
    second = serve_one(service, clock)  # the next service replaces the first's invitation
    assert rating(pad, first["number"]).json()["error"] == "not_invited"
    bad = rating(pad, second["number"], 1, reasons=["attitude"])
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_reasons"
    long = rating(pad, second["number"], 2, comment="长" * 501)
    assert long.status_code == 422 and "500" in long.json()["message"]
    assert pad.post("/api/pad/1/rating", json={"ticket": second["number"], "level": 6}).status_code == 422
    assert pad.get("/api/pad/77").status_code == 404
    assert pad.post("/api/pad/77/rating", json={"ticket": "A001", "level": 1}).status_code == 404
    assert rating(pad, second["number"], 2).status_code == 201


def test_the_pad_page_is_served_for_every_window(pad, service):
    for w in service.config.windows:
        page = pad.get(f"/pad/{w.id}")
        assert page.status_code == 200 and "请对本次服务作出评价" in page.text
    assert pad.get("/pad/77").status_code == 404


def test_only_the_windows_own_tablet_sees_or_rates(anyone, pad, service, clock):
    t = serve_one(service, clock)
    refusals = {
        "no key": {}, "a wrong key": {"x-pad-key": "guessed-pad-key-000000"},
        "window 2's key": key("2"), "an issuing kiosk's": {"x-kiosk-key": PAD_KEYS["1"]},
    }
    for why, headers in refusals.items():
        for r in (anyone.get("/api/pad/1", headers=headers),
                  anyone.post("/api/pad/1/rating", headers=headers, json={"ticket": t["number"], "level": 5})):
            assert r.status_code == 401, why
            assert r.json()["error"] == "pad_unauthorised" and "未获授权" in r.json()["message"], why
    # a tablet not yet provisioned (no key in the config) is refused whatever it sends
    assert anyone.get("/api/pad/3", headers={"x-pad-key": ""}).status_code == 401
    assert anyone.get("/api/pad/77").status_code == 404  # an unknown window is not found, key or not
    assert service.ledger.query("SELECT COUNT(*) FROM ratings")[0][0] == 0  # nothing refused was stored

    assert rating(pad, t["number"], 2).status_code == 201
    assert rating(pad, t["number"], 1).json()["error"] == "not_invited"  # one rating per ticket still holds
    assert service.ledger.query("SELECT channel, level FROM ratings") == [("pad", 2)]


def test_a_key_changed_in_the_configuration_applies_at_once(app, anyone, service):
    from dataclasses import replace

    assert anyone.get("/api/pad/1", headers=key("1")).status_code == 200
    settings = service.config.sections["devices"]
    service.config.sections["devices"] = replace(settings, tablets=(TabletSpec("1", key_hash("a-new-key-for-window-1")),))
    assert anyone.get("/api/pad/1", headers=key("1")).status_code == 401  # the old key no longer opens it
    assert anyone.get("/api/pad/1", headers={"x-pad-key": "a-new-key-for-window-1"}).status_code == 200


def test_tablet_keys_in_the_config_are_hashed_and_checked_at_load():
    from hall_controller.app import parse_config
    from hall_controller.config_loader import ConfigError
    from tests.conftest import DEMO_CONFIG, DEMO_PAD_KEYS

    demo = DEMO_CONFIG.read_text(encoding="utf-8")
    config = parse_config(demo, "demo.toml")
    tablets = config.sections["devices"].tablets
    assert sorted(t.window_id for t in tablets) == sorted(w.id for w in config.windows)  # the demo: every window
    assert all(t.key_hash == key_hash(DEMO_PAD_KEYS[t.window_id]) for t in tablets)
    assert len({t.key_hash for t in tablets}) == len(tablets)  # a key per pad
    line = f'{{ window = "4", key = "{DEMO_PAD_KEYS["4"]}" }}'
    hashed = key_hash("a-key-from-hall-controller-pad-key")
    assert parse_config(demo.replace(line, f'{{ window = "4", key_hash = "{hashed}" }}'), "h.toml") \
        .sections["devices"].tablet("4").key_hash == hashed
    for bad, reason in (('{ window = "4", key = "short" }', "at least 16"),
                        ('{ window = "4", key_hash = "md5$abc" }', "sha256$"),
                        ('{ window = "99", key = "a-long-enough-pad-key" }', "unknown window"),
                        ('{ window = "5", key = "a-long-enough-pad-key" }', "already has a tablet")):
        with pytest.raises(ConfigError) as failed:
            parse_config(demo.replace(line, bad), "hall.toml")
        assert "devices.tablets" in str(failed.value) and reason in str(failed.value)


def test_the_pad_key_command_prints_a_hash_the_config_takes(capsys):
    from hall_controller.cli import main

    assert main(["pad-key", "4"]) == 0
    out = capsys.readouterr().out
    hashed = out.split('key_hash = "')[1].split('"')[0]
    address = out.split("/pad/4#key=")[1].split()[0]
    assert key_hash(address) == hashed and len(address) >= 32 and '[[devices.tablets]]' in out


def test_a_new_tablet_key_set_at_admin_applies_at_once_without_restarting_the_devices(tmp_path):
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hall_controller.app import build_app, load_config
    from hall_controller.core.clock import ManualClock
    from tests.conftest import DEMO_CONFIG, DEMO_PAD_KEYS

    app = build_app(load_config(DEMO_CONFIG), str(tmp_path / "hall.db"),
                    ManualClock(datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))),
                    ServeOptions(devices="simulated", var_dir=tmp_path, rate_limit=0))
    with TestClient(app) as c:
        hub, buses = app.state.devices, dict(app.state.devices.buses)
        admin = {"authorization": "Bearer " + c.post("/api/manager/sign-in", json={
            "manager_id": "admin", "password": "admin123"}).json()["token"]}
        r = c.get("/api/admin/config", headers=admin).json()
        tablets = r["config"]["devices"]["tablets"]
        # the demo file's clear keys were stored as their hashes, and are shown hidden
        assert all(set(t) == {"window", "key_hash"} and t["key_hash"] == "******" for t in tablets)
        assert all("key" not in k and k["key_hash"] == "******" for k in r["config"]["kiosks"]["kiosk"])
        tablets[3] = {"window": "4", "key": "window-4-new-tablet-key"}  # window 4's tablet was replaced
        put = c.put("/api/admin/config", headers=admin, json={"base_version": r["version"], "config": r["config"]})
        assert put.status_code == 200, put.text
        assert c.get("/api/pad/4", headers={"x-pad-key": DEMO_PAD_KEYS["4"]}).status_code == 401
        assert c.get("/api/pad/4", headers={"x-pad-key": "window-4-new-tablet-key"}).status_code == 200
        assert c.get("/api/pad/5", headers={"x-pad-key": DEMO_PAD_KEYS["5"]}).status_code == 200  # kept its key
        stored = app.state.service.config.document["devices"]["tablets"]  # the new version holds no clear key
        assert stored[3] == {"window": "4", "key_hash": key_hash("window-4-new-tablet-key")} and "qinghe" not in str(stored)
        # the change's event reaches the devices on the server's loop after the COMMIT: wait for it, then see
        # that a key needed no restart of buses, printers or voice
        deadline = time.monotonic() + 60
        while hub.settings.tablet("4").key_hash != key_hash("window-4-new-tablet-key") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.settings.tablet("4").key_hash == key_hash("window-4-new-tablet-key")
        assert hub.reloads == 0 and all(hub.buses[b] is buses[b] for b in buses)
    app.state.service.ledger.close()
