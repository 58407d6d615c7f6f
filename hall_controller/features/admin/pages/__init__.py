"""The `/admin` pages (后台管理): a shell whose script signs in, reads the configuration and edits it through
`/api/admin/*`, each change shown as a diff before it is applied."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")


async def admin_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "admin.html", {"hall": request.app.state.service.config.name})


def install(app: FastAPI) -> None:
    app.add_api_route("/admin", admin_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.mount("/static/admin", StaticFiles(directory=HERE / "static"), name="admin-static")
