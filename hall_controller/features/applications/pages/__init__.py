"""办件管理 (`/manage/applications`): every 办件 with filters (status, matter, period, 超期), its history, and the
month's counts by outcome and 一件事; a shell whose script signs in and calls the applications API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from hall_controller.core.model import OUTCOMES
from hall_controller.core.service import HallService
from hall_controller.features.applications.rules import STATUSES
from hall_controller.http import pages

templates = pages.templates(Path(__file__).resolve().parent / "templates")


async def applications_page(request: Request) -> HTMLResponse:
    service: HallService = request.app.state.service
    return templates.TemplateResponse(request, "applications.html", {
        "hall": service.config.name, "today": service.clock.now().date().isoformat(),
        "statuses": STATUSES, "outcomes": OUTCOMES, "names": pages.names(service.config),
        "services": [{"id": s.id, "name": s.name} for s in service.config.services],
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/manage/applications", applications_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
