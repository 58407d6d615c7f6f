"""Routes of the 好差评 pages and of 预约管理; the manager pages are shells whose script signs in and calls the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import appointments, ratings
from ..domain import appointments as appointment_rules
from ..domain import cases as case_rules
from ..domain import complaints as complaint_rules
from ..domain.errors import HallError
from ..service import HallService

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def _names(service: HallService) -> dict[str, dict[str, str]]:
    cfg = service.config
    return {"service": {s.id: s.name for s in cfg.services}, "window": {w.id: w.name for w in cfg.windows},
            "staff": {s.id: s.name for s in cfg.staff}}


async def results_page(request: Request, start: Annotated[str | None, Query(alias="from")] = None,
                       end: Annotated[str | None, Query(alias="to")] = None) -> HTMLResponse:
    service: HallService = request.app.state.service
    try:
        d_from, d_to = ratings.period(start, end, service.clock.now().date())
        error = None
    except HallError as exc:
        d_from, d_to = ratings.period(None, None, service.clock.now().date())
        error = exc.message
    data = ratings.summary(service, d_from, d_to, scopes=("service", "window"))
    total, closed = service.ledger.query(
        "SELECT COUNT(*), COALESCE(SUM(state = 'closed'), 0) FROM cases WHERE substr(opened_at, 1, 10) BETWEEN ? AND ?",
        (d_from.isoformat(), d_to.isoformat()))[0]
    return templates.TemplateResponse(request, "results.html", {
        "hall": service.config.name, "data": data, "error": error, "levels": ratings.LEVELS,
        "cases": {"total": total, "closed": closed},
    })


async def cases_page(request: Request) -> HTMLResponse:
    service: HallService = request.app.state.service
    return templates.TemplateResponse(request, "cases.html", {
        "hall": service.config.name, "names": _names(service), "states": case_rules.STATES,
        "complaint_states": complaint_rules.STATES, "complaint_channels": complaint_rules.CHANNELS,
    })


async def case_page(request: Request, case_id: str) -> HTMLResponse:
    service: HallService = request.app.state.service
    return templates.TemplateResponse(request, "case.html", {
        "hall": service.config.name, "case_id": case_id, "names": _names(service),
        "invalid_reasons": case_rules.INVALID_REASONS, "reply_methods": case_rules.REPLY_METHODS,
        "reasons": dict(ratings.rules(service.config).reasons),
    })


async def appointments_page(request: Request) -> HTMLResponse:
    """预约管理: the day's slots, the bookings, booking for a citizen (当面 / 电话), cancelling, CSV import."""
    service: HallService = request.app.state.service
    settings = appointments.settings_of(service.config)
    return templates.TemplateResponse(request, "appointments.html", {
        "hall": service.config.name, "today": service.clock.now().date().isoformat(),
        "bookable": [{"id": s.id, "name": s.name} for s in service.config.services if settings.bookable(s.id)],
        "names": _names(service)["service"], "statuses": appointment_rules.STATUS_NAMES,
        "columns": ",".join(appointments.CSV_COLUMNS), "max_rows": appointments.IMPORT_MAX_ROWS,
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/results", results_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/manage/cases", cases_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/manage/appointments", appointments_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
    app.add_api_route("/manage/cases/{case_id}", case_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
    app.mount("/static/ratings", StaticFiles(directory=HERE / "static"), name="ratings-static")
