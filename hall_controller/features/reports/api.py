"""Report pages and downloads for managers: service reports, attendance, daily summaries.

JSON for the page, CSV (UTF-8 with BOM, so Excel shows Chinese) and XLSX (openpyxl) for downloads. Every
download is recorded as a `report.exported` event with the manager's id: data leaving the hall is audited.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.model import Ticket
from hall_controller.core.service import HallService
from hall_controller.features.day.service import load_ratings
from hall_controller.features.day.settings import settings_of
from hall_controller.features.reports import attendance as att
from hall_controller.features.reports import charts
from hall_controller.features.reports import rules as reports
from hall_controller.http.auth import require_manager, service_of

UI = Path(__file__).resolve().parent / "pages"
_templates = Environment(loader=FileSystemLoader(UI), autoescape=select_autoescape())

router = APIRouter()
Manager = Annotated[str, Depends(require_manager)]
Period = Literal["day", "week", "month"]
Group = Literal["all", "service", "category", "window", "staff"]
DateText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]
MonthText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]
Format = Literal["csv", "xlsx"]

ATTENDANCE_COLUMNS = (
    ("staff_id", "工号", "text"), ("name", "姓名", "text"), ("unit", "单位", "text"),
    ("days_present", "出勤天数", "int"), ("late", "迟到次数", "int"), ("late_minutes", "迟到分钟", "minutes"),
    ("early", "早退次数", "int"), ("early_minutes", "早退分钟", "minutes"),
    ("absent_sessions", "缺勤(半天)", "int"), ("forgotten_sign_outs", "未签离", "int"),
    ("standin_sign_ins", "替岗签到", "int"), ("worked_hours", "签到时长(小时)", "minutes"),
)
MARK_COLUMNS = (
    ("staff_id", "工号", "text"), ("name", "姓名", "text"), ("day", "日期", "text"), ("session", "时段", "text"),
    ("status_name", "状态", "text"), ("late_minutes", "迟到分钟", "minutes"), ("early_minutes", "早退分钟", "minutes"),
    ("windows", "窗口", "text"), ("standin_name", "替岗", "text"),
)
STATUS_NAMES = {"on_time": "正常", "late": "迟到", "absent": "缺勤", "pending": "未到岗"}


def _day(service: HallService, text: str | None) -> date:
    if text is None:
        return service.clock.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HallError("invalid_date", f"日期无效：{text}", 422) from None


def _month(service: HallService, text: str | None) -> str:
    if text is None:
        return service.clock.now().strftime("%Y-%m")
    try:
        date.fromisoformat(f"{text}-01")
    except ValueError:
        raise HallError("invalid_month", f"月份无效：{text}", 422) from None
    return text


# ----------------------------------------------------------------------------- loading


def service_report(service: HallService, period: str, day: date, by: str) -> dict[str, Any]:
    start, end = reports.period_bounds(period, day)
    tickets = [Ticket.from_dict(json.loads(r[0])) for r in service.ledger.query(
        "SELECT data FROM tickets WHERE day >= ? AND day < ?", (start.isoformat(), end.isoformat()))]
    # One day before the period, so the window states and queue at its start are known for idle time.
    events = [{"type": t, "at": at, "data": json.loads(d)} for t, at, d in service.ledger.query(
        "SELECT type, at, data FROM events WHERE at >= ? AND at < ? ORDER BY seq",
        ((start - timedelta(days=1)).isoformat(), end.isoformat()))]
    ratings = load_ratings(service, "day >= ? AND day < ?", (start.isoformat(), end.isoformat()))
    report = reports.build(reports.Rows(tickets, events, ratings), service.config, period, day, by,
                           service.clock.now())
    report["hall"] = service.config.name
    return report


def attendance_report(service: HallService, month: str) -> dict[str, Any]:
    start, end = att.month_bounds(month)
    events = [{"type": t, "at": at, "data": json.loads(d)} for t, at, d in service.ledger.query(
        "SELECT type, at, data FROM events WHERE type IN ('staff.signed_in', 'staff.signed_out') "
        "AND at >= ? AND at < ? ORDER BY seq", ((start - timedelta(days=1)).isoformat(), (end + timedelta(days=1)).isoformat()))]
    first = service.ledger.query("SELECT at FROM events ORDER BY seq LIMIT 1")  # no absence before the system ran
    since = datetime.fromisoformat(first[0][0]).date() if first else service.clock.now().date()
    report = att.attendance(events, service.config, settings_of(service.config), start, end, service.clock.now(), since)
    report["month"], report["hall"] = month, service.config.name
    return report


def daily_summaries(service: HallService, month: str) -> list[dict[str, Any]]:
    rows = service.ledger.query(
        "SELECT day, opened_at, closed_at, policy, close_reason, summary FROM hall_days "
        "WHERE day LIKE ? ORDER BY day", (f"{month}-%",))
    return [{"day": d, "opened_at": o, "closed_at": c, "policy": p, "close_reason": r,
             "summary": json.loads(s) if s else None} for d, o, c, p, r, s in rows]


def report_charts(report: dict[str, Any]) -> dict[str, str]:
    s = report["series"]
    volume = charts.bars(f"{report['period_name']} 取号与办结（{report['start']} 至 {report['end']}）",
                         [r["label"] for r in s],
                         [("取号", [r["issued"] for r in s]), ("办结", [r["served"] for r in s])])
    groups = [(r["name"], r["wait_mean"]) for r in report["rows"] if r["wait_mean"] is not None]
    if report["by"] == "all":
        groups = [(r["label"], r["wait_mean"]) for r in s if r["wait_mean"] is not None]
    wait = charts.hbars(f"平均等候时间（按{report['group_name'] if report['by'] != 'all' else '时段'}，分钟）",
                        groups, "分", marker=report["target_wait_minutes"])
    return {"volume": volume, "wait": wait}


# ----------------------------------------------------------------------------- files


def _cell(value: Any, kind: str, for_csv: bool) -> Any:
    if value is None:
        return "—"
    if kind == "share":
        return f"{value * 100:.1f}%" if for_csv else value
    if kind == "minutes":
        return round(value, 1)
    return value


def table(columns: tuple[tuple[str, str, str], ...] | list[dict[str, str]], rows: list[dict[str, Any]],
          for_csv: bool) -> list[list[Any]]:
    cols = [(c["key"], c["name"], c["kind"]) if isinstance(c, dict) else c for c in columns]
    return [[name for _, name, _ in cols]] + [[_cell(r.get(k), kind, for_csv) for k, _, kind in cols] for r in rows]


def csv_bytes(title: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(title)
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: list[tuple[str, list[str], list[list[Any]], list[str]]]) -> bytes:
    """sheets: (name, title line, rows with a header first, column kinds)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, title, rows, kinds in sheets:
        ws = wb.create_sheet(name)
        ws.append([" ".join(title)])
        ws["A1"].font = Font(bold=True, size=13)
        for i, row in enumerate(rows):
            ws.append(row)
            if i == 0:
                for cell in ws[ws.max_row]:
                    cell.font = Font(bold=True)
            else:
                for cell, kind in zip(ws[ws.max_row], kinds):
                    if kind == "share" and isinstance(cell.value, float):
                        cell.number_format = "0.0%"
                    elif kind == "minutes" and isinstance(cell.value, float):
                        cell.number_format = "0.0"
        for col, header in zip(ws.iter_cols(min_row=2, max_row=2), rows[0] if rows else []):
            ws.column_dimensions[col[0].column_letter].width = max(8, min(28, 2 * len(str(header)) + 2))
        ws.freeze_panes = "B3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _download(service: HallService, manager: str, kind: str, params: dict[str, Any], fmt: str, name: str,
              title: list[str], sheets: list[tuple[str, tuple | list, list[dict[str, Any]]]]) -> Response:
    if fmt == "csv":
        content = csv_bytes(title, table(sheets[0][1], sheets[0][2], for_csv=True))
        media = "text/csv; charset=utf-8"
    else:
        content = xlsx_bytes([(sheet, title, table(cols, rows, for_csv=False),
                               [c["kind"] if isinstance(c, dict) else c[2] for c in cols]) for sheet, cols, rows in sheets])
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    filename = f"{name}.{fmt}"
    service.execute(lambda now: Decision(events=[("report.exported", {
        "report": kind, **params, "format": fmt, "file": filename, "by": manager})]))
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ----------------------------------------------------------------------------- routes


@router.get("/api/reports/service")
async def get_service_report(request: Request, manager: Manager, period: Period = "day", date: DateText = None,
                             by: Group = "all") -> dict[str, Any]:
    svc = service_of(request)
    report = service_report(svc, period, _day(svc, date), by)
    report["charts"] = report_charts(report)
    return report


@router.get("/api/reports/service.{fmt}")
async def download_service_report(request: Request, manager: Manager, fmt: Format, period: Period = "day",
                                  date: DateText = None, by: Group = "all") -> Response:
    svc = service_of(request)
    day = _day(svc, date)
    r = service_report(svc, period, day, by)
    title = [r["hall"], f"服务{r['period_name']}", f"{r['start']} 至 {r['end']}", f"按{r['group_name']}"]
    series_cols = (("label", "时段", "text"), ("issued", "取号", "int"), ("served", "办结", "int"),
                   ("wait_mean", "平均等候(分)", "minutes"))
    return await svc.call(_download, svc, manager, "service", {"period": period, "date": day.isoformat(), "group": by},
                          fmt, f"service-{period}-{day.isoformat()}-{by}", title,
                          [("服务报表", r["columns"], [*r["rows"], r["total"]]), ("时段分布", series_cols, r["series"])])


@router.get("/api/reports/attendance")
async def get_attendance(request: Request, manager: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    return attendance_report(svc, _month(svc, month))


@router.get("/api/reports/attendance.{fmt}")
async def download_attendance(request: Request, manager: Manager, fmt: Format, month: MonthText = None) -> Response:
    svc = service_of(request)
    m = _month(svc, month)
    r = attendance_report(svc, m)
    marks = [{**mark, "staff_id": s["staff_id"], "name": s["name"], "status_name": STATUS_NAMES[mark["status"]],
              "windows": "、".join(mark["windows"]), "standin_name": "是" if mark["standin"] else ""}
             for s in r["staff"] for mark in s["marks"]]
    return await svc.call(_download, svc, manager, "attendance", {"month": m}, fmt, f"attendance-{m}",
                          [r["hall"], f"{m} 考勤月报"],
                          [("考勤汇总", ATTENDANCE_COLUMNS, r["staff"]), ("考勤明细", MARK_COLUMNS, marks)])


@router.get("/api/reports/days")
async def get_daily_summaries(request: Request, manager: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    m = _month(svc, month)
    return {"month": m, "days": daily_summaries(svc, m)}


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(request: Request) -> HTMLResponse:
    svc = service_of(request)
    now = svc.clock.now()
    html = _templates.get_template("reports.html").render(hall=svc.config.name, today=now.date().isoformat(),
                                                          month=now.strftime("%Y-%m"))
    return HTMLResponse(html)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static/reports", StaticFiles(directory=UI), name="reports-static")
