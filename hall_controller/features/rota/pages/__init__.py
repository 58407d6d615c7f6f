"""The rota page (/manage/rota): 排班 by week, 请销假 and B岗 usage; a shell whose script signs in and calls the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from hall_controller.core.service import HallService
from hall_controller.features.rota import rules
from hall_controller.features.rota.settings import settings_of
from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")


async def rota_page(request: Request) -> HTMLResponse:
    service: HallService = request.app.state.service
    now = service.clock.now()
    return templates.TemplateResponse(request, "rota.html", {
        "hall": service.config.name, "names": pages.names(service.config), "week": rules.week_of(now.date()).isoformat(),
        "today": now.date().isoformat(), "leave_types": dict(settings_of(service.config).leave_types),
        "shifts": rules.SHIFTS,
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/manage/rota", rota_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
