"""Manager live board `/manager`: the page shell and its assets; the manager feature serves the API it drives.

The page signs in with `POST /api/manager/sign-in` and renders `GET /api/manager/overview`; see
`hall_controller/features/manager/api.py` for the figures, alerts and actions.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from hall_controller.http import pages

HERE = Path(__file__).resolve().parent
templates = pages.templates(HERE / "templates")
router = APIRouter()


@router.get("/manager", response_class=HTMLResponse, include_in_schema=False)
async def manager_board(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "manager.html", {"hall": request.app.state.service.config.name})


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static/manager", StaticFiles(directory=HERE / "static"), name="manager-static")
