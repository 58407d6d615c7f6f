"""督查 against a hand-worked fixture month built through the real service: four 差评 cases and three complaints
worked step by step, then 整改率, 回复率, 按时办结率, 超期, the causes of 差评, the 效能 return and 考核."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.passwords import hash_secret
from hall_controller.core.service import HallService
from hall_controller.core.settings import Manager
from hall_controller.features.ratings import case_rules
from hall_controller.features.ratings import service as ratings
from hall_controller.features.ratings.feature import feature as ratings_f
from hall_controller.features.supervision import assessment, efficiency
from hall_controller.features.supervision import rules as sup
from hall_controller.features.supervision import service as sup_service
from hall_controller.features.supervision.feature import feature as supervision_f
from hall_controller.http.app import create_app
from tests.factory import TZ, small_hall

NOV = date(2026, 11, 1)


def at(day: int, hh: int, mm: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=TZ)


def build_month(db_path) -> tuple[HallService, ManualClock, dict[str, str]]:
    """Monday 23 November: windows 1 (S001) and 2 (S002) serve T1…T6, which are rated; the cases:
    C1 (T1, 实名, window 1) valid, rectified Tuesday, replied and closed Wednesday — all on time;
    C2 (T2, anonymous, window 2) valid, rectified on 1 December — after its 5-working-day deadline — and closed;
    C3 (T3, 实名, window 1) invalid (误操作), replied Tuesday, closed Wednesday;
    C4 (T6, anonymous, window 2) never verified — overdue since Tuesday 17:30.
    Complaints: K1 (window 1) answered Tuesday; K2 (window 2) answered 1 December, after its 3 working days;
    K3 (no window) still open. The figures are read on 1 December at noon."""
    cfg = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", hash_secret("pw-1", iterations=1000)),))
    clock = ManualClock(at(23, 8, 30))
    svc = HallService(cfg, open_ledger(db_path), clock)
    ids: dict[str, str] = {}
    svc.sign_in("1", "S001", "1234")
    svc.sign_in("2", "S002", "1234")
    clock.set(at(23, 9, 0))
    for n in range(1, 7):
        ids[f"T{n}"] = svc.issue_ticket("S1", "kiosk")["id"]
    for n in range(1, 7):  # T1, T3, T5 at window 1; T2, T4, T6 at window 2; each waits n minutes
        clock.set(at(23, 9, n))
        window = "1" if n % 2 else "2"
        assert svc.window_command(window, "call-next").id == ids[f"T{n}"]
        svc.window_command(window, "finish", outcome="immediate")
    clock.set(at(23, 10, 0))
    for name, level, reasons, rater in (("T1", 5, ["attitude"], "张三"), ("T2", 4, ["wait", "slow"], None),
                                        ("T3", 4, [], "13800138000"), ("T4", 1, [], None), ("T5", 2, [], None),
                                        ("T6", 5, ["attitude"], None)):
        ratings.record_rating(svc, ids[name], level, "pad", reasons, rater=rater)
    cases = {c["ticket_id"]: c["case_id"] for c in ratings.list_cases(svc)}
    for n, t in ((1, "T1"), (2, "T2"), (3, "T3"), (4, "T6")):
        ids[f"C{n}"] = cases[ids[t]]
    step = lambda case, fn, **kw: ratings.act(svc, ids[case], fn, by="boss", **kw)  # noqa: E731
    clock.set(at(23, 10, 30))
    step("C1", case_rules.verify, valid=True, reason=None, note="")
    step("C2", case_rules.verify, valid=True, reason=None, note="")
    step("C3", case_rules.verify, valid=False, reason="misoperation", note="")
    ids["K1"] = ratings.register_complaint(svc, "phone", "态度生硬", "boss", window_id="1")["complaint_id"]
    ids["K2"] = ratings.register_complaint(svc, "phone", "推诿", "boss", window_id="2")["complaint_id"]
    ids["K3"] = ratings.register_complaint(svc, "mailbox", "大厅太冷", "boss")["complaint_id"]
    clock.set(at(23, 17, 30))
    svc.window_command("1", "sign-out")
    svc.window_command("2", "sign-out")
    clock.set(at(24, 10, 0))
    step("C1", case_rules.rectify, measures="约谈并培训")
    step("C3", case_rules.reply, method="phone", content="已说明", satisfied=True)
    ratings.answer_complaint(svc, ids["K1"], "已核实并致歉", "boss")
    clock.set(at(25, 10, 0))
    step("C1", case_rules.reply, method="phone", content="已整改", satisfied=True)
    step("C1", case_rules.close, summary="办结")
    step("C3", case_rules.close, summary="办结")
    clock.set(at(1, 10, 0, month=12))
    step("C2", case_rules.rectify, measures="增开窗口")
    step("C2", case_rules.close, summary="办结")
    ratings.answer_complaint(svc, ids["K2"], "已处理", "boss")
    clock.set(at(1, 12, 0, month=12))
    return svc, clock, ids


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    svc, clock, ids = build_month(tmp_path_factory.mktemp("sup") / "hall.db")
    yield svc, clock, ids
    svc.ledger.close()


def test_rectification_and_reply_rates_of_the_month(month):
    svc, _, _ = month
    total = sup_service.rectification_report(svc, "month", NOV, "all")["total"]
    assert (total["cases"], total["valid"], total["rectified"], total["rectify_rate"]) == (4, 2, 2, 1.0)
    assert (total["named"], total["replied"], total["reply_rate"]) == (2, 2, 1.0)
    assert (total["closed"], total["closed_on_time"]) == (3, 2) and total["on_time_rate"] == pytest.approx(2 / 3)
    assert total["overdue"] == 2  # C2 rectified late, C4 never verified
    assert (total["complaints"], total["answered"], total["answered_on_time"], total["complaints_overdue"]) == (3, 2, 1, 2)
    assert total["answer_rate"] == pytest.approx(2 / 3) and total["answer_on_time_rate"] == 0.5


def test_rates_by_window_and_staff(month):
    svc, _, _ = month
    by_window = {r["key"]: r for r in sup_service.rectification_report(svc, "month", NOV, "window")["rows"]}
    assert list(by_window) == ["1", "2", ""] and by_window[""]["name"] == "未指明"
    assert (by_window["1"]["cases"], by_window["1"]["overdue"], by_window["1"]["on_time_rate"]) == (2, 0, 1.0)
    assert (by_window["2"]["cases"], by_window["2"]["valid"], by_window["2"]["overdue"]) == (2, 1, 2)
    assert (by_window["1"]["complaints"], by_window["2"]["complaints_overdue"], by_window[""]["complaints"]) == (1, 1, 1)
    by_staff = {r["key"]: r for r in sup_service.rectification_report(svc, "month", NOV, "staff")["rows"]}
    assert by_staff["S001"]["name"] == "员工1" and by_staff["S002"]["rectify_rate"] == 1.0
    assert by_staff[""]["complaints"] == 3  # complaints name a window, never a person
    week = sup_service.rectification_report(svc, "week", date(2026, 11, 30), "all")["total"]
    assert week["cases"] == 0  # the cases were opened the week before


def test_case_steps_are_replayed_against_their_deadlines(month):
    svc, clock, ids = month
    case = ratings.load_case(svc, ids["C2"])
    steps = sup.case_steps(case, ratings.rules(svc.config), svc.config.hours, clock.now())
    assert [(s["state"], s["late"]) for s in steps] == [("pending", False), ("rectifying", True), ("closing", False)]
    assert steps[1]["due"].startswith("2026-11-28T17:30")  # five working days after Monday, Saturday the 28th a 调休 day
    open_case = ratings.load_case(svc, ids["C4"])
    last = sup.case_steps(open_case, ratings.rules(svc.config), svc.config.hours, clock.now())[-1]
    assert last["done"] is None and last["late"] and last["due"].startswith("2026-11-24T17:30")


def test_causes_by_reason_place_person_and_week(month):
    svc, _, _ = month
    r = sup_service.causes_report(svc, "month", NOV)
    assert r["bad"] == 4 and r["previous_bad"] == 0
    reasons = {x["code"]: x for x in r["reasons"]}
    assert (reasons["attitude"]["count"], reasons["attitude"]["valid"]) == (2, 1)
    assert reasons["none"]["label"] == "未选择原因" and reasons["attitude"]["share"] == 0.5
    assert [t["code"] for t in r["top"]] == ["attitude", "slow", "wait"] and r["top"][0]["trend"] == "新出现"
    by_staff = {x["key"]: x for x in r["by_staff"]}
    assert by_staff["S002"]["bad"] == 2 and by_staff["S002"]["reasons"] == {"wait": 1, "slow": 1, "attitude": 1}
    assert by_staff["S001"]["top"] in ("服务态度差", "未选择原因")
    week = next(w for w in r["weeks"] if w["week"] == "2026-11-23")
    assert week["bad"] == 4 and week["reasons"]["attitude"] == 2
    assert sum(w["bad"] for w in r["weeks"]) == 4
    charts = sup_service.causes_charts(r)
    assert charts["reasons"].startswith("<svg") and "服务态度差" in charts["trend"]


def test_the_monthly_efficiency_return(month):
    svc, _, _ = month
    r = sup_service.efficiency_report(svc, "2026-11")
    assert r["workload_source"] == "办结号票"
    windows = {w["key"]: w for w in r["windows"]}
    w1 = windows["1"]
    assert (w1["workload"], w1["tickets"], w1["ratings"], w1["bad"], w1["valid_bad"]) == (3, 3, 3, 2, 1)
    assert w1["satisfaction"] == pytest.approx(1 / 3) and w1["rectify_rate"] == 1.0 and w1["reply_rate"] == 1.0
    assert w1["wait_mean"] == pytest.approx(3) and w1["wait_p90"] == 5  # waits 1, 3, 5 minutes
    assert r["departments"][0]["name"] == "县行政审批局" and r["departments"][0]["workload"] == 6
    assert r["total"]["overtime_rate"] == 0.0 and r["total"]["wait_p90"] == 6


def test_the_efficiency_return_is_a_pure_function_of_rows():
    tickets = [{"window_id": "1", "department": "A", "wait_s": 60 * w, "served": True} for w in (1, 2, 90)]
    cases = [{"window_id": "1", "department": "A", "valid": True, "rectified": False, "named": True, "replied": True}]
    r = efficiency.efficiency_return(tickets, [{"window_id": "1", "department": "A"}], [], cases, 3600, {"1": "一号"})
    row = r["windows"][0]
    assert (row["workload"], row["tickets"], row["rectify_rate"], row["reply_rate"]) == (1, 3, 0.0, 1.0)
    assert row["overtime_rate"] == pytest.approx(1 / 3) and row["name"] == "一号" and r["workload_source"] == "办件"


def test_assessment_scores_with_evidence_and_notes(month):
    svc, _, ids = month
    r = sup_service.assessment_report(svc, "2026-11")
    s1 = next(s for s in r["staff"] if s["staff_id"] == "S001")
    keys = {e["key"]: e for e in s1["evidence"]}
    assert keys["ratings:2"]["points"] == 0.1  # T5 满意
    assert keys[f"case:{ids['C1']}"]["points"] == -2 and f"case:{ids['C3']}" not in keys  # invalid: no deduction
    assert keys[f"complaint:{ids['K1']}"]["points"] == -3  # S001 was signed in at window 1 when K1 came
    assert "workload" not in keys  # 3 served, under 50
    assert s1["score"] == round(max(0, 100 + sum(e["points"] for e in s1["evidence"])), 2)
    s2 = next(s for s in r["staff"] if s["staff_id"] == "S002")
    keys2 = {e["key"] for e in s2["evidence"]}
    assert {f"case:{ids['C2']}", f"overdue:{ids['C2']}", f"overdue:{ids['C4']}", f"complaint:{ids['K2']}"} <= keys2
    absent = next(s for s in r["staff"] if s["staff_id"] == "S003")
    assert any(e["rule"] == "absent_session" for e in absent["evidence"]) and absent["grade"] == assessment.grade(
        absent["score"], assessment.AssessmentRules())


def test_assessment_rules_are_pure():
    rules = assessment.AssessmentRules()
    items = assessment.evidence("S1", [{"level": 1, "id": "a"}] * 3, [], [], None, 120, rules)
    assert [(i["key"], i["points"]) for i in items] == [("ratings:1", 0.6), ("workload", 2)]
    out = assessment.score(items, [{"points": -5, "note": "x", "voids": "workload"}], rules)
    assert out["score"] == 95.6 and out["grade"] == "优秀" and out["evidence"][1]["voided"]
    assert assessment.score([], [{"points": -45, "note": "y", "voids": None}], rules)["grade"] == "不称职"
    assert assessment.score([], [{"points": 80, "note": "z", "voids": None}], rules)["score"] == 150  # the ceiling
    periods = {"1": [("S1", "2026-11-23T08:30:00", "2026-11-23T12:00:00"), ("S2", "2026-11-23T14:00:00", None)]}
    found = assessment.attribute_complaints([{"id": "K", "window_id": "1", "registered_at": "2026-11-23T15:00:00"}],
                                            periods)
    assert list(found) == ["S2"]


# ------------------------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def client(month):
    svc, _, _ = month
    app = create_app(svc, [ratings_f, supervision_f])
    with TestClient(app) as c:
        token = c.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw-1"}).json()["token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_reports_over_http_with_charts_and_files(client):
    r = client.get("/api/supervision/rectification?period=month&date=2026-11-05&by=window")
    assert r.status_code == 200 and r.json()["chart"].startswith("<svg")
    assert client.get("/api/supervision/rectification?by=nobody").status_code == 422
    assert client.get("/api/supervision/causes?period=month&date=2026-11-05").json()["charts"]["trend"].startswith("<svg")
    body = client.get("/api/supervision/rectification.csv?period=month&date=2026-11-05").content
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1][:5] == ["分组", "差评数", "有效差评", "已整改", "整改率"] and rows[-1][0] == "合计"
    wb = load_workbook(io.BytesIO(client.get("/api/supervision/efficiency.xlsx?month=2026-11").content))
    assert wb.sheetnames == ["按单位", "按窗口"]
    assert [c.value for c in wb["按窗口"][2]][:4] == ["序号", "单位/窗口", "办件量", "取号量"]
    wb = load_workbook(io.BytesIO(client.get("/api/supervision/causes.xlsx?period=month&date=2026-11-05").content))
    assert wb.sheetnames == ["差评原因", "按事项", "按窗口", "按人员", "按周趋势"]
    wb = load_workbook(io.BytesIO(client.get("/api/supervision/assessment.xlsx?month=2026-11").content))
    assert wb.sheetnames == ["考核汇总", "考核依据"]
    exported = [e["data"]["report"] for e in client.app.state.service.ledger.events_since(0, 100_000)
                if e["type"] == "report.exported"]
    assert {"rectification", "efficiency", "causes", "assessment"} <= set(exported)
    assert TestClient(client.app).get("/api/supervision/assessment").status_code == 401


def test_managers_annotate_the_assessment(client, month):
    _, _, ids = month
    before = next(s for s in client.get("/api/supervision/assessment?month=2026-11").json()["staff"]
                  if s["staff_id"] == "S001")
    r = client.post("/api/supervision/assessment/notes", json={
        "month": "2026-11", "staff_id": "S001", "points": 0, "note": "投诉经查不属实", "voids": f"complaint:{ids['K1']}"})
    assert r.status_code == 200, r.text
    r = client.post("/api/supervision/assessment/notes", json={
        "month": "2026-11", "staff_id": "S001", "points": 10, "note": "群众赠送锦旗"})
    after = next(s for s in client.get("/api/supervision/assessment?month=2026-11").json()["staff"]
                 if s["staff_id"] == "S001")
    assert after["raw"] == pytest.approx(before["raw"] + 3 + 10) and len(after["notes"]) == 2
    bad = client.post("/api/supervision/assessment/notes", json={"month": "2026-11", "staff_id": "S001", "points": 1,
                                                                "note": "x", "voids": "nothing"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_note"
    assert client.post("/api/supervision/assessment/notes", json={"month": "2026-11", "staff_id": "S001",
                                                                 "points": 99, "note": "x"}).status_code == 422
    assert client.post("/api/supervision/assessment/notes", json={"month": "2026-11", "staff_id": "nobody",
                                                                 "points": 1, "note": "x"}).status_code == 404


def test_supervision_page_is_served(client):
    r = client.get("/manage/supervision")
    assert r.status_code == 200 and "督查考核" in r.text


def test_board_figures_month_to_date(month):
    svc, _, _ = month
    b = sup_service.board(svc)
    assert b["from"] == "2026-12-01" and b["cases"] == 0  # a new month
