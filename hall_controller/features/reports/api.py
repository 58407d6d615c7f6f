"""Report pages and downloads for managers: service reports, attendance, daily summaries.

JSON for the page, CSV and XLSX for downloads (made in `service.py`). Every download is recorded as a
`report.exported` event with the manager's id: data leaving the hall is audited.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.reports.rules import BUNDLE_COLUMNS
from hall_controller.features.reports.service import (
    attendance_report,
    csv_bytes,
    daily_summaries,
    report_charts,
    service_report,
    table,
    xlsx_bytes,
)
from hall_controller.http import pages
from hall_controller.http.auth import require_manager, service_of

UI = Path(__file__).resolve().parent / "pages"
_templates = pages.templates(UI)

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
    ("absent_sessions", "缺勤(半天)", "int"), ("leave_sessions", "请假(半天)", "int"),
    ("forgotten_sign_outs", "未签离", "int"),
    ("standin_sign_ins", "替岗签到", "int"), ("worked_hours", "签到时长(小时)", "minutes"),
)
MARK_COLUMNS = (
    ("staff_id", "工号", "text"), ("name", "姓名", "text"), ("day", "日期", "text"), ("session", "时段", "text"),
    ("status_name", "状态", "text"), ("late_minutes", "迟到分钟", "minutes"), ("early_minutes", "早退分钟", "minutes"),
    ("windows", "窗口", "text"), ("standin_name", "替岗", "text"), ("leave", "假别", "text"),
)
STATUS_NAMES = {"on_time": "正常", "late": "迟到", "absent": "缺勤", "pending": "未到岗", "leave": "请假"}


def day_param(service: HallService, text: str | None) -> date:
    """A `date=YYYY-MM-DD` query parameter (the supervision reports read theirs the same way); default today."""
    if text is None:
        return service.clock.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HallError("invalid_date", f"日期无效：{text}", 422) from None


def month_param(service: HallService, text: str | None) -> str:
    if text is None:
        return service.clock.now().strftime("%Y-%m")
    try:
        date.fromisoformat(f"{text}-01")
    except ValueError:
        raise HallError("invalid_month", f"月份无效：{text}", 422) from None
    return text


# ----------------------------------------------------------------------------- downloads


def download(service: HallService, manager: str, kind: str, params: dict[str, Any], fmt: str, name: str,
             title: list[str], sheets: list[tuple[str, tuple | list, list[dict[str, Any]]]]) -> Response:
    """A report as a CSV (its first sheet) or XLSX file, its export recorded as a `report.exported` event (the
    supervision reports download through it too)."""
    if fmt == "csv":
        content = csv_bytes(title, table(sheets[0][1], sheets[0][2], for_csv=True))
        media = "text/csv; charset=utf-8"
    else:
        content = xlsx_bytes([(sheet, title, table(cols, rows, for_csv=False),
                               [c["kind"] if isinstance(c, dict) else c[2] for c in cols]) for sheet, cols, rows in sheets])
        media = XLSX
    filename = f"{name}.{fmt}"
    service.execute(lambda now: Decision(events=[("report.exported", {
        "report": kind, **params, "format": fmt, "file": filename, "by": manager})]))
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ----------------------------------------------------------------------------- routes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What a download answers, in the OpenAPI schema: the file, as CSV or XLSX (not the JSON FastAPI assumes).
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"description": "the report as a file (CSV: UTF-8 with BOM)", "content": {
    "text/csv": {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/api/reports/service")
async def get_service_report(request: Request, manager: Manager, period: Period = "day", date: DateText = None,
                             by: Group = "all") -> dict[str, Any]:
    svc = service_of(request)
    report = service_report(svc, period, day_param(svc, date), by)
    report["charts"] = report_charts(report)
    return report


@router.get("/api/reports/service.{fmt}", response_class=Response, responses=FILE_RESPONSES)
async def download_service_report(request: Request, manager: Manager, fmt: Format, period: Period = "day",
                                  date: DateText = None, by: Group = "all") -> Response:
    svc = service_of(request)
    day = day_param(svc, date)
    r = service_report(svc, period, day, by)
    title = [r["hall"], f"服务{r['period_name']}", f"{r['start']} 至 {r['end']}", f"按{r['group_name']}"]
    series_cols = (("label", "时段", "text"), ("issued", "取号", "int"), ("served", "办结", "int"),
                   ("wait_mean", "平均等候(分)", "minutes"))
    return await svc.call(download, svc, manager, "service", {"period": period, "date": day.isoformat(), "group": by},
                          fmt, f"service-{period}-{day.isoformat()}-{by}", title,
                          [("服务报表", r["columns"], [*r["rows"], r["total"]]), ("时段分布", series_cols, r["series"]),
                           *([("一件事", BUNDLE_COLUMNS, r["bundles"])] if r["bundles"] else [])])


@router.get("/api/reports/attendance")
async def get_attendance(request: Request, manager: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    return attendance_report(svc, month_param(svc, month))


@router.get("/api/reports/attendance.{fmt}", response_class=Response, responses=FILE_RESPONSES)
async def download_attendance(request: Request, manager: Manager, fmt: Format, month: MonthText = None) -> Response:
    svc = service_of(request)
    m = month_param(svc, month)
    r = attendance_report(svc, m)
    marks = [{**mark, "staff_id": s["staff_id"], "name": s["name"], "status_name": STATUS_NAMES[mark["status"]],
              "windows": "、".join(mark["windows"]), "standin_name": "是" if mark["standin"] else ""}
             for s in r["staff"] for mark in s["marks"]]
    return await svc.call(download, svc, manager, "attendance", {"month": m}, fmt, f"attendance-{m}",
                          [r["hall"], f"{m} 考勤月报"],
                          [("考勤汇总", ATTENDANCE_COLUMNS, r["staff"]), ("考勤明细", MARK_COLUMNS, marks)])


@router.get("/api/reports/days")
async def get_daily_summaries(request: Request, manager: Manager, month: MonthText = None) -> dict[str, Any]:
    svc = service_of(request)
    m = month_param(svc, month)
    return {"month": m, "days": daily_summaries(svc, m)}


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(request: Request) -> HTMLResponse:
    svc = service_of(request)
    now = svc.clock.now()
    return _templates.TemplateResponse(request, "reports.html", {"hall": svc.config.name, "today": now.date().isoformat(),
                                                                "month": now.strftime("%Y-%m")})


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static/reports", StaticFiles(directory=UI), name="reports-static")
