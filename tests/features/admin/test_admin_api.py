"""后台管理 API: configuration versions through the one write path, on the demo hall."""

from __future__ import annotations

import copy
import io
import json
import re
import time
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.features.admin.rules import REDACTED
from hall_controller.http.app import ServeOptions
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK

DEMO_SERVICES = len(tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["services"])
# Local matters: the demo's services with no 事项编码 (a catalogue import never touches them).
DEMO_LOCAL = sum(1 for s in tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["services"] if not s.get("code"))

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def demo():
    return load_config(DEMO_CONFIG)


@pytest.fixture
def hall(tmp_path, demo):
    app = build_app(demo, str(tmp_path / "hall.db"), ManualClock(NOW),
                    ServeOptions(devices="none", var_dir=tmp_path, rate_limit=0))
    with TestClient(app) as c:
        yield c
    app.state.service.ledger.close()


def signed_in(c: TestClient, who: str = "admin", password: str = "admin123") -> dict[str, str]:
    r = c.post("/api/manager/sign-in", json={"manager_id": who, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def current(c: TestClient, h: dict[str, str]) -> tuple[int, dict]:
    r = c.get("/api/admin/config", headers=h).json()
    return r["version"], r["config"]


def put(c: TestClient, h: dict[str, str], base: int, doc: dict, **extra):
    return c.put("/api/admin/config", headers=h, json={"base_version": base, "config": doc, **extra})


def service_entry(doc: dict, sid: str) -> dict:
    return next(s for s in doc["services"] if s["id"] == sid)


def test_managers_read_admins_change_and_nobody_else(hall):
    assert hall.get("/api/admin/config").status_code == 401
    manager = signed_in(hall, "manager", "manager123")
    version, doc = current(hall, manager)
    assert version == 1
    assert put(hall, manager, 1, doc).status_code == 403
    assert hall.post("/api/admin/config/rollback", headers=manager, json={"version": 1}).status_code == 403
    assert hall.get("/api/admin/config/versions", headers=manager).status_code == 200


def test_the_whole_file_is_the_first_version_with_secrets_hidden(hall):
    version, doc = current(hall, signed_in(hall))
    file = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    assert version == 1 and set(doc) == set(file)  # every section, whoever's, without knowing them
    assert doc["services"] == file["services"]
    staff = doc["staff"][0]
    assert staff["pin_hash"] == REDACTED and "pin" not in staff
    assert all(m["password_hash"] == REDACTED for m in doc["managers"])
    assert REDACTED not in json.dumps(file["services"])


def test_a_material_edit_is_one_event_and_applies_live(hall):
    h = signed_in(hall)
    service = hall.app.state.service
    version, doc = current(hall, h)
    service_entry(doc, "hukou_move")["materials"][0] = {"name": "居民身份证原件（正反面）", "note": "可现场复印"}
    seq = service.ledger.last_seq
    r = put(hall, h, version, doc)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["changed"] == ["services"]
    assert service.config.service("hukou_move").materials[0].note == "可现场复印"
    events = service.ledger.events_since(seq)
    assert [e["type"] for e in events] == ["config.changed"]
    assert events[0]["data"]["version"] == 2 and events[0]["data"]["changed"] == ["services"]
    kiosk = hall.get("/api/services").json()
    assert next(s for s in kiosk["services"] if s["id"] == "hukou_move")["materials"][0]["name"] == "居民身份证原件（正反面）"
    listed = hall.get("/api/admin/config/versions", headers=h).json()
    assert listed["current"] == 2
    latest = listed["versions"][0]
    assert latest["by"] == "admin" and "事项 hukou_move" in latest["summary"]
    assert any("居民身份证原件（正反面）" in line for line in latest["diff"])


def test_a_stale_base_version_is_refused(hall):
    h = signed_in(hall)
    version, doc = current(hall, h)
    doc["hall"]["name"] = "清河县政务服务中心（新）"
    assert put(hall, h, version, doc).status_code == 200
    doc["hall"]["name"] = "另一个名字"
    r = put(hall, h, version, doc)
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"
    assert hall.app.state.service.config.name == "清河县政务服务中心（新）"


def test_rollback_makes_a_new_version_equal_to_the_old_one(hall):
    h = signed_in(hall)
    _, original = current(hall, h)
    doc = copy.deepcopy(original)
    service_entry(doc, "hukou_move")["time_limit"] = "承诺 1 个工作日"
    assert put(hall, h, 1, doc).json()["version"] == 2
    r = hall.post("/api/admin/config/rollback", headers=h, json={"version": 1})
    assert r.status_code == 200 and r.json()["version"] == 3
    assert current(hall, h) == (3, original)
    assert hall.app.state.service.config.service("hukou_move").time_limit == "即办"
    assert hall.get("/api/admin/config/versions", headers=h).json()["versions"][0]["summary"] == "回退到版本 1"
    assert hall.post("/api/admin/config/rollback", headers=h, json={"version": 99}).status_code == 404


def _waiting(hall, service_id: str, n: int) -> list[dict]:
    return [hall.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service_id, "channel": "kiosk"}).json() for _ in range(n)]


def test_waiting_tickets_keep_their_place(hall):
    h = signed_in(hall)
    tickets = _waiting(hall, "hukou_move", 3) + _waiting(hall, "id_card_reissue", 2)
    before = {t["id"]: hall.get(f"/api/tickets/{t['id']}").json()["ahead"] for t in tickets}
    version, doc = current(hall, h)
    service_entry(doc, "id_card_reissue")["category"] = "other"  # a matter moved to another theme
    doc["windows"].append({"number": 30, "mode": "comprehensive"})
    assert put(hall, h, version, doc).status_code == 200
    after = {t["id"]: hall.get(f"/api/tickets/{t['id']}").json()["ahead"] for t in tickets}
    assert after == before
    assert hall.app.state.service.hall.windows["30"].staff_id is None


def test_removing_a_service_or_window_in_use_names_the_tickets_unless_they_are_moved(hall):
    h = signed_in(hall)
    waiting = _waiting(hall, "id_card_renew", 2)
    version, doc = current(hall, h)
    doc["services"] = [s for s in doc["services"] if s["id"] != "id_card_renew"]
    doc["simulation"]["mix"].pop("id_card_renew", None)
    r = put(hall, h, version, doc)
    assert r.status_code == 409 and r.json()["error"] == "config_in_use"
    assert "id_card_renew" in r.json()["message"] and waiting[0]["number"] in r.json()["message"]
    # Moved: same numbers, same order, the new matter.
    r = put(hall, h, version, doc, moves={"id_card_renew": "id_card_reissue"})
    assert r.status_code == 200 and sorted(r.json()["moved"]) == sorted(t["id"] for t in waiting)
    moved = [hall.get(f"/api/tickets/{t['id']}").json() for t in waiting]
    assert [t["service_id"] for t in moved] == ["id_card_reissue"] * 2
    assert [t["number"] for t in moved] == [t["number"] for t in waiting]
    assert moved[0]["ahead"] < moved[1]["ahead"]
    # A staffed window cannot go.
    version, doc = current(hall, h)
    doc["windows"].append({"number": 30, "mode": "comprehensive"})
    doc["staff"].append({"id": "QH3000", "name": "临时", "unit": "县政务服务中心", "pin": "2468", "windows": ["30"]})
    assert put(hall, h, version, doc).status_code == 200
    assert hall.post("/api/windows/30/sign-in", json={"staff_id": "QH3000", "pin": "2468"}).status_code == 200
    version, doc = current(hall, h)
    doc["windows"] = [w for w in doc["windows"] if w["number"] != 30]
    next(s for s in doc["staff"] if s["id"] == "QH3000")["windows"] = []
    r = put(hall, h, version, doc)
    assert r.status_code == 409 and "窗口 30" in r.json()["message"] and "QH3000" in r.json()["message"]


def test_a_new_staff_member_signs_in_at_once_and_a_disabled_one_cannot(hall):
    h = signed_in(hall)
    version, doc = current(hall, h)
    doc["staff"].append({"id": "QH2001", "name": "新同事", "unit": "县人社局", "pin": "8642", "windows": ["3"]})
    assert put(hall, h, version, doc).status_code == 200
    stored = next(s for s in hall.app.state.service.config.document["staff"] if s["id"] == "QH2001")
    assert "pin" not in stored and stored["pin_hash"].startswith("pbkdf2_sha256$")  # a clear PIN is stored hashed
    r = hall.post("/api/windows/3/sign-in", json={"staff_id": "QH2001", "pin": "8642"})
    assert r.status_code == 200, r.text
    hall.post("/api/windows/3/sign-out", headers={"authorization": f"Bearer {r.json()['token']}"})
    # PIN reset and disable, through the same document (the hash stays hidden)
    version, doc = current(hall, h)
    entry = next(s for s in doc["staff"] if s["id"] == "QH2001")
    assert entry["pin_hash"] == REDACTED
    entry["pin"] = "1357"
    assert put(hall, h, version, doc).status_code == 200
    assert hall.post("/api/windows/3/sign-in", json={"staff_id": "QH2001", "pin": "8642"}).status_code == 401
    r = hall.post("/api/windows/3/sign-in", json={"staff_id": "QH2001", "pin": "1357"})
    assert r.status_code == 200
    hall.post("/api/windows/3/sign-out", headers={"authorization": f"Bearer {r.json()['token']}"})
    version, doc = current(hall, h)
    next(s for s in doc["staff"] if s["id"] == "QH2001")["disabled"] = True
    assert put(hall, h, version, doc).status_code == 200
    assert hall.post("/api/windows/3/sign-in", json={"staff_id": "QH2001", "pin": "1357"}).status_code == 401


def _png(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def test_a_staff_photo_is_resized_and_shown_at_the_window(hall):
    h = signed_in(hall)
    r = hall.put("/api/admin/staff/QH1001/photo", headers={**h, "content-type": "image/png"}, content=_png(1200, 1600))
    assert r.status_code == 200, r.text
    pin = next(s["pin"] for s in tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["staff"] if s["id"] == "QH1001")
    assert hall.post("/api/windows/1/sign-in", json={"staff_id": "QH1001", "pin": pin}).status_code == 200
    photo = hall.get("/staff-photo/QH1001")  # the window display's (shown while on duty)
    assert photo.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(photo.content)).size) <= 480
    assert hall.get("/api/admin/staff/QH1001/photo", headers=h).content == photo.content  # the admin's view
    assert hall.get("/api/admin/staff/QH1002/photo", headers=h).status_code == 404  # none uploaded
    bad = hall.put("/api/admin/staff/QH1001/photo", headers={**h, "content-type": "image/png"}, content=b"GIF89a....")
    assert bad.status_code == 415 and bad.json()["error"] == "invalid_photo"
    assert hall.put("/api/admin/staff/nobody/photo", headers=h, content=_png(10, 10)).status_code == 404


def test_preview_shows_the_diff_and_commits_nothing(hall):
    h = signed_in(hall)
    version, doc = current(hall, h)
    doc["hall"]["hours"]["holidays"] = [*doc["hall"]["hours"].get("holidays", []), "2027-01-04"]
    r = hall.post("/api/admin/config/preview", headers=h, json={"config": doc})
    assert r.status_code == 200
    assert any("holidays" in line for line in r.json()["diff"]) and r.json()["changed"] == ["hall"]
    assert current(hall, h)[0] == version


# Thirty broken documents, each refused with the key the loader names (the same check as check-config).
def _set(path, value):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _drop(path):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _svc(key, value):
    return lambda doc: service_entry(doc, "hukou_move").__setitem__(key, value)


def _staff(key, value):
    return lambda doc: doc["staff"][0].__setitem__(key, value)


BROKEN = [
    (_drop(["hall"]), "hall"),
    (_set(["hall", "name"], ""), "hall.name"),
    (_set(["hall", "timezone"], "Mars/Base"), "hall.timezone"),
    (_set(["hall", "public_url"], "ftp://x"), "hall.public_url"),
    (_set(["hall", "hours", "sessions"], []), "hall.hours.sessions"),
    (_set(["hall", "hours", "sessions"], [["12:00", "08:30"]]), "hall.hours.sessions[0]"),
    (_set(["hall", "hours", "holidays"], ["2026-02-30"]), "hall.hours.holidays[0]"),
    (_set(["hall", "hours", "weekdays"], [1, 9]), "hall.hours.weekdays[1]"),
    (_set(["hall", "colour"], "red"), "hall.colour"),
    (_set(["queue", "max_wait_minutes"], -5), "queue.max_wait_minutes"),
    (_set(["queue", "priority_ratio"], 0), "queue.priority_ratio"),
    (_set(["queue", "fairness"], "fifo"), "queue.fairness"),
    (_set(["queue", "priority_head_start_minutes"], 300), "queue.priority_head_start_minutes"),
    (_drop(["queue", "service_level_minutes"]), "queue.service_level_minutes"),  # the one missing
    (_set(["queue", "service_level_percent"], 150), "queue.service_level_percent"),
    (_set(["categories"], []), "categories"),
    (lambda d: d["categories"].append({"id": "social", "name": "重复"}), "categories[8].id"),
    (_svc("category", "nowhere"), "services[id=hukou_move].category"),
    (_svc("prefix", "a1"), "services[id=hukou_move].prefix"),
    (_svc("minutes", 0), "services[id=hukou_move].minutes"),
    (_svc("minutes", "十"), "services[id=hukou_move].minutes"),
    (_svc("time_limit", ""), "services[id=hukou_move].time_limit"),
    (_svc("daily_cap", 0), "services[id=hukou_move].daily_cap"),
    (_svc("materials", [{"name": "身份证"}, {"name": "身份证"}]), "services[id=hukou_move].materials[1].name"),
    (_svc("materials", [{"required": True}]), "services[id=hukou_move].materials[0].name"),
    (_svc("fee", 5), "services[id=hukou_move].fee"),
    (lambda d: d["services"].append({"id": "bad id!", "name": "x"}), f"services[{DEMO_SERVICES}].id"),
    (lambda d: d["windows"][0].__setitem__("mode", "magic"), "windows[id=1].mode"),
    (lambda d: d["windows"].append({"number": 1, "mode": "comprehensive"}), "windows[21].number"),
    (_staff("pin", "12"), "staff[id=QH1001].pin"),
    (_staff("windows", ["404"]), "staff[id=QH1001].windows[0]"),
    (_staff("disabled", "no"), "staff[id=QH1001].disabled"),
    (lambda d: d["managers"][0].__setitem__("role", "root"), "managers[id=manager].role"),
    (_set(["devices", "voice", "repeats"], 99), "devices.voice.repeats"),
    (_set(["ratings", "online_days"], -1), "ratings.online_days"),
]


def test_thirty_broken_documents_each_name_their_field(hall):
    h = signed_in(hall)
    version, good = current(hall, h)
    assert len(BROKEN) >= 30
    for change, field in BROKEN:
        doc = copy.deepcopy(good)
        change(doc)
        r = put(hall, h, version, doc)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"] == "invalid_config" and r.json()["field"] == field, (field, r.json())
        reason = r.json()["message"].removeprefix(f"配置有误：{field}：")
        assert re.search(r"[\u4e00-\u9fff]", reason) and not re.search(r"\b(must|unknown|got)\b", reason), reason
    assert current(hall, h)[0] == version


def test_devices_and_voice_restart_on_their_new_settings(tmp_path, demo):
    app = build_app(demo, str(tmp_path / "hall.db"), ManualClock(NOW),
                    ServeOptions(devices="simulated", var_dir=tmp_path, rate_limit=0))
    with TestClient(app) as c:
        hub = app.state.devices
        old_buses = dict(hub.buses)
        h = signed_in(c)
        version, doc = current(c, h)
        doc["devices"]["voice"]["template"] = "请{number}号到{window}号窗口"
        doc["devices"]["voice"]["output"] = "none"
        assert put(c, h, version, doc).status_code == 200
        deadline = time.monotonic() + 60  # the restart runs on the server's loop after the PUT's COMMIT
        while hub.reloads < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.reloads == 1 and hub.settings.voice.template == "请{number}号到{window}号窗口"
        assert set(hub.buses) == set(old_buses) and all(hub.buses[b] is not old_buses[b] for b in old_buses)
        # A change elsewhere leaves the devices running as they are.
        buses = dict(hub.buses)
        version, doc = current(c, h)
        doc["hall"]["name"] = "清河县政务服务中心"
        doc["queue"]["recall_limit"] = 2
        assert put(c, h, version, doc).status_code == 200
        assert c.get("/api/admin/config", headers=h).json()["version"] == version + 1
        assert hub.reloads == 1 and all(hub.buses[b] is buses[b] for b in buses)
    app.state.service.ledger.close()


SAMPLE = DEMO_CONFIG.parent / "catalogue" / "province-catalogue-sample.csv"
DEFAULTS = {"category": "social", "prefix": "A", "minutes": 12}


def test_the_catalogue_import_adds_then_shows_what_changed_and_keeps_local_matters(hall):
    h = signed_in(hall)
    text = SAMPLE.read_text(encoding="utf-8")
    body = {"text": text, "format": "csv", "defaults": DEFAULTS}
    preview = hall.post("/api/admin/catalogue/preview", headers=h, json=body)
    assert preview.status_code == 200, preview.text
    assert len(preview.json()["report"]["added"]) == 5 and len(preview.json()["report"]["local"]) == DEMO_LOCAL
    assert current(hall, h)[0] == 1  # a preview commits nothing
    r = hall.post("/api/admin/catalogue/import", headers=h, json=body).json()
    assert r["version"] == 2
    service = hall.app.state.service
    dibao = next(s for s in service.config.services if s.code == "331122-SH-0101-001")
    assert (dibao.fee, dibao.phone, dibao.category_id) == ("不收费", "0578-12345", "social")
    assert [(m.name, m.required) for m in dibao.materials][-1] == ("残疾证", False)
    # The same file again: nothing to do. An edited one: exactly what changed; local matters untouched.
    again = hall.post("/api/admin/catalogue/import", headers=h, json=body).json()
    assert again["version"] == 2 and again["report"]["unchanged"] == 5
    edited = text.replace("承诺 20 个工作日", "承诺 15 个工作日")
    r = hall.post("/api/admin/catalogue/import", headers=h, json={**body, "text": edited}).json()
    assert r["version"] == 3
    assert r["report"]["changed"] == [{"code": "331122-SH-0101-001", "id": dibao.id, "name": "最低生活保障对象认定",
                                       "fields": ["time_limit"]}]
    assert service.config.service("hukou_move") is not None and len(service.config.services) == DEMO_SERVICES + 5
    # The JSON export, read through a mapping, is the same catalogue.
    json_text = SAMPLE.with_suffix(".json").read_text(encoding="utf-8")
    r = hall.post("/api/admin/catalogue/preview", headers=h, json={"text": json_text, "format": "json",
                                                                    "defaults": DEFAULTS, "mapping": {"materials": "申请材料"}})
    assert [c["fields"] for c in r.json()["report"]["changed"]] == [["time_limit"]]
    bad = hall.post("/api/admin/catalogue/preview", headers=h, json={**body, "mapping": {"code": "编码"}})
    assert bad.status_code == 422 and bad.json()["field"] == "mapping.code"


def test_config_export_and_import_round_trip_toml(tmp_path, demo):
    from hall_controller.cli import main

    db = tmp_path / "hall.db"
    build_app(demo, str(db), ManualClock(NOW), ServeOptions(devices="none", var_dir=tmp_path)).state.service.ledger.close()
    first = tmp_path / "v1.toml"
    assert main(["config", "export", "--db", str(db), "--out", str(first)]) == 0
    exported = tomllib.loads(first.read_text(encoding="utf-8"))
    assert exported["services"] == tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["services"]
    edited = tmp_path / "v2.toml"
    edited.write_text(first.read_text(encoding="utf-8").replace('time_limit = "承诺 15 个工作日"', 'time_limit = "承诺 10 个工作日"', 1),
                      encoding="utf-8")
    assert main(["config", "import", str(edited), "--db", str(db)]) == 0
    again = tmp_path / "again.toml"
    assert main(["config", "export", "--db", str(db), "--out", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == edited.read_text(encoding="utf-8")
    assert main(["check-config", str(again)]) == 0
    broken = tmp_path / "broken.toml"
    broken.write_text(again.read_text(encoding="utf-8").replace('prefix = "A"', 'prefix = "a"', 1), encoding="utf-8")
    assert main(["config", "import", str(broken), "--db", str(db)]) == 2


def test_the_hall_restarts_on_its_current_version_and_takes_an_edited_file_as_a_new_one(tmp_path, demo):
    db = str(tmp_path / "hall.db")
    options = ServeOptions(devices="none", var_dir=tmp_path, rate_limit=0)
    app = build_app(demo, db, ManualClock(NOW), options)
    with TestClient(app) as c:
        h = signed_in(c)
        version, doc = current(c, h)
        service_entry(doc, "hukou_move")["time_limit"] = "承诺 2 个工作日"
        assert put(c, h, version, doc).status_code == 200
    app.state.service.ledger.close()
    app = build_app(demo, db, ManualClock(NOW), options)  # the same file: the admin's version stands
    assert app.state.service.config.version == 2
    assert app.state.service.config.service("hukou_move").time_limit == "承诺 2 个工作日"
    app.state.service.ledger.close()
    edited = tmp_path / "hall.toml"
    edited.write_text(DEMO_CONFIG.read_text(encoding="utf-8").replace('name = "清河县政务服务中心"', 'name = "清河县政务服务中心（新址）"', 1),
                      encoding="utf-8")
    app = build_app(load_config(edited), db, ManualClock(NOW), options)
    assert (app.state.service.config.version, app.state.service.config.name) == (3, "清河县政务服务中心（新址）")
    assert app.state.service.ledger.events_since(0)[-1]["type"] == "config.changed"
    app.state.service.ledger.close()
