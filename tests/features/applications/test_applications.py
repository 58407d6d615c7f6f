"""办件: the counter's outcomes (补正, 不予受理, 容缺, 承诺件), the business systems' integration API, 出件 and
政务专递, 一件事 bundles, the overdue watch and the ledger's events."""

from __future__ import annotations

from dataclasses import replace
import pytest
from fastapi.testclient import TestClient

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.events import public
from hall_controller.core.decision import Decision
from hall_controller.core.service import HallService
from hall_controller.core.passwords import hash_secret
from hall_controller.core.settings import Manager, Material, Service
from hall_controller.features.applications import rules
from hall_controller.features.applications.feature import feature as applications_f
from hall_controller.features.applications.rules import ApplicationSettings, Bundle, System
from hall_controller.features.applications.settings import key_digest
from hall_controller.features.ratings.feature import feature as ratings_f
from hall_controller.features.ratings.service import record_rating
from hall_controller.http.app import create_app
from tests.factory import KIOSK, MONDAY_10, small_hall, with_kiosk

KEY = "yc-key-0123456789abcdef"


def hall_config():
    base = small_hall()
    services = tuple(replace(s, code=f"37150200{i:02d}") for i, s in enumerate(base.services)) + (
        Service("BC", "出生医学证明", "social", "A", 5, "即办", None, (), (Material("居民身份证"), Material("出生医学证明申请表"))),
        Service("HK", "户口登记", "social", "A", 5, "承诺 2 个工作日", None, (), (Material("居民身份证"), Material("户口簿"))),
        Service("NB", "新生儿出生一件事", "social", "Y", 15, "承诺 2 个工作日", None, (), (Material("一件事申请表"),)),
    )
    cfg = replace(base, services=services,
                  managers=(Manager("m1", "管理员", "manager", hash_secret("pw123456", iterations=1000)),))
    s = ApplicationSettings(systems=(System("yc", "一窗受理系统", key_digest(KEY)),),
                            bundles=(Bundle("newborn", "新生儿出生一件事", "NB", ("BC", "HK")),),
                            pickup_service="P1", number_prefix="HT")
    return replace(cfg, sections={"applications": s})


@pytest.fixture
def svc(tmp_path):
    clock = ManualClock(MONDAY_10)
    s = HallService(hall_config(), open_ledger(tmp_path / "hall.db"), clock)
    yield s
    s.ledger.close()


@pytest.fixture
def client(svc):
    with TestClient(with_kiosk(create_app(svc, [ratings_f, applications_f]))) as c:
        yield c


def signed_in(client: TestClient, window: str = "1", staff: str = "S001") -> dict:
    r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": "1234"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def called(client: TestClient, auth: dict, service_id: str = "B1", window: str = "1") -> dict:
    client.post("/api/tickets", headers=KIOSK, json={"service_id": service_id})
    r = client.post(f"/api/windows/{window}/call-next", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


def system() -> dict:
    return {"Authorization": f"Bearer {KEY}"}


def events(svc: HallService, prefix: str) -> list[dict]:
    return [e for e in svc.ledger.events_since(0, 10_000) if e["type"].startswith(prefix)]


def test_supplement_records_missing_materials_and_links_the_ticket(client, svc):
    auth = signed_in(client)
    t = called(client, auth)
    r = client.post("/api/windows/1/finish", headers=auth,
                    json={"outcome": "supplement", "missing_materials": ["营业执照复印件", "经营场所证明"]})
    assert r.status_code == 200, r.text
    no = r.json()["ticket"]["application_no"]
    assert no == f"HT{t['id'].replace('-', '')}"
    app = client.get(f"/api/applications/{no}", headers=auth).json()
    assert app["status"] == "supplement" and app["status_label"] == "待补正"
    assert app["missing"] == ["营业执照复印件", "经营场所证明"]
    assert app["service_code"] == "3715020002" and app["ticket_id"] == t["id"]
    finished = events(svc, "ticket.finished")[-1]["data"]
    assert finished["ticket"]["application_no"] == no
    assert finished["applications"][0]["service_code"] == "3715020002"
    recorded = events(svc, "application.recorded")[-1]["data"]
    assert recorded["notice"] == "补正材料通知书"


@pytest.mark.parametrize("body, code", [
    ({"outcome": "supplement", "application_no": "YC2026-0001"}, "missing_materials_required"),
    ({"outcome": "returned", "application_no": "YC2026-0009"}, "reason_required"),
    ({"outcome": "returned", "reason": " "}, "reason_required"),
    ({"outcome": "consult", "application_no": "YC2026-0001"}, "consult_no_application"),
    ({"outcome": "immediate", "commitment_due": "2026-11-30"}, "commitment_without_missing"),
    ({"outcome": "promised", "missing_materials": ["x"], "commitment_due": "2026-11-01"}, "invalid_commitment_due"),
])
def test_finish_refuses_an_incomplete_outcome_and_keeps_the_ticket(client, svc, body, code):
    auth = signed_in(client)
    t = called(client, auth)
    r = client.post("/api/windows/1/finish", headers=auth, json=body)
    assert r.status_code == 422 and r.json()["error"] == code, r.text
    assert svc.hall.tickets[t["id"]].status.value == "called"  # nothing committed


def test_refusal_keeps_its_reason(client, svc):
    auth = signed_in(client)
    called(client, auth)
    r = client.post("/api/windows/1/finish", headers=auth,
                    json={"outcome": "退回件", "application_no": "YC2026-0002", "reason": "不属于本县管辖范围"})
    assert r.status_code == 200, r.text
    app = client.get("/api/applications/YC2026-0002", headers=auth).json()
    assert app["status"] == "refused" and app["reason"] == "不属于本县管辖范围"
    n = rules.notice({**app, "phone": None, "id_hash": None}, svc.config, svc.clock.now())
    assert n.title == "不予受理告知书" and any("不属于本县管辖范围" in p for p in n.paragraphs)


def test_rongque_commitment_goes_overdue_and_supplying_ends_it(client, svc):
    auth = signed_in(client)
    called(client, auth)
    r = client.post("/api/windows/1/finish", headers=auth, json={
        "outcome": "promised", "application_no": "YC2026-0003", "missing_materials": ["社会保障卡"],
        "commitment_due": "2026-11-24"})
    assert r.status_code == 200, r.text
    app = client.get("/api/applications/YC2026-0003", headers=auth).json()
    assert app["status"] == "accepted"
    assert app["due_at"].startswith("2026-11-26T17:30")  # 承诺 3 个工作日 from Monday
    assert app["commitment_due"].startswith("2026-11-24T17:30") and app["commitment_materials"] == ["社会保障卡"]
    apps = client.app.state.applications
    assert apps.check_overdue() == 0
    svc.clock.advance(days=1, hours=8)  # Tuesday 18:00
    assert apps.check_overdue() == 1
    assert apps.check_overdue() == 0  # one alert per missed deadline
    overdue = events(svc, "application.overdue")
    assert [e["data"]["kind"] for e in overdue] == ["commitment"]
    [alert] = board_alerts(svc)  # the live board's 超期 alert
    assert alert.title == "办件超期" and "YC2026-0003" in alert.detail and "容缺材料补交" in alert.detail
    assert alert.subject == {"application_id": "YC2026-0003", "window_id": "1"}
    r = client.post("/api/integration/applications/YC2026-0003/status", headers=system(), json={"supplied": True})
    assert r.status_code == 200 and r.json()["supplied_at"]
    assert not board_alerts(svc)  # met: the alert ends
    assert r.json()["watched_due"].startswith("2026-11-26")  # now the promised deadline runs
    svc.clock.advance(days=3)
    assert apps.check_overdue() == 1
    assert events(svc, "application.overdue")[-1]["data"]["kind"] == "deadline"
    listed = client.get("/api/applications?overdue=true", headers=manager(client)).json()["applications"]
    assert [a["application_no"] for a in listed] == ["YC2026-0003"]


def board_alerts(svc: HallService) -> list:
    from hall_controller.features.manager.rules import ManagerSettings, evaluate, fold_signals

    signals = fold_signals(svc.ledger.events_since(0, 10_000))
    return [a for a in evaluate(svc.hall, svc.clock.now(), ManagerSettings(), signals) if a.kind == "overdue"]


def manager(client: TestClient) -> dict:
    r = client.post("/api/manager/sign-in", json={"manager_id": "m1", "password": "pw123456"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_business_system_attaches_evaluates_and_reports_status(client, svc):
    auth = signed_in(client)
    t = called(client, auth)
    assert client.post("/api/integration/windows/1/application", json={"application_no": "YC2026-0004"}
                       ).status_code == 401
    assert client.post("/api/integration/windows/1/application", headers={"Authorization": "Bearer wrong-key-000000"},
                       json={"application_no": "YC2026-0004"}).status_code == 401
    r = client.post("/api/integration/windows/1/application", headers=system(), json={
        "application_no": "YC2026-0004", "citizen_name": "张三丰", "phone": "13800138000",
        "id_number": "37150219800101001X"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received" and r.json()["citizen"] == "张**"
    assert "phone" not in r.json() and r.json()["phone_masked"] == "138****8000"
    assert svc.hall.tickets[t["id"]].application_no == "YC2026-0004"
    # the business system finishes the matter: the ticket is finished (the pad is invited by that)
    r = client.post("/api/integration/applications/YC2026-0004/evaluate", headers=system(), json={"outcome": "promised"})
    assert r.status_code == 200 and r.json()["finished"] is True, r.text
    assert svc.hall.tickets[t["id"]].status.value == "finished"
    # asked again once finished: the pad is invited anew by an event the pads listen to
    r = client.post("/api/integration/applications/YC2026-0004/evaluate", headers=system())
    assert r.status_code == 200 and r.json()["finished"] is False
    assert events(svc, "application.evaluation_requested")[-1]["data"]["window_id"] == "1"
    for status in ("processing", "completed", "ready"):
        r = client.post("/api/integration/applications/YC2026-0004/status", headers=system(), json={"status": status})
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    r = client.post("/api/integration/applications/YC2026-0004/status", headers=system(), json={"status": "accepted"})
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"
    hist = client.get("/api/applications/YC2026-0004", headers=auth).json()["history"]
    assert [h["status"] for h in hist] == ["received", "accepted", "processing", "completed", "ready"]


def test_mailing_records_the_waybill(client, svc):
    auth = signed_in(client)
    called(client, auth)
    client.post("/api/windows/1/finish", headers=auth, json={"outcome": "immediate", "application_no": "YC2026-0005"})
    r = client.post("/api/applications/YC2026-0005/mail", headers=auth, json={
        "recipient": "李四", "phone": "13900139000", "address": "清河县人民路 1 号", "waybill": "EMS1234567890"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mailed" and r.json()["delivery"]["waybill"] == "EMS1234567890"
    assert r.json()["delivery"]["recipient"] == "李*" and r.json()["delivery"]["phone"] == "139****9000"
    again = client.post("/api/applications/YC2026-0005/mail", headers=auth, json={
        "recipient": "李四", "phone": "13900139000", "address": "清河县人民路 1 号", "waybill": "EMS1234567890"})
    assert again.status_code == 409


def test_bundle_finishes_each_matter_with_its_own_outcome(client, svc):
    auth = signed_in(client)
    t = called(client, auth, "NB")
    r = client.post("/api/windows/1/finish", headers=auth, json={"matters": [
        {"service_id": "BC", "outcome": "immediate", "application_no": "YC-BC-01"},
        {"service_id": "HK", "outcome": "supplement", "missing_materials": ["出生医学证明"]}]})
    assert r.status_code == 200, r.text
    bc = client.get("/api/applications/YC-BC-01", headers=auth).json()
    hk = client.get(f"/api/applications/HT{t['id'].replace('-', '')}-2", headers=auth).json()
    assert (bc["status"], hk["status"]) == ("completed", "supplement")
    assert bc["bundle_id"] == hk["bundle_id"] == "newborn"
    report = client.get("/api/applications/report", headers=manager(client)).json()
    assert report["bundles"] == [{"id": "newborn", "name": "新生儿出生一件事", "bundles": 1, "matters": 2}]
    bad = client.post("/api/windows/1/finish", headers=auth, json={"matters": [{"service_id": "S1"}]})
    assert bad.status_code in (409, 422)


def test_bundle_materials_merge_without_duplicates():
    cfg = hall_config()
    b = cfg.section("applications").bundles[0]
    assert [m.name for m in rules.merged_materials(b, cfg)] == ["一件事申请表", "居民身份证", "出生医学证明申请表", "户口簿"]


def test_a_bundle_window_must_serve_every_matter():
    from hall_controller.app import parse_config
    from hall_controller.config_loader import ConfigError
    from tests.conftest import DEMO_CONFIG

    text = DEMO_CONFIG.read_text(encoding="utf-8")
    bad = text + '\n[[applications.bundles]]\nid = "x"\nname = "x"\nservice = "hukou_move"\nmatters = ["id_card_renew", "llc_registration"]\n'
    with pytest.raises(ConfigError, match="cannot serve"):
        parse_config(bad)


def test_details_without_the_feature_are_refused(tmp_path):
    svc = HallService(small_hall(), open_ledger(tmp_path / "h.db"), ManualClock(MONDAY_10))
    with TestClient(with_kiosk(create_app(svc, []))) as c:
        auth = signed_in(c)
        called(c, auth)
        r = c.post("/api/windows/1/finish", headers=auth, json={"outcome": "returned", "reason": "x"})
        assert r.status_code == 422 and r.json()["error"] == "details_unsupported"
    svc.ledger.close()


def test_attach_from_the_counter_then_keypad_style_finish(client, svc):
    auth = signed_in(client)
    called(client, auth)
    r = client.post("/api/windows/1/application", headers=auth, json={"application_no": " YC2026-0006 "})
    assert r.status_code == 200 and r.json()["application_no"] == "YC2026-0006", r.text
    svc.window_command("1", "finish")  # a keypad's finish: no details, the attached 办件 is recorded
    app = client.get("/api/applications/YC2026-0006", headers=auth).json()
    assert (app["status"], app["outcome"]) == ("completed", "immediate")


def test_pickup_ticket_closes_the_application(client, svc):
    """The 出件 ticket linked to a ready 办件 closes it when the 出件 window finishes it."""
    auth = signed_in(client)
    called(client, auth, "S1")
    client.post("/api/windows/1/finish", headers=auth, json={"outcome": "immediate", "application_no": "YC2026-0007"})
    client.post("/api/integration/applications/YC2026-0007/status", headers=system(), json={"status": "ready"})
    apps = client.app.state.applications
    with svc.riding(apps.link_pickup(apps.ready_for("YC2026-0007", None))):
        pickup = svc.issue_ticket("P1", "kiosk", request_id="pickup-0001")
    assert pickup["application_no"] == "YC2026-0007"
    auth9 = signed_in(client, "9", "S009")
    assert client.post("/api/windows/9/call-next", headers=auth9).json()["ticket"]["id"] == pickup["id"]
    assert client.post("/api/windows/9/finish", headers=auth9).status_code == 200
    app = client.get("/api/applications/YC2026-0007", headers=auth).json()
    assert app["status"] == "picked_up" and app["pickup_ticket_id"] == pickup["id"]
    assert events(svc, "application.picked_up")
    finished = events(svc, "ticket.finished")[-1]["data"]  # the push's 出件 result
    assert finished["applications"] == [{"application_no": "YC2026-0007", "service_id": "S1",
                                         "service_code": "3715020000", "outcome": "immediate", "status": "picked_up"}]
    # the rating at the 出件 window is filed under the 办件 handed over, with its 事项编码 (not 出件领取's)
    rating = record_rating(svc, pickup["id"], 2, "mobile")
    assert (rating["application_no"], rating["service_code"]) == ("YC2026-0007", "3715020000")
    assert "application_no" not in public(events(svc, "rating.recorded")[-1])["data"]  # not on the hall LAN


def ready_pickup(client: TestClient, svc: HallService, no: str, request_id: str) -> dict:
    """A 办件 finished at window 1, made 可领取, and its 出件 ticket called at the 统一出件 window 9."""
    auth = signed_in(client)
    called(client, auth, "S1")
    client.post("/api/windows/1/finish", headers=auth, json={"outcome": "immediate", "application_no": no})
    assert client.post(f"/api/integration/applications/{no}/status", headers=system(),
                       json={"status": "ready"}).status_code == 200
    apps = client.app.state.applications
    with svc.riding(apps.link_pickup(apps.ready_for(no, None))):
        return svc.issue_ticket("P1", "kiosk", request_id=request_id)


MAILING = {"recipient": "李四", "phone": "13900139000", "address": "清河县人民路 1 号", "waybill": "EMS1234567890"}


@pytest.mark.parametrize("change, field, code", [
    ({"recipient": " "}, "recipient", "invalid_recipient"),
    ({"phone": "1390013900"}, "phone", "invalid_phone"),
    ({"address": "人民路"}, "address", "invalid_address"),
    ({"waybill": "EMS 123"}, "waybill", "invalid_waybill"),
    ({"carrier": ""}, "carrier", "invalid_carrier"),
    ({"application_no": "不是编号"}, "application_no", "invalid_application_no"),
    ({"application_no": "YC2026-9999"}, "application_no", "unknown_application"),
])
def test_counter_mailing_names_the_field_at_fault(client, svc, change, field, code):
    pickup = ready_pickup(client, svc, "YC2026-0010", "pickup-0010")
    auth9 = signed_in(client, "9", "S009")
    assert client.post("/api/windows/9/call-next", headers=auth9).json()["ticket"]["id"] == pickup["id"]
    r = client.post("/api/windows/9/mail", headers=auth9, json={**MAILING, **change})
    assert r.status_code in (404, 422) and r.json()["error"] == code and r.json()["field"] == field, r.text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["message"])
    assert client.get("/api/applications/YC2026-0010", headers=auth9).json()["status"] == "ready"


def test_counter_records_a_mailing_instead_of_the_pickup(client, svc):
    """政务专递 at the 统一出件 window: the 出件 ticket's ready 办件 leaves by post; the finish then hands
    nothing over, and the push lists the mailing as that ticket's result."""
    pickup = ready_pickup(client, svc, "YC2026-0011", "pickup-0011")
    auth = signed_in(client)
    called(client, auth, "S1")
    r = client.post("/api/windows/1/mail", headers=auth, json={**MAILING, "application_no": "YC2026-0011"})
    assert r.status_code == 409 and r.json()["error"] == "not_a_pickup_ticket"  # not at a 统一出件 window
    client.post("/api/windows/1/finish", headers=auth, json={"outcome": "supplement", "application_no": "YC2026-0012",
                                                            "missing_materials": ["户口簿"]})
    auth9 = signed_in(client, "9", "S009")
    client.post("/api/windows/9/call-next", headers=auth9)
    [listed] = client.get("/api/windows/9/applications", headers=auth9).json()["applications"]
    assert (listed["application_no"], listed["status"]) == ("YC2026-0011", "ready")
    r = client.post("/api/windows/9/mail", headers=auth9, json={**MAILING, "application_no": "YC2026-0012"})
    assert r.status_code == 409 and r.json()["field"] == "application_no" and "待补正" in r.json()["message"]
    r = client.post("/api/windows/9/mail", headers=auth9, json={**MAILING, "phone": "0530-8123456"})  # its own 办件
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["status"] == "mailed" and app["pickup_ticket_id"] == pickup["id"]
    assert app["delivery"] | {"at": None} == {"recipient": "李*", "phone": "053****3456", "address": "清河县人民路 1 号",
                                             "waybill": "EMS1234567890", "carrier": "中国邮政 EMS", "at": None}
    assert app["history"][-1]["what"] == "mailed" and app["history"][-1]["number"] == pickup["number"]
    mailed = events(svc, "application.mailed")[-1]
    assert mailed["data"]["window_id"] == "9" and "waybill" not in public(mailed)["data"]
    again = client.post("/api/windows/9/mail", headers=auth9, json=MAILING)
    assert again.status_code == 409 and again.json()["error"] == "not_ready"  # once
    assert client.post("/api/windows/9/finish", headers=auth9).status_code == 200
    assert client.get("/api/applications/YC2026-0011", headers=auth9).json()["status"] == "mailed"  # not picked up
    assert events(svc, "ticket.finished")[-1]["data"]["applications"][0]["status"] == "mailed"
    assert not events(svc, "application.picked_up")


def test_what_a_pad_shows_of_the_application():
    cfg = hall_config()
    assert rules.mask_number("QH2026-110002") == "QH20*****0002" and rules.mask_number("AB-1") == "A**1"
    finished = {"applications": [{"application_no": "YC2026-0004", "service_id": "B1", "service_code": "3715020002"}]}
    assert rules.rated("ticket.finished", finished, cfg) == {
        "application_no": "YC2026-0004", "shown": "YC20***0004", "matter": "个体工商户设立登记", "service_code": "3715020002"}
    bundle = {"applications": [{"application_no": "A-0001", "service_id": "BC"}, {"application_no": "A-0002", "service_id": "HK"}]}
    assert rules.rated("ticket.finished", bundle, cfg) is None  # one rating of the whole 一件事
    assert rules.rated("ticket.finished", {"ticket": {}}, cfg) is None
    asked = {"application_no": "A-0002", "service_id": "HK", "service_code": None}
    assert rules.rated("application.evaluation_requested", asked, cfg)["matter"] == "户口登记"


def test_sms_adapter_against_a_local_gateway_and_the_sender_retries(svc):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from hall_controller.features.applications.notify import SmsGateway
    from hall_controller.features.applications.rules import SmsSettings
    from hall_controller.features.applications.service import Applications
    from tests.fake_sms import FakeSmsGateway

    fake = FakeSmsGateway()
    gw = SmsGateway(SmsSettings(url=fake.url, account="qh", key="k-1", ready_template="T1"))
    # The sender alone, without a running hall's watch loop: on a loaded machine that loop's first round could
    # come after the row below and send it too, while the gateway still answers 500.
    svc.config.sections["applications"] = replace(svc.config.section("applications"), sms=gw.s)
    apps = Applications(svc, None)

    async def run() -> None:
        assert await gw.send("N-1", "13800000000", "T1", {"a": 1}) == (True, None)
        fake.mode = "refuse"
        ok, error = await gw.send("N-2", "13800000000", "T1", {})
        assert not ok and "E403" in error
        fake.mode = "error"
        assert await gw.send("N-3", "13800000000", "T1", {}) == (False, "HTTP 500")
        # the sender (its gateway made from the hall's [applications.sms]): a failed send stays pending and is
        # retried with the same id; then marked sent once
        svc.execute(lambda now: Decision(rows=[(
            "notifications", {"id": "N-9", "application_no": "X-0001", "channel": "sms", "phone": "13900000000",
                              "template": "T1", "params": "{}", "state": "pending", "attempts": 0, "error": None,
                              "created_at": now.isoformat(), "sent_at": None})]))
        assert await apps.send_pending() == 0
        fake.mode = "ok"
        assert await apps.send_pending() == 1
        assert await apps.send_pending() == 0
        await gw.close()
        await apps.notifier.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    fake.close()
    row = svc.ledger.records("SELECT state, attempts FROM notifications WHERE id = 'N-9'")[0]
    assert row == {"state": "sent", "attempts": 2}
    assert [p["request_id"] for p in fake.posts].count("N-9") == 2 and list(fake.delivered).count("N-9") == 1
