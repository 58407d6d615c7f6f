"""`GET /api/staffing`: staffing advice for the manager board (manager sign-in required; read-only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from hall_controller.core.service import HallService
from hall_controller.features.rota import service as rota
from hall_controller.features.staffing import service as staffing
from hall_controller.http.auth import require_manager

router = APIRouter(prefix="/api")


@router.get("/staffing")
async def get_staffing(request: Request, manager_id: Annotated[str, Depends(require_manager)]) -> dict[str, Any]:
    service: HallService = request.app.state.service
    now = service.clock.now()
    rostered = away = None
    if rota.has_tables(service):  # who is rostered today, leave taken off
        rostered = rota.rostered_on(service, now.date())
        away = sorted({sid for sid, _ in rota.leave_on(service, now.date(), now.date() + timedelta(days=1))})
    with service.lock:
        return staffing.advise(service.config, service.hall, now, rostered, away or ())


def install(app: FastAPI) -> None:
    app.include_router(router)
