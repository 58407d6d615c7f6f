"""Routes of the 好差评 pages: 结果公开, and the 差评 cases and complaints; the manager pages are shells whose script signs in and calls the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.ratings import case_rules, complaint_rules
from hall_controller.features.ratings import service as ratings
from hall_controller.features.ratings import settings as rating_settings
from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")


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
        "hall": service.config.name, "names": pages.names(service.config), "states": case_rules.STATES,
        "complaint_states": complaint_rules.STATES, "complaint_channels": complaint_rules.CHANNELS,
    })


async def case_page(request: Request, case_id: str) -> HTMLResponse:
    service: HallService = request.app.state.service
    return templates.TemplateResponse(request, "case.html", {
        "hall": service.config.name, "case_id": case_id, "names": pages.names(service.config),
        "invalid_reasons": case_rules.INVALID_REASONS, "reply_methods": case_rules.REPLY_METHODS,
        "reasons": dict(rating_settings.rules(service.config).reasons),
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/results", results_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/manage/cases", cases_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/manage/cases/{case_id}", case_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
