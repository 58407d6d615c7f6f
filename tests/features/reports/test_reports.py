"""Report figures against a hand-computed fixture day built through the real service, and the downloads."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.service import HallService
from hall_controller.features.day import rules
from hall_controller.features.day import service as day
from hall_controller.features.reports import service as reports_service
from hall_controller.features.reports.feature import feature as reports_f
from hall_controller.http.app import create_app
from tests.factory import MONDAY_10, small_hall

DAY = "2026-11-23"


def at(hh: int, mm: int):
    return MONDAY_10.replace(hour=hh, minute=mm)


def build_fixture_day(db_path) -> tuple[HallService, ManualClock, dict[str, str]]:
    """Twelve tickets with known times and outcomes, six ratings; closed out at 17:30 (close_out policy)."""
    cfg = small_hall()
    cfg.sections["day"] = rules.DaySettings(closing_policy="close_out")
    clock = ManualClock(at(8, 25))
    svc = HallService(cfg, open_ledger(db_path), clock)
    ids: dict[str, str] = {}

    def when(hh, mm):
        clock.set(at(hh, mm))

    def issue(name, service="S1"):
        ids[name] = svc.issue_ticket(service, "kiosk")["id"]

    def call(window, expect):
        assert svc.window_command(window, "call-next").id == ids[expect]

    svc.sign_in("1", "S001", "1234")
    when(8, 40); svc.sign_in("2", "S002", "1234")
    when(9, 0); issue("T1"); issue("T2")
    when(9, 2); call("1", "T1")
    when(9, 3); call("2", "T2")
    when(9, 5); issue("T3", "B1")
    when(9, 10); svc.window_command("1", "finish", outcome="immediate"); call("1", "T3")
    when(9, 15); svc.window_command("2", "finish", outcome="consult")
    when(9, 20); issue("T4")
    when(9, 21); call("2", "T4")
    when(9, 25); svc.window_command("1", "finish", outcome="promised")
    when(9, 30); issue("T5"); call("1", "T5")
    when(9, 33); svc.window_command("1", "skip")
    when(9, 35); svc.window_command("2", "transfer", category_id="business")
    when(9, 36); call("1", "T4")
    when(9, 46); svc.window_command("1", "finish", outcome="supplement")
    when(9, 50); issue("T6")
    when(10, 20); call("2", "T6")
    when(10, 26); svc.window_command("2", "finish", outcome="returned")
    when(10, 30); issue("T7")
    when(10, 31); issue("T8", "B1")
    when(10, 32); call("1", "T7")
    when(10, 33); call("2", "T8")
    when(10, 40); svc.window_command("1", "finish", outcome="immediate")
    when(10, 45); svc.window_command("2", "finish", outcome="immediate")
    when(11, 0); issue("T9")
    when(11, 10); call("1", "T9")
    when(11, 12); svc.window_command("2", "sign-out")
    when(11, 20); issue("T10")
    when(11, 21); issue("T11", "B1")
    when(11, 22); issue("T12", "S2")
    when(11, 23); svc.cancel(ids["T12"], by="S001")
    when(11, 25); svc.window_command("1", "finish", outcome="immediate"); svc.window_command("1", "pause")
    ratings = {"T1": (1, 0), "T2": (2, 0), "T3": (5, 1), "T4": (1, 0), "T6": (4, 1), "T7": (1, 0)}
    svc.write_rows([("ratings", {"id": f"R{n}", "ticket_id": ids[name], "day": DAY, "level": level, "bad": bad})
                    for n, (name, (level, bad)) in enumerate(ratings.items())])
    when(17, 30)
    day.tick(svc)
    return svc, clock, ids


@pytest.fixture
def fixture_day(tmp_path):
    svc, clock, ids = build_fixture_day(tmp_path / "hall.db")
    yield svc, ids
    svc.ledger.close()


def report(svc, by="all", period="day"):
    from datetime import date
    return reports_service.service_report(svc, period, date(2026, 11, 23), by)


def test_day_totals_match_the_hand_computation(fixture_day):
    svc, _ = fixture_day
    r = report(svc)["total"]
    assert (r["issued"], r["served"], r["no_show"], r["transfers"], r["cancelled"], r["closed_out"]) == (12, 8, 1, 1, 1, 2)
    assert (r["outcome_immediate"], r["outcome_consult"], r["outcome_promised"], r["outcome_supplement"],
            r["outcome_returned"]) == (4, 1, 1, 1, 1)
    # Waits to the first call, minutes: T1 2, T2 3, T3 5, T4 1, T5 0, T6 30, T7 2, T8 2, T9 10.
    assert r["wait_mean"] == pytest.approx(55 / 9)
    assert r["wait_median"] == 2 and r["wait_p90"] == 30  # sorted 0 1 2 2 2 3 5 10 30; rank ceil(8.1) = 9
    assert r["within_target"] == pytest.approx(8 / 9)
    # Service, minutes: 8 12 15 10 6 8 12 15 → sorted 6 8 8 10 12 12 15 15.
    assert r["service_mean"] == pytest.approx(86 / 8)
    assert r["service_median"] == 11 and r["service_p90"] == 15
    assert (r["ratings"], r["bad"]) == (6, 2) and r["satisfaction"] == pytest.approx(4 / 6)
    # Idle while someone they could serve waited: window 1: 2+1+30+2+10 = 45, window 2: 3+1+1+30+3+10 = 48.
    assert r["idle"] == pytest.approx(93)


def test_groups_by_window_staff_and_theme(fixture_day):
    svc, _ = fixture_day
    by_window = {row["key"]: row for row in report(svc, "window")["rows"]}
    assert (by_window["1"]["issued"], by_window["1"]["served"], by_window["1"]["no_show"]) == (6, 5, 1)
    assert by_window["1"]["idle"] == pytest.approx(45) and by_window["2"]["idle"] == pytest.approx(48)
    assert by_window[""]["name"] == "未叫号" and by_window[""]["issued"] == 3
    by_staff = {row["key"]: row for row in report(svc, "staff")["rows"]}
    assert by_staff["S002"]["served"] == 3 and by_staff["S002"]["idle"] == pytest.approx(48)
    by_theme = {row["key"]: row for row in report(svc, "category")["rows"]}
    assert by_theme["social"]["issued"] == 9 and by_theme["business"]["issued"] == 3
    assert by_theme["business"]["idle"] is None  # idle time belongs to windows and staff, not themes
    week = report(svc, "all", "week")
    assert week["start"] == "2026-11-23" and week["end"] == "2026-11-29" and week["total"]["issued"] == 12


def test_daily_summary_written_at_closing(fixture_day):
    svc, _ = fixture_day
    closed = [e for e in svc.ledger.events_since(0, 10_000) if e["type"] == "day.closed"]
    s = closed[0]["data"]["summary"]
    assert (s["issued"], s["served"], s["closed_out"], s["waiting"]) == (12, 8, 2, 0)
    assert s["wait_median"] == 2 and s["satisfaction"] == pytest.approx(0.67)


def test_without_ratings_table_satisfaction_is_a_dash(tmp_path):
    from hall_controller.features.reports.rules import figures

    f = figures([], {}, set(), None, 900, None)
    assert f["satisfaction"] is None and f["ratings"] is None
    assert reports_service._cell(f["satisfaction"], "share", for_csv=True) == "—"


def sign_in_manager(client) -> dict[str, str]:
    svc = client.app.state.service
    assert svc.config.managers  # the small hall has none: add one below
    r = client.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "boss-pass"})
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def api(tmp_path):
    from dataclasses import replace

    from hall_controller.core.passwords import hash_secret
    from hall_controller.core.settings import Manager

    svc, _, ids = build_fixture_day(tmp_path / "hall.db")
    svc.config = replace(svc.config, managers=(Manager("boss", "主任", "manager", hash_secret("boss-pass", iterations=1000)),),
                         sections=svc.config.sections)
    app = create_app(svc, [reports_f])
    with TestClient(app) as c:
        yield c, sign_in_manager(c)
    svc.ledger.close()


def test_reports_need_a_manager(api):
    c, _ = api
    assert c.get("/api/reports/service").status_code == 401
    assert c.get("/api/reports/service.csv").status_code == 401


def test_service_report_json_has_charts(api):
    c, auth = api
    body = c.get("/api/reports/service?period=day&date=2026-11-23&by=service", headers=auth).json()
    assert body["charts"]["volume"].startswith("<svg") and "取号" in body["charts"]["volume"]
    assert {row["key"] for row in body["rows"]} == {"S1", "S2", "B1"}
    assert c.get("/api/reports/service?date=2026-13-40", headers=auth).status_code == 422
    assert c.get("/api/reports/service?period=year", headers=auth).status_code == 422


def test_csv_download_has_bom_and_the_figures(api):
    c, auth = api
    r = c.get("/api/reports/service.csv?period=day&date=2026-11-23&by=window", headers=auth)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[1]
    total = dict(zip(header, rows[-1]))
    assert total["分组"] == "合计" and total["取号"] == "12" and total["等候P90(分)"] == "30.0"
    assert total["满意率"] == "66.7%" and total["有人等候时空闲(分)"] == "93.0"
    exported = [e for e in c.app.state.service.ledger.events_since(0, 10_000) if e["type"] == "report.exported"]
    assert exported[-1]["data"]["by"] == "boss" and exported[-1]["data"]["format"] == "csv"


def test_xlsx_download_opens_with_numbers(api, tmp_path):
    c, auth = api
    r = c.get("/api/reports/service.xlsx?period=day&date=2026-11-23", headers=auth)
    path = tmp_path / "r.xlsx"
    path.write_bytes(r.content)
    wb = load_workbook(path)
    ws = wb["服务报表"]
    header = [cell.value for cell in ws[2]]
    total = dict(zip(header, [cell.value for cell in ws[ws.max_row]]))
    assert total["分组"] == "合计" and total["取号"] == 12 and total["办结"] == 8
    assert total["平均等候(分)"] == pytest.approx(6.1) and total["满意率"] == pytest.approx(4 / 6)
    assert ws.cell(ws.max_row, header.index("满意率") + 1).number_format == "0.0%"
    assert "时段分布" in wb.sheetnames


def test_attendance_downloads(api, tmp_path):
    c, auth = api
    body = c.get("/api/reports/attendance?month=2026-11", headers=auth).json()
    s2 = next(s for s in body["staff"] if s["staff_id"] == "S002")
    assert s2["late"] == 1 and s2["late_minutes"] == 10 and s2["early"] == 1  # 08:40 in, 11:12 out
    # the ledger starts on the fixture day: the month's earlier working days are nobody's absence
    assert body["counted_from"] == DAY
    absent = {s["staff_id"]: s["absent_sessions"] for s in body["staff"]}
    assert absent == {"S001": 0, "S002": 1, "S003": 2, "S004": 2, "S009": 2}
    path = tmp_path / "a.xlsx"
    path.write_bytes(c.get("/api/reports/attendance.xlsx?month=2026-11", headers=auth).content)
    wb = load_workbook(path)
    assert wb.sheetnames == ["考勤汇总", "考勤明细"]
    rows = {row[0]: row for row in wb["考勤汇总"].iter_rows(min_row=3, values_only=True)}
    assert rows["S002"][4] == 1  # 迟到次数
    text = c.get("/api/reports/attendance.csv?month=2026-11", headers=auth).content.decode("utf-8-sig")
    assert "迟到次数" in text and "S002" in text
    days = c.get("/api/reports/days?month=2026-11", headers=auth).json()["days"]
    assert days[0]["day"] == DAY and days[0]["summary"]["issued"] == 12


def test_period_bounds():
    from datetime import date

    from hall_controller.features.reports.rules import period_bounds

    assert period_bounds("week", date(2026, 11, 26)) == (date(2026, 11, 23), date(2026, 11, 30))
    assert period_bounds("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert period_bounds("day", date(2026, 11, 26))[1] - period_bounds("day", date(2026, 11, 26))[0] == timedelta(days=1)


def test_reports_page_in_chromium(tmp_path):
    """The page signs in, renders the table and both chart images (the docs screenshot uses the same path)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "scripts" / "report_samples.py"
    spec = importlib.util.spec_from_file_location("report_samples", path)
    samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    out = tmp_path / "page.png"
    samples.screenshot(samples.fixture_app(tmp_path / "hall.db"), out)
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 20_000


def test_today_has_its_summary_so_far_before_closing(service, clock):
    """每日小结 is stored at closing; until then today's row carries the figures so far, marked as such."""
    day.tick(service)  # the day opens
    for _ in range(3):
        service.issue_ticket("S1", "kiosk")
    service.sign_in("1", "S001", "1234")
    service.window_command("1", "call-next")
    clock.advance(minutes=6)
    service.window_command("1", "finish")
    today = reports_service.daily_summaries(service, MONDAY_10.strftime("%Y-%m"))[-1]
    assert today["day"] == MONDAY_10.date().isoformat() and today["closed_at"] is None and today["so_far"]
    assert (today["summary"]["issued"], today["summary"]["served"]) == (3, 1)


def test_xlsx_columns_are_as_wide_as_their_longest_name(tmp_path):
    path = tmp_path / "w.xlsx"
    name = "社保参保登记（灵活就业人员）"
    path.write_bytes(reports_service.xlsx_bytes([("表", ["标题"], [["事项", "取号"], [name, 3]], ["text", "count"])]))
    ws = load_workbook(path)["表"]
    assert ws.column_dimensions["A"].width >= 2 * len(name) and ws.column_dimensions["B"].width == 8
