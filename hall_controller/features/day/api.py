"""`GET /api/day`: the hall's day (open, lunch duty, closed) and today's steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from hall_controller.features.day.service import status

router = APIRouter(prefix="/api")


@router.get("/day")
async def get_day(request: Request) -> dict[str, Any]:
    return status(request.app.state.service)


def install(app: FastAPI) -> None:
    app.include_router(router)
