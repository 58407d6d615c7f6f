"""`GET /api/staffing`: staffing advice for the manager board (manager sign-in required; read-only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from hall_controller.core.service import HallService
from hall_controller.features.staffing import service as staffing
from hall_controller.http.auth import require_manager

router = APIRouter(prefix="/api")


@router.get("/staffing")
async def get_staffing(request: Request, manager_id: Annotated[str, Depends(require_manager)]) -> dict[str, Any]:
    service: HallService = request.app.state.service
    with service.lock:
        return staffing.advise(service.config, service.hall, service.clock.now())


def install(app: FastAPI) -> None:
    app.include_router(router)
