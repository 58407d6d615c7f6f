"""The push's state for managers: `GET /api/platform/status`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from hall_controller.http.auth import require_manager

router = APIRouter(prefix="/api")


@router.get("/platform/status")
async def platform_status(request: Request, _: Annotated[str, Depends(require_manager)]) -> dict:
    return request.app.state.platform.status()


def install(app: FastAPI) -> None:
    app.include_router(router)
