"""The tablet evaluation pad's page, `/pad/{window_id}`: a shell whose script follows the event stream and
rates through `POST /api/pad/{window_id}/rating`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from hall_controller.core.service import HallService
from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")


async def pad_page(request: Request, window_id: str) -> HTMLResponse:
    service: HallService = request.app.state.service
    w = service.hall.window_config(window_id)  # 404 unknown_window
    return templates.TemplateResponse(request, "pad.html", {
        "hall": service.config.name, "window_id": w.id, "window_number": w.number, "window_name": w.name})


def install(app: FastAPI) -> None:
    app.add_api_route("/pad/{window_id}", pad_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
    app.mount("/static/pad", StaticFiles(directory=HERE / "static"), name="pad-static")
