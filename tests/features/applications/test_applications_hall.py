"""办件 on the whole demo hall, devices simulated: the 补正通知书 printed (decoded), the citizen told by SMS
through a fake gateway, the 出件 ticket taken at the kiosk by 办件编号 or ID card, 政务专递, and the push
carrying 办件编号 and 事项编码, each event once."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient

from drivers.escpos_decode import decode_text, render_png
from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.features.ratings.service import record_rating
from hall_controller.http.app import ServeOptions
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, DEMO_PAD_KEYS, demo_staff
from tests.fake_platform import FakePlatform
from tests.fake_sms import FakeSmsGateway

KEY = {"Authorization": "Bearer demo-yichuang-key-0123456789"}
ID_NUMBER = "371502198801010027"
DEADLINE_S = 30.0


def until(check, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"not reached: {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    sms, platform = FakeSmsGateway(), FakePlatform(hang_s=DEADLINE_S)
    platform.set_mode("up")
    # The hall runs on the configuration document (versioned in the ledger): the demo's TOML, pointed at
    # the fakes, with a fast watch.
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace("[applications]\n", "[applications]\ncheck_seconds = 0.2\n", 1)
    text = text.replace("enabled = false                 # the demo has no upstream platform", "enabled = true", 1)
    text = text.replace('url = "https://zwfw.example.gov.cn/api/hall/events"', f'url = "{platform.url}"', 1)
    text += (f'\n[applications.sms]\nurl = "{sms.url}"\naccount = "qhzw"\nkey = "sms-key"\n'
             'sign = "【清河政务】"\nready_template = "SMS_READY_01"\n')
    var = tmp_path_factory.mktemp("applications")
    (var / "hall.toml").write_text(text, encoding="utf-8")
    cfg = load_config(var / "hall.toml")
    assert cfg.section("platform").enabled and cfg.section("applications").sms.url == sms.url
    clock = ManualClock(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo(cfg.timezone)))
    app = build_app(cfg, str(var / "hall.db"), clock, ServeOptions(devices="simulated", var_dir=var, rate_limit=0))
    with TestClient(app, headers=DEMO_KIOSK) as client:  # this hall's requests come from kiosk K1
        yield client, sms, platform
    sms.close()
    platform.close()


def staff(client: TestClient, window: str) -> dict:
    sid, pin = demo_staff()[window]
    r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": sid, "pin": pin})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def serve(client: TestClient, auth: dict, service_id: str, window: str = "1") -> dict:
    client.post("/api/tickets", json={"service_id": service_id})
    r = client.post(f"/api/windows/{window}/call-next", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


def printer(client: TestClient, pid: str = "P1"):
    return client.app.state.devices.printers[pid].sim


def test_supplement_prints_the_notice(hall):
    client, _, _ = hall
    auth = staff(client, "1")
    before = len(printer(client).jobs())
    t = serve(client, auth, "llc_registration")
    r = client.post("/api/windows/1/finish", headers=auth, json={
        "outcome": "supplement", "application_no": "QH2026-110001",
        "missing_materials": ["全体股东签署的公司章程", "法定代表人任职文件"]})
    assert r.status_code == 200, r.text
    until(lambda: len(printer(client).jobs()) > before, "the notice printed")
    job = printer(client).jobs()[-1]
    text = decode_text(job)
    if os.environ.get("APPLICATIONS_DOCS"):  # the decoded notice in docs/applications.md
        render_png(job, Path(os.environ["APPLICATIONS_DOCS"]) / "applications-notice.png")
        print(text)
    for expected in ("清河县政务服务中心", "补正材料通知书", "办件编号：QH2026-110001", "有限责任公司设立登记",
                     "1. 全体股东签署的公司章程", "2. 法定代表人任职文件", "一次性告知", "1号综合窗口", "2026年11月23日"):
        assert expected in text, (expected, text)
    # reprinted on request, at another printer
    r = client.post("/api/applications/QH2026-110001/notice/print", headers=auth, json={"printer_id": "P2"})
    assert r.json()["ok"] is True, r.text
    assert "补正材料通知书" in decode_text(printer(client, "P2").wait_for_jobs(1)[-1])
    app = client.get("/api/applications/QH2026-110001", headers=auth).json()
    assert app["service_code"] == "3715020000000000001210011" and app["ticket_id"] == t["id"]


def test_refusal_prints_its_notice_with_the_reason(hall):
    client, _, _ = hall
    auth = staff(client, "5")
    before = len(printer(client).jobs())
    serve(client, auth, "food_business_licence", "5")
    r = client.post("/api/windows/5/finish", headers=auth, json={
        "outcome": "returned", "application_no": "QH2026-110009", "reason": "经营场所位于禁止经营区域"})
    assert r.status_code == 200, r.text
    until(lambda: len(printer(client).jobs()) > before, "the notice printed")
    text = decode_text(printer(client).jobs()[-1])
    for expected in ("不予受理告知书", "办件编号：QH2026-110009", "理由：经营场所位于禁止经营区域", "行政复议"):
        assert expected in text, (expected, text)


def test_ready_sends_one_sms_and_the_kiosk_issues_the_pickup_by_id_card(hall):
    client, sms, _ = hall
    auth = staff(client, "2")
    serve(client, auth, "id_card_reissue", "2")
    r = client.post("/api/integration/windows/2/application", headers=KEY, json={
        "application_no": "QH2026-110002", "citizen_name": "王小明", "phone": "13812345678", "id_number": ID_NUMBER})
    assert r.status_code == 200, r.text
    r = client.post("/api/windows/2/finish", headers=auth, json={"outcome": "promised"})
    assert r.json()["ticket"]["application_no"] == "QH2026-110002"
    token_page = client.get(f"/api/t/{client.app.state.service.hall.tickets[r.json()['ticket']['id']].token}/applications")
    assert token_page.json()["applications"][0]["status_label"] == "受理"
    for status in ("processing", "completed", "ready"):
        assert client.post("/api/integration/applications/QH2026-110002/status", headers=KEY,
                           json={"status": status}).status_code == 200
    until(lambda: "13812345678" in [p["phone"] for p in sms.posts], "the SMS sent")
    sent = [p for p in sms.posts if p["phone"] == "13812345678"]
    assert len(sent) == 1 and sent[0]["template_id"] == "SMS_READY_01" and sent[0]["sign"] == "【清河政务】"
    assert sent[0]["params"] == {"hall": "清河县政务服务中心", "service": "居民身份证补领", "application_no": "QH2026-110002"}
    assert sent[0]["authorization"] == "Bearer sms-key"
    svc = client.app.state.service
    until(lambda: svc.ledger.query("SELECT state FROM notifications")[0][0] == "sent", "marked sent")
    # 出件 by ID card at kiosk K1
    r = client.post("/api/sim/id-readers/K1/swipe", json={"name": "王小明", "sex": "男", "birth": "1988-01-01",
                                                         "id_number": ID_NUMBER})
    assert r.status_code == 200
    until(lambda: client.get("/api/kiosk/K1/status").json()["swipe"] is not None, "the card read")
    swipe = client.get("/api/kiosk/K1/status").json()["swipe"]
    r = client.post("/api/kiosk/K1/pickup", json={"request_id": "pickup-req-0001", "swipe_id": swipe["id"]})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["ticket"]["service_id"] == "pickup_result" and out["print"]["ok"] is True
    assert out["applications"] == [{"application_no": "QH2026-110002", "service_name": "居民身份证补领"}]
    again = client.post("/api/kiosk/K1/pickup", json={"request_id": "pickup-req-0001"})
    assert again.json()["ticket"]["id"] == out["ticket"]["id"]  # a retried tap: the same ticket
    auth17 = staff(client, "17")
    assert client.post("/api/windows/17/call-next", headers=auth17).json()["ticket"]["id"] == out["ticket"]["id"]
    assert client.post("/api/windows/17/finish", headers=auth17).status_code == 200
    app = client.get("/api/applications/QH2026-110002", headers=auth).json()
    assert app["status"] == "picked_up" and app["pickup_ticket_id"] == out["ticket"]["id"]


def test_pickup_by_number_refuses_what_is_not_ready(hall):
    client, _, _ = hall
    r = client.post("/api/kiosk/K1/pickup", json={"request_id": "pickup-req-0002", "application_no": "QH2026-110001"})
    assert r.status_code == 409 and r.json()["error"] == "not_ready" and "待补正" in r.json()["message"]
    r = client.post("/api/kiosk/K1/pickup", json={"request_id": "pickup-req-0003", "application_no": "NOPE-0000"})
    assert r.status_code == 404


def test_mailing_and_the_push_carry_application_and_service_codes(hall):
    client, _, platform = hall
    auth = staff(client, "3")
    t = serve(client, auth, "food_business_licence", "3")
    client.post("/api/windows/3/application", headers=auth, json={"application_no": "QH2026-110003"})
    client.post("/api/windows/3/finish", headers=auth, json={"outcome": "immediate"})
    record_rating(client.app.state.service, t["id"], 1, "pad")
    r = client.post("/api/integration/applications/QH2026-110003/mail", headers=KEY, json={
        "recipient": "赵六", "phone": "13700001111", "address": "清河县幸福路 8 号", "waybill": "1180012345678"})
    assert r.status_code == 200 and r.json()["status"] == "mailed", r.text
    # skips, transfers and complaints go up too
    serve(client, auth, "hukou_move", "3")
    client.post("/api/windows/3/skip", headers=auth)
    serve(client, auth, "hukou_move", "3")
    staff(client, "7")  # open to take it
    assert client.post("/api/windows/3/transfer", headers=auth, json={"window_id": "7"}).status_code == 200
    assert client.post("/api/complaints", json={"channel": "mobile", "content": "出件窗口排队太久",
                                                "window_id": "17"}).status_code in (200, 201)

    def pushed(type_: str) -> list[dict]:
        return [b for b in platform.accepted.values() if b["type"] == type_]

    until(lambda: pushed("application.mailed") and pushed("ticket.skipped") and pushed("ticket.transferred")
          and pushed("complaint.registered"), "pushed")
    rating = next(b for b in pushed("rating.recorded") if b["data"]["ticket_id"] == t["id"])
    assert rating["data"]["application_no"] == "QH2026-110003"
    assert rating["data"]["service_code"] == "3715020000000000001220021"
    finished = next(b for b in pushed("ticket.finished") if b["data"]["ticket_id"] == t["id"])
    assert finished["data"]["application_no"] == "QH2026-110003"
    assert finished["data"]["applications"][0]["service_code"] == "3715020000000000001220021"
    assert pushed("application.mailed")[0]["data"]["application_no"] == "QH2026-110003"
    assert set(platform.stored.values()) == {1}  # each event once


def test_bundle_on_the_kiosk_and_at_the_counter(hall):
    client, _, _ = hall
    detail = client.get("/api/kiosk/K1/services/newborn_bundle").json()
    names = [m["name"] for m in detail["materials"]]
    assert names[0] == "新生儿出生“一件事”联办申请表"
    assert names.count("父母双方居民身份证") == 1 and names.count("居民户口簿原件") == 1
    assert [m["name"] for m in detail["matters"]] == ["出生医学证明办理", "新生儿户口登记",
                                                      "城乡居民医保参保登记（新生儿）", "社会保障卡申领"]
    auth = staff(client, "4")
    t = serve(client, auth, "newborn_bundle", "4")
    r = client.post("/api/windows/4/finish", headers=auth, json={"matters": [
        {"service_id": "birth_certificate", "outcome": "immediate"},
        {"service_id": "newborn_hukou", "outcome": "promised", "missing_materials": ["结婚证"],
         "commitment_due": "2026-11-25"},
        {"service_id": "newborn_medical_insurance", "outcome": "immediate"},
        {"service_id": "social_security_card", "outcome": "promised"}]})
    assert r.status_code == 200, r.text
    base = "QH" + t["id"].replace("-", "")
    hukou = client.get(f"/api/applications/{base}-2", headers=auth).json()
    assert hukou["status"] == "accepted" and hukou["commitment_materials"] == ["结婚证"]
    assert hukou["bundle_id"] == "newborn"
    # the 统计报表 counts the bundle and its matters (JSON, page, and a sheet of the download)
    r = client.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
    mgr = {"Authorization": f"Bearer {r.json()['token']}"}
    [counted] = client.get("/api/reports/service?period=day&date=2026-11-23", headers=mgr).json()["bundles"]
    assert counted["name"] == "新生儿出生一件事" and counted["bundles"] >= 1 and counted["matters"] >= 4
    book = openpyxl.load_workbook(io.BytesIO(client.get("/api/reports/service.xlsx?period=day&date=2026-11-23",
                                                        headers=mgr).content))
    sheet = [[c.value for c in row] for row in book["一件事"].iter_rows()]
    assert ["新生儿出生一件事", counted["bundles"], counted["matters"]] in sheet


def test_the_pads_show_the_application_and_the_rating_is_filed_under_it(hall):
    """The business system triggers the evaluation with its 办件: the serial pad and the tablet show the 办件编号
    (masked) and the matter, and the rating stored and pushed carries the 办件编号 and 事项编码."""
    client, _, platform = hall
    svc = client.app.state.service
    auth = staff(client, "6")
    t = serve(client, auth, "food_business_licence", "6")
    client.post("/api/integration/windows/6/application", headers=KEY, json={"application_no": "QH2026-660002"})
    r = client.post("/api/integration/applications/QH2026-660002/evaluate", headers=KEY, json={"outcome": "immediate"})
    assert r.status_code == 200 and r.json()["finished"] is True, r.text

    def serial(window: str) -> dict | None:
        return next(w for w in client.get("/api/sim/devices").json()["windows"] if w["window_id"] == window)["pad"]["invite"]

    until(lambda: serial("6") is not None, "the serial pad invited")
    assert (serial("6")["ticket"], serial("6")["application"], serial("6")["matter"]) == (
        t["number"], "QH20*****0002", "食品经营许可")
    tablet = client.get("/api/pad/6", headers={"x-pad-key": DEMO_PAD_KEYS["6"]}).json()["invitation"]
    assert (tablet["application_no"], tablet["matter"]) == ("QH20*****0002", "食品经营许可")
    assert client.post("/api/sim/pads/6/rate", json={"level": 2}).json()["handled"] is True

    def stored(ticket_id: str) -> list[dict]:
        return svc.ledger.records("SELECT application_no, service_code FROM ratings WHERE ticket_id = ?", (ticket_id,))

    assert stored(t["id"]) == [{"application_no": "QH2026-660002", "service_code": "3715020000000000001220021"}]
    until(lambda: any(b["type"] == "rating.recorded" and b["data"]["ticket_id"] == t["id"]
                      for b in platform.accepted.values()), "the rating pushed")
    pushed = next(b for b in platform.accepted.values() if b["type"] == "rating.recorded" and b["data"]["ticket_id"] == t["id"])
    assert (pushed["data"]["application_no"], pushed["data"]["service_code"]) == (
        "QH2026-660002", "3715020000000000001220021")

    # 一件事: the business system asks again for one matter of a finished bundle ticket — the pads now name
    # that matter's 办件, and the tablet's rating is filed under it
    auth4 = staff(client, "4")
    b = serve(client, auth4, "newborn_bundle", "4")
    assert client.post("/api/windows/4/finish", headers=auth4, json={"outcome": "immediate"}).status_code == 200
    no = "QH" + b["id"].replace("-", "") + "-2"
    until(lambda: serial("4") is not None and serial("4")["ticket"] == b["number"], "the bundle's invitation")
    assert serial("4")["application"] is None  # the whole 一件事: no one 办件
    r = client.post(f"/api/integration/applications/{no}/evaluate", headers=KEY)
    assert r.status_code == 200 and r.json()["finished"] is False, r.text
    until(lambda: serial("4")["matter"] == "新生儿户口登记", "the matter on the serial pad")
    tablet = client.get("/api/pad/4", headers={"x-pad-key": DEMO_PAD_KEYS["4"]}).json()["invitation"]
    assert tablet["matter"] == "新生儿户口登记" and tablet["application_no"].endswith(no[-4:]) and "*" in tablet["application_no"]
    r = client.post("/api/pad/4/rating", headers={"x-pad-key": DEMO_PAD_KEYS["4"]}, json={"ticket": b["number"], "level": 1})
    assert r.status_code == 201, r.text
    assert stored(b["id"])[0]["application_no"] == no


def main(argv: list[str]) -> int:
    """`hall-controller applications …` as hall_controller/cli.py runs it (without its logging set-up, which
    would take this process's log handlers from pytest)."""
    import argparse

    from hall_controller.app import SECTIONS, load_config
    from hall_controller.features.applications import cli

    parser = argparse.ArgumentParser()
    cli.add_command(parser.add_subparsers(dest="command"), str(DEMO_CONFIG))
    args = parser.parse_args(argv)
    return args.run(args, load_config, SECTIONS)


def test_the_command_line_reads_the_ledger(hall, capsys, tmp_path):
    """`hall-controller applications … --db`: read only (SQLite mode=ro) on the running hall's ledger, its
    configuration version for the names; the 超期 list, one 办件 with its history, the counts with 一件事."""
    client, _, _ = hall
    svc = client.app.state.service
    auth = staff(client, "1")
    serve(client, auth, "llc_registration")
    client.post("/api/windows/1/finish", headers=auth, json={
        "outcome": "promised", "application_no": "QH2026-110077", "missing_materials": ["法定代表人任职文件"],
        "commitment_due": "2026-11-24"})
    auth4 = staff(client, "4")
    serve(client, auth4, "newborn_bundle", "4")
    assert client.post("/api/windows/4/finish", headers=auth4, json={"outcome": "immediate"}).status_code == 200
    db = svc.ledger.path
    assert main(["applications", "show", "QH2026-110077", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "办件 QH2026-110077  有限责任公司设立登记（事项编码 3715020000000000001210011）" in out
    assert "容缺补交承诺：2026-11-24 17:30" in out and "法定代表人任职文件" in out and "历程：" in out
    assert main(["applications", "list", "--status", "accepted", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["applications"]
    assert "QH2026-110077" in [a["application_no"] for a in listed] and all(a["status"] == "accepted" for a in listed)
    assert "phone" not in listed[0] and "id_hash" not in listed[0]
    # the watch's clock is the system's: a commitment of 2026 is overdue by the time anyone reads this
    assert main(["applications", "list", "--overdue", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "QH2026-110077" in out and "超期" in out
    assert main(["applications", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "2026-11-01 至 2026-11-30：办件" in out and "一件事 新生儿出生一件事：" in out
    assert main(["applications", "show", "NOPE-0000", "--db", db]) == 2  # and nothing else on stdout
    assert "未找到办件：NOPE-0000" in capsys.readouterr().err
    (tmp_path / "notes.db").write_text("not a ledger")
    assert main(["applications", "list", "--db", str(tmp_path / "notes.db")]) == 2
    assert "applications list:" in capsys.readouterr().err
