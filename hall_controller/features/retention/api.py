"""`POST /api/retention/purge`: an administrator purges now what is past its period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from hall_controller.core.feature import PersonalData
from hall_controller.features.retention.service import purge
from hall_controller.http.auth import require_admin

router = APIRouter(prefix="/api/retention")


@router.post("/purge")
async def purge_now(request: Request, admin: Annotated[str, Depends(require_admin)]) -> dict[str, Any]:
    service = request.app.state.service
    return {"purged": await service.call(purge, service, request.app.state.personal_data, by=admin)}


def install(app: FastAPI, registry: Mapping[str, PersonalData]) -> None:
    app.state.personal_data = registry
    app.include_router(router)
