"""The manager's API: the live overview the board shows, and the actions a manager takes from it.

Every action goes through `HallService.execute` (off the event loop: `HallService.call`) and is recorded as
an event carrying `"by": manager_id`: `window.opened` / `window.closed` / `window.categories_changed`
(decided by the hall), `hall.notice` (a notice for the hall board; empty text withdraws it) and
`manager.alert_acknowledged`. What the board shows is `service.py`'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.manager.service import Feed, current_notice, overview
from hall_controller.http.auth import require_manager, service_of

router = APIRouter(prefix="/api/manager")
public = APIRouter(prefix="/api")

Id = Annotated[str, Field(min_length=1, max_length=64)]
ManagerId = Annotated[str, Depends(require_manager)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoriesRequest(Strict):
    # category id -> weight (0 < w ≤ 100); null restores the window's configured categories
    weights: dict[Id, Annotated[float, Field(strict=True, gt=0, le=100)]] | None


class NoticeRequest(Strict):
    text: Annotated[str, Field(min_length=1, max_length=200)]
    minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None  # shown until then; None = until replaced


class AcknowledgeRequest(Strict):
    alert_id: Annotated[str, Field(min_length=1, max_length=300)]


def feed_of(request: Request) -> Feed:
    return request.app.state.manager_feed


@router.get("/overview")
async def get_overview(request: Request, manager: ManagerId) -> dict[str, Any]:
    return overview(service_of(request), feed_of(request))


@router.post("/windows/{window_id}/open")
async def open_window(request: Request, window_id: Id, manager: ManagerId) -> dict[str, Any]:
    svc = service_of(request)
    await svc.call(svc.execute, lambda now: svc.hall.open_window(window_id, now, manager))
    return svc.window_view(window_id)


@router.post("/windows/{window_id}/close")
async def close_window(request: Request, window_id: Id, manager: ManagerId) -> dict[str, Any]:
    svc = service_of(request)
    await svc.call(svc.execute, lambda now: svc.hall.close_window(window_id, now, manager))
    return svc.window_view(window_id)


@router.post("/windows/{window_id}/categories")
async def set_categories(request: Request, window_id: Id, body: CategoriesRequest, manager: ManagerId) -> dict[str, Any]:
    svc = service_of(request)
    await svc.call(svc.execute, lambda now: svc.hall.set_weights(window_id, body.weights, now, manager))
    return svc.window_view(window_id)


@router.post("/notice")
async def post_notice(request: Request, body: NoticeRequest, manager: ManagerId) -> dict[str, Any]:
    text = body.text.strip()
    if not text:
        raise HallError("invalid_notice", "公告内容不能为空。", 422)
    return await _notice(service_of(request), text, body.minutes, manager)


@router.delete("/notice")
async def withdraw_notice(request: Request, manager: ManagerId) -> dict[str, Any]:
    return await _notice(service_of(request), "", None, manager)


async def _notice(svc: HallService, text: str, minutes: int | None, manager: str) -> dict[str, Any]:
    def decide(now: datetime) -> Decision:
        data: dict[str, Any] = {"text": text, "by": manager}
        if minutes is not None:
            data["until"] = (now + timedelta(minutes=minutes)).isoformat()
        return Decision(events=[("hall.notice", data)], result=data)

    return await svc.call(svc.execute, decide)


@router.post("/alerts/acknowledge")
async def acknowledge(request: Request, body: AcknowledgeRequest, manager: ManagerId) -> dict[str, Any]:
    svc, feed = service_of(request), feed_of(request)
    now = svc.clock.now()
    feed.refresh(svc, now)
    alert = next((a for a in feed.alerts(svc, now) if a.id == body.alert_id), None)
    if alert is None:
        raise HallError("unknown_alert", "该预警已解除或不存在。", 404)
    if alert.acknowledged_by is not None:
        return alert.to_dict(now)
    data = {"alert_id": alert.id, "kind": alert.kind, "title": alert.title, "detail": alert.detail, "by": manager}
    await svc.call(svc.execute, lambda now: Decision(events=[("manager.alert_acknowledged", data)]))
    return {**alert.to_dict(now), "acknowledged_by": manager}


@public.get("/notice")
async def get_notice(request: Request) -> dict[str, Any]:
    """The notice the hall board shows now (public: it is on the wall anyway)."""
    svc = service_of(request)
    return {"notice": current_notice(svc, svc.clock.now())}


def install(app: FastAPI) -> None:
    app.state.manager_feed = Feed()
    app.include_router(router)
    app.include_router(public)
