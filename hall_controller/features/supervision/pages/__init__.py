"""The 督查考核 page (/manage/supervision): 整改与回复, 差评原因, 效能月报, 考核; a shell whose script signs in and
calls the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from hall_controller.core.service import HallService
from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")


async def supervision_page(request: Request) -> HTMLResponse:
    service: HallService = request.app.state.service
    now = service.clock.now()
    return templates.TemplateResponse(request, "supervision.html", {
        "hall": service.config.name, "today": now.date().isoformat(), "month": now.strftime("%Y-%m"),
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/manage/supervision", supervision_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
