"""The HTTP contract kiosks, devices and integrators build on (documented in docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.calendar import (
    describe_periods,
    issuing_open,
    issuing_periods,
)
from hall_controller.core.errors import HallError
from hall_controller.core.events import public
from hall_controller.core.model import OUTCOMES
from hall_controller.http.auth import bearer, client_address, reads_private_events, service_of
from hall_controller.http.issuing import devices_of
from hall_controller.http.links import status_url

# Handlers are async: validation, sign-in checks and reads stay on the event loop with the WebSockets and the
# devices, and a command goes to the ledger's writer through `HallService.call`, so the loop serves on while the
# command's COMMIT waits for the disk.
router = APIRouter(prefix="/api")

Id = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IssueRequest(Strict):
    service_id: Id
    channel: Literal["kiosk", "appointment", "staff", "mobile"] = "kiosk"
    priority: Id | None = None
    request_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class SignInRequest(Strict):
    staff_id: Id
    pin: Annotated[str, Field(min_length=1, max_length=64)]


Text = Annotated[str, Field(min_length=1, max_length=200)]
ApplicationNo = Annotated[str, Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]


class MatterOutcome(Strict):
    """One matter of a 一件事 ticket, finished with its own outcome and 办件."""

    service_id: Id
    outcome: Annotated[str, Field(max_length=32)] | None = None
    application_no: ApplicationNo | None = None
    missing_materials: Annotated[list[Text], Field(max_length=30)] = []
    reason: Annotated[str, Field(max_length=500)] | None = None
    commitment_due: Annotated[str, Field(max_length=10)] | None = None  # YYYY-MM-DD: 容缺 materials promised by


class FinishRequest(Strict):
    outcome: Annotated[str, Field(max_length=32)] | None = None
    # The 办件 (features/applications): its number, the missing materials of a 补办件 or 容缺受理, the reason
    # of a 不予受理, the date 容缺 materials are promised by; or, for a 一件事 ticket, each matter's own.
    application_no: ApplicationNo | None = None
    missing_materials: Annotated[list[Text], Field(max_length=30)] = []
    reason: Annotated[str, Field(max_length=500)] | None = None
    commitment_due: Annotated[str, Field(max_length=10)] | None = None
    matters: Annotated[list[MatterOutcome], Field(max_length=12)] = []


class TransferRequest(Strict):
    category_id: Id | None = None
    window_id: Id | None = None


class PauseRequest(Strict):
    reason: Annotated[str, Field(max_length=100)] | None = None


@router.get("/services")
async def services(request: Request) -> dict[str, Any]:
    svc = service_of(request)
    cfg = svc.config
    now = svc.clock.now()
    return {
        "hall": cfg.name,
        "categories": [{"id": c.id, "name": c.name, "general": c.general} for c in cfg.categories],
        "services": [
            {
                "id": s.id, "name": s.name, "category_id": s.category_id, "prefix": s.prefix,
                "minutes": s.minutes, "time_limit": s.time_limit, "daily_cap": s.daily_cap,
                "description": s.description, "pinyin": s.pinyin, "code": s.code, "basis": s.basis,
                "conditions": s.conditions, "fee": s.fee, "phone": s.phone,
                "issuing_hours": describe_periods(issuing_periods(s, cfg.hours)),
                "issuing_open": issuing_open(s, cfg.hours, now),
                "materials": [{"name": m.name, "required": m.required, "note": m.note} for m in s.materials],
            }
            for s in cfg.services
        ],
        "priorities": [{"id": p.id, "name": p.name} for p in cfg.queue.priorities],
        "outcomes": OUTCOMES,
    }


@router.post("/tickets", status_code=201)
async def issue_ticket(request: Request, body: IssueRequest, authorization: Annotated[str | None, Header()] = None
                       ) -> dict[str, Any]:
    svc = service_of(request)
    # Nobody issues anonymously, or one address could empty a day's numbers: a signed-in staff member (who alone
    # grants a priority: the kiosk's age priority comes from its own ID reader, server-side), or a device with
    # its provisioned key. An appointment's ticket comes only with its check-in; the mobile channel only from
    # the platform, which verified the person (`POST /api/mobile/tickets`).
    if body.channel == "appointment":
        raise HallError("appointment_channel", "预约号票只能通过预约签到取得。", 403)
    if body.channel == "mobile":
        raise HallError("mobile_channel", "手机取号须经政务服务平台实名认证后提交。", 403)
    if body.priority is not None or body.channel == "staff":
        source = f"staff:{svc.authorise_any_staff(bearer(authorization))}"
    else:
        device = devices_of(request).require(request)
        if device.admit is not None:
            device.admit(body.service_id)
        source = device.id
    view = await svc.call(svc.issue_ticket, body.service_id, body.channel, priority=body.priority,
                          request_id=body.request_id, source=source)
    if "token" in view:
        view["status_url"] = status_url(request, view["token"])
    return view


@router.get("/tickets/{ticket_id}")
async def get_ticket(request: Request, ticket_id: Id) -> dict[str, Any]:
    return service_of(request).ticket(ticket_id)


@router.get("/tickets/{ticket_id}/history")
async def ticket_history(request: Request, ticket_id: Id) -> dict[str, Any]:
    svc = service_of(request)
    svc.ticket(ticket_id)  # 404 for an unknown ticket
    # Public by a guessable id: the ticket's rating, case and check-in events come in their public form.
    return {"ticket_id": ticket_id, "events": [public(e) for e in svc.ledger.ticket_history(ticket_id)]}


@router.post("/tickets/{ticket_id}/cancel")
async def cancel_ticket(request: Request, ticket_id: Id, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    svc = service_of(request)
    staff_id = svc.authorise_any_staff(bearer(authorization))
    return await svc.call(svc.cancel, ticket_id, by=staff_id)


@router.post("/tickets/{ticket_id}/rejoin")
async def rejoin_ticket(request: Request, ticket_id: Id, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    svc = service_of(request)
    staff_id = svc.authorise_any_staff(bearer(authorization))
    return await svc.call(svc.rejoin, ticket_id, by=staff_id)


@router.post("/windows/{window_id}/sign-in")
async def sign_in(request: Request, window_id: Id, body: SignInRequest) -> dict[str, Any]:
    svc = service_of(request)
    return await svc.call(svc.sign_in, window_id, body.staff_id, body.pin, client_address(request))


async def _window_action(request: Request, window_id: str, authorization: str | None, action: str,
                         **kwargs: Any) -> Any:
    svc = service_of(request)
    svc.hall.window_config(window_id)  # 404 before 401 for an unknown window
    token = bearer(authorization)
    svc.authorise(token, window_id)  # refused at once, without waiting for the writer
    return await svc.call(svc.window_command, window_id, action, token=token, **kwargs)


Auth = Annotated[str | None, Header()]


@router.post("/windows/{window_id}/sign-out")
async def sign_out(request: Request, window_id: Id, authorization: Auth = None) -> dict[str, Any]:
    await _window_action(request, window_id, authorization, "sign-out")
    return service_of(request).window_view(window_id)


@router.post("/windows/{window_id}/call-next", responses={204: {"description": "nothing waits for this window"}})
async def call_next(request: Request, window_id: Id, authorization: Auth = None) -> Any:
    t = await _window_action(request, window_id, authorization, "call-next")
    if t is None:
        return Response(status_code=204)
    return {"ticket": service_of(request).view(t)}


def _ticket_action(action: str):
    async def handler(request: Request, window_id: Id, authorization: Auth = None) -> dict[str, Any]:
        t = await _window_action(request, window_id, authorization, action)
        return {"ticket": service_of(request).view(t)}

    handler.__name__ = action.replace("-", "_")
    return handler


for _action in ("recall", "start", "skip"):
    router.post(f"/windows/{{window_id}}/{_action}")(_ticket_action(_action))


@router.post("/windows/{window_id}/finish")
async def finish(request: Request, window_id: Id, authorization: Auth = None,
           body: Annotated[FinishRequest | None, Body()] = None) -> dict[str, Any]:
    details = body.model_dump(exclude={"outcome"}, exclude_defaults=True) if body else {}
    t = await _window_action(request, window_id, authorization, "finish", outcome=body.outcome if body else None,
                             details=details)
    return {"ticket": service_of(request).view(t)}


@router.post("/windows/{window_id}/transfer")
async def transfer(request: Request, window_id: Id, body: TransferRequest, authorization: Auth = None) -> dict[str, Any]:
    t = await _window_action(request, window_id, authorization, "transfer", category_id=body.category_id,
                       target_window_id=body.window_id)
    return {"ticket": service_of(request).view(t)}


@router.post("/windows/{window_id}/pause")
async def pause(request: Request, window_id: Id, authorization: Auth = None,
          body: Annotated[PauseRequest | None, Body()] = None) -> dict[str, Any]:
    await _window_action(request, window_id, authorization, "pause", reason=body.reason if body else None)
    return service_of(request).window_view(window_id)


@router.post("/windows/{window_id}/resume")
async def resume(request: Request, window_id: Id, authorization: Auth = None) -> dict[str, Any]:
    await _window_action(request, window_id, authorization, "resume")
    return service_of(request).window_view(window_id)


@router.get("/windows/{window_id}")
async def get_window(request: Request, window_id: Id) -> dict[str, Any]:
    svc = service_of(request)
    svc.hall.window_config(window_id)
    view = svc.window_view(window_id)
    with svc.lock:
        waiting = sorted(svc.hall.eligible_waiting(window_id), key=lambda t: (t.queue_at, t.seq))[:50]
        view["waiting"] = [svc.hall.view(t, wait=False) for t in waiting]  # the counter needs no estimates
    return view


@router.get("/hall")
async def hall(request: Request) -> dict[str, Any]:
    return service_of(request).snapshot()


@router.get("/events")
async def events(request: Request, since: Annotated[int, Query(ge=0, le=2**62)] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 500,
                 authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Without a token, each event's public projection; a manager's or admin's token gets them whole."""
    svc = service_of(request)
    private = reads_private_events(request, authorization)
    last = svc.ledger.last_seq
    if since > last:
        raise HallError("since_ahead", f"since（{since}）超过台账最新事件序号（{last}），请重新读取 /api/hall 后从其 seq 继续。", 409)
    page = svc.ledger.events_since(since, limit)
    return {"events": page if private else [public(e) for e in page], "last_seq": last}
