"""The region's pages, in Chinese, server-rendered from the read models (no network assets): the live
region board, a hall, the reports across halls (hall → window → staff), 差评 and complaint supervision, and
the monthly 效能 return with its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

import hall_controller.http
from hall_controller.core.errors import HallError
from hall_controller.features.ratings.complaint_rules import CHANNELS as COMPLAINT_CHANNELS
from hall_controller.features.supervision.efficiency import COLUMNS as EFFICIENCY_COLUMNS
from region import rules
from region.store import Store

HERE = Path(__file__).resolve().parent
COMMON_STATIC = Path(hall_controller.http.__file__).resolve().parent / "static"  # the hall pages' stylesheet
templates = Jinja2Templates(directory=HERE / "templates")

WINDOW_STATES = {"open": "空闲", "serving": "办理中", "paused": "暂停服务", "closed": "关闭", "signed_out": "未签到"}
# (key, 中文, kind): the hall's own return's columns first, under its names, then the region's.
RETURN_COLUMNS = (
    ("month", "月份", "text"), ("hall_id", "大厅编号", "text"), ("hall_name", "大厅", "text"),
    *((key, name, kind) for key, name, kind in EFFICIENCY_COLUMNS if key not in ("no", "name")),
    ("working_days", "办件天数", "int"), ("served", "办结量", "int"), ("no_show", "过号", "int"),
    ("cancelled", "取消", "int"), *((f"outcome_{code}", name, "int") for code, name in rules.OUTCOMES.items()),
    ("wait_max", "最长等候(分)", "minutes"), ("service_mean", "平均办理(分)", "minutes"), ("score", "满意度", "number"),
    ("cases_opened", "差评整改立案", "int"), ("cases_closed", "整改办结", "int"), ("cases_late", "整改超期", "int"),
    ("complaints", "投诉", "int"), ("complaints_answered", "投诉已答复", "int"), ("complaints_on_time", "按期答复", "int"),
)


def _fmt_minutes(seconds: float | None) -> str:
    return f"{seconds / 60:.0f} 分钟" if seconds else "—"


def _fmt_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _fmt_time(value: Any) -> str:
    return value.strftime("%m-%d %H:%M") if isinstance(value, datetime) else "—"


templates.env.filters.update(minutes=_fmt_minutes, rate=_fmt_rate, when=_fmt_time)
templates.env.globals.update(CHANNELS=COMPLAINT_CHANNELS, WINDOW_STATES=WINDOW_STATES)


def install(app: FastAPI) -> None:
    store: Store = app.state.store
    app.mount("/static/region", StaticFiles(directory=HERE / "static"), name="region-static")
    app.mount("/static/common", StaticFiles(directory=COMMON_STATIC), name="common-static")

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"now": app.state.now(), **context})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def board(request: Request) -> HTMLResponse:
        halls = store.overview(app.state.now())
        return page(request, "board.html", halls=halls, totals=_totals(halls))

    @app.get("/halls/{hall_id}", response_class=HTMLResponse, include_in_schema=False)
    def hall(request: Request, hall_id: str) -> HTMLResponse:
        found = store.hall(hall_id, app.state.now())
        if found is None:
            raise HallError("not_found", f"没有编号为 {hall_id} 的大厅。", 404)
        return page(request, "hall.html", hall=found)

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports(request: Request, start: date | None = None, end: date | None = None, hall_id: str | None = None,
                window_id: str | None = None) -> HTMLResponse:
        d_from, d_to = rules.period(start, end, app.state.now().date())
        hall_id = hall_id or None
        window_id = window_id if hall_id and window_id else None
        rows = store.report(d_from, d_to + timedelta(days=1), hall_id, window_id)
        names = {h["hall_id"]: h["name"] for h in store.records("SELECT hall_id, name FROM halls")}
        level = "staff" if window_id else "window" if hall_id else "hall"
        return page(request, "reports.html", rows=rows, start=d_from, end=d_to, hall_id=hall_id,
                    hall_name=names.get(hall_id or ""), window_id=window_id, level=level)

    @app.get("/supervision", response_class=HTMLResponse, include_in_schema=False)
    def supervision(request: Request, hall_id: str | None = None, overdue: bool = False) -> HTMLResponse:
        found = store.supervision(app.state.now(), hall_id or None, overdue)
        halls = store.records("SELECT hall_id, name FROM halls ORDER BY hall_id")
        return page(request, "supervision.html", halls=halls, hall_id=hall_id, overdue=overdue, **found)

    @app.get("/returns", response_class=HTMLResponse, include_in_schema=False)
    def returns(request: Request, month: str | None = None) -> HTMLResponse:
        month = month or f"{app.state.now():%Y-%m}"
        rows = _return(store, month, app.state.now())
        return page(request, "returns.html", month=month, rows=rows, columns=RETURN_COLUMNS)

    @app.get("/returns/{month}.csv", include_in_schema=False)
    def returns_csv(month: str) -> Response:
        rows = _return(store, month, app.state.now())
        out = io.StringIO()
        out.write("\ufeff")  # Excel opens UTF-8 Chinese headers only with a BOM
        w = csv.writer(out)
        w.writerow([label for _, label, _ in RETURN_COLUMNS])
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k, _, _ in RETURN_COLUMNS])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="region-return-{month}.csv"'})


def _return(store: Store, month: str, now: datetime) -> list[dict[str, Any]]:
    try:
        return store.monthly_return(month, now)
    except ValueError:
        raise HallError("invalid_month", f"月份格式应为 YYYY-MM：{month}", 422) from None


def _totals(halls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"halls": len(halls), **{k: sum(h[k] for h in halls) for k in (
        "issued_today", "served_today", "waiting", "windows_open")},
        "alerts": sum(1 for h in halls if h["alerts"])}
