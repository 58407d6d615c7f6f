"""The stream's state for managers: `GET /api/region/stream`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from hall_controller.http.auth import require_manager

router = APIRouter(prefix="/api")


@router.get("/region/stream")
async def region_stream(request: Request, _: Annotated[str, Depends(require_manager)]) -> dict:
    return request.app.state.region.status()


def install(app: FastAPI) -> None:
    app.include_router(router)
