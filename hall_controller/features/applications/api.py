"""HTTP of the 办件: staff and managers (`/api/applications…`, a window's `/application`), the window business
systems' integration API (`/api/integration/…`, a key per system), the kiosk's 出件 ticket and the citizen's
ticket page. Documented in docs/applications.md."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.errors import HallError
from hall_controller.features.appointments.rules import identity_hash
from hall_controller.features.appointments.settings import settings_of as appointment_settings
from hall_controller.features.applications import pages
from hall_controller.features.applications.rules import (
    STATUSES,
    Mailing,
    System,
    merged_materials,
    public_view,
    report_period,
)
from hall_controller.features.applications.service import Applications
from hall_controller.features.applications.service import install as install_service
from hall_controller.features.applications.settings import key_digest
from hall_controller.http.auth import bearer, require_manager, service_of
from hall_controller.http.links import public_base

router = APIRouter(prefix="/api")

No = Annotated[str, PathParam(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]
WindowId = Annotated[str, PathParam(min_length=1, max_length=64)]
Auth = Annotated[str | None, Header()]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(pattern=r"^1\d{10}$")]
IdNumber = Annotated[str, Field(pattern=r"^\d{17}[\dXx]$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttachBody(Strict):
    application_no: Annotated[str, Field(min_length=4, max_length=40, pattern=r"^\s*[A-Za-z0-9-]+\s*$")]


class SystemAttachBody(AttachBody):
    citizen_name: Annotated[str, Field(max_length=30)] | None = None
    phone: Phone | None = None
    id_number: IdNumber | None = None


class StatusBody(Strict):
    status: Annotated[str, Field(max_length=20)] | None = None
    supplied: bool = False  # the 容缺 materials came in
    note: Annotated[str, Field(max_length=500)] | None = None
    phone: Phone | None = None
    citizen_name: Annotated[str, Field(max_length=30)] | None = None


class MailBody(Strict):
    # Bounded here, checked by rules.check_mailing: each problem comes back in Chinese with its `field`.
    recipient: Annotated[str, Field(max_length=100)]
    phone: Annotated[str, Field(max_length=40)]
    address: Annotated[str, Field(max_length=400)]
    waybill: Annotated[str, Field(max_length=60)]
    carrier: Annotated[str, Field(max_length=60)] = "中国邮政 EMS"

    def mailing(self) -> Mailing:
        return Mailing(self.recipient, self.phone, self.address, self.waybill, self.carrier)


class WindowMailBody(MailBody):
    application_no: Annotated[str, Field(max_length=60)] | None = None  # the ticket's 办件 when left out


class EvaluateBody(Strict):
    outcome: Annotated[str, Field(max_length=32)] | None = None
    missing_materials: Annotated[list[Text], Field(max_length=30)] = []
    reason: Annotated[str, Field(max_length=500)] | None = None
    commitment_due: Annotated[str, Field(max_length=10)] | None = None


class PrintBody(Strict):
    printer_id: Annotated[str, Field(min_length=1, max_length=40)] | None = None


class PickupBody(Strict):
    request_id: Annotated[str, Field(min_length=8, max_length=64)]
    application_no: Annotated[str, Field(min_length=4, max_length=40, pattern=r"^\s*[A-Za-z0-9-]+\s*$")] | None = None
    swipe_id: Annotated[str, Field(max_length=32)] | None = None


def apps_of(request: Request) -> Applications:
    return request.app.state.applications


def staff_or_manager(request: Request, authorization: str | None) -> str:
    """A signed-in staff member at any window, or a manager."""
    service = service_of(request)
    token = bearer(authorization)
    s = service.ledger.session(token) if token else None
    if s is not None and s["kind"] == "staff":
        return service.authorise_any_staff(token)
    return require_manager(request, authorization)


def system_of(request: Request, authorization: str | None) -> System:
    """The business system behind `Authorization: Bearer <its key>`."""
    token = bearer(authorization)
    if not token:
        raise HallError("unauthorised", "请提供业务系统接入密钥。", 401)
    digest = key_digest(token)
    for s in apps_of(request).settings.systems:
        if hmac.compare_digest(s.key_sha256, digest):
            return s
    raise HallError("unauthorised", "业务系统接入密钥无效。", 401)


# ---------------------------------------------------------------- staff and managers


@router.get("/applications")
async def list_applications(request: Request, authorization: Auth = None,
                            status: Annotated[str | None, Query(max_length=20)] = None,
                            service_id: Annotated[str | None, Query(max_length=64)] = None,
                            overdue: bool = False, day_from: Annotated[date | None, Query(alias="from")] = None,
                            day_to: Annotated[date | None, Query(alias="to")] = None) -> dict[str, Any]:
    require_manager(request, authorization)
    if status and status not in STATUSES:
        raise HallError("invalid_status", f"办件状态无效：{status}", 422)
    apps = apps_of(request).search(status, service_id, overdue, day_from.isoformat() if day_from else None,
                                   day_to.isoformat() if day_to else None)
    return {"applications": apps, "statuses": STATUSES}


@router.get("/applications/catalogue")
async def catalogue(request: Request) -> dict[str, Any]:
    """What the counter and kiosk need beyond the services: each 一件事 bundle's matters, the statuses."""
    service = service_of(request)
    cfg = service.config
    bundles = {b.service_id: {
        "id": b.id, "name": b.name,
        "matters": [{"id": m, "name": cfg.service(m).name} for m in b.matters],
        "materials": [{"name": x.name, "required": x.required, "note": x.note} for x in merged_materials(b, cfg)],
    } for b in apps_of(request).settings.bundles}
    s = apps_of(request).settings
    return {"bundles": bundles, "statuses": STATUSES, "pickup": bool(s.pickup_service),
            "handover_services": [x for x in (s.pickup_service, s.mailing_service) if x]}


@router.get("/applications/report")
async def report(request: Request, authorization: Auth = None,
                 day_from: Annotated[date | None, Query(alias="from")] = None,
                 day_to: Annotated[date | None, Query(alias="to")] = None) -> dict[str, Any]:
    require_manager(request, authorization)
    return apps_of(request).report(*report_period(day_from, day_to, service_of(request).clock.now().date()))


@router.get("/applications/{no}")
async def get_application(request: Request, no: No, authorization: Auth = None) -> dict[str, Any]:
    staff_or_manager(request, authorization)
    apps = apps_of(request)
    return apps.view(apps.get(no))


def window_staff(request: Request, window_id: str, authorization: str | None) -> tuple[str, str]:
    """(the staff id, the token) of the one signed in at this window; 404 for an unknown window."""
    service = service_of(request)
    service.hall.window_config(window_id)
    token = bearer(authorization)
    return service.authorise(token, window_id), token


@router.post("/windows/{window_id}/application")
async def attach(request: Request, window_id: WindowId, body: AttachBody, authorization: Auth = None
                 ) -> dict[str, Any]:
    """The counter attaches a 办件编号 (typed or scanned) to its current ticket."""
    staff_id, token = window_staff(request, window_id, authorization)
    return await service_of(request).call(apps_of(request).attach, window_id, body.application_no, staff_id,
                                          token=token)


@router.get("/windows/{window_id}/applications")
async def window_applications(request: Request, window_id: WindowId, authorization: Auth = None) -> dict[str, Any]:
    """The 办件 of the window's current ticket (at the 统一出件 window: what it hands over or mails)."""
    window_staff(request, window_id, authorization)
    return {"applications": apps_of(request).at_window(window_id)}


@router.post("/windows/{window_id}/mail")
async def window_mail(request: Request, window_id: WindowId, body: WindowMailBody, authorization: Auth = None
                      ) -> dict[str, Any]:
    """政务专递 at the 统一出件 window: a 可领取 办件 mailed instead of handed over, on the current ticket."""
    staff_id, token = window_staff(request, window_id, authorization)
    return await service_of(request).call(apps_of(request).mail_at_window, window_id, body.application_no,
                                          staff_id, body.mailing(), token=token)


@router.post("/applications/{no}/mail")
async def mail(request: Request, no: No, body: MailBody, authorization: Auth = None) -> dict[str, Any]:
    by = staff_or_manager(request, authorization)
    return await service_of(request).call(apps_of(request).mail, no, by, body.mailing())


@router.post("/applications/{no}/status")
async def staff_status(request: Request, no: No, body: StatusBody, authorization: Auth = None) -> dict[str, Any]:
    by = staff_or_manager(request, authorization)
    return await _change(request, no, body, by)


@router.post("/applications/{no}/notice/print")
async def print_notice(request: Request, no: No, body: PrintBody | None = None, authorization: Auth = None
                       ) -> dict[str, Any]:
    staff_or_manager(request, authorization)
    return await apps_of(request).print_notice(no, body.printer_id if body else None)


async def _change(request: Request, no: str, body: StatusBody, by: str) -> dict[str, Any]:
    if not body.status and not body.supplied and not body.phone:
        raise HallError("invalid_request", "请指定新的办件状态或补交材料。", 422)
    apps = apps_of(request)
    return await service_of(request).call(apps.change, no, by, status=body.status, note=body.note,
                                          supplied=body.supplied, phone=body.phone, citizen=body.citizen_name)


# ---------------------------------------------------------------- the window business systems


@router.post("/integration/windows/{window_id}/application")
async def system_attach(request: Request, window_id: WindowId, body: SystemAttachBody, authorization: Auth = None
                        ) -> dict[str, Any]:
    system = system_of(request, authorization)
    service = service_of(request)
    service.hall.window_config(window_id)
    id_hash = identity_hash(body.id_number.upper(), appointment_settings(service.config).identity_key) \
        if body.id_number else None
    apps = apps_of(request)
    return await service.call(apps.attach, window_id, body.application_no, f"system:{system.id}",
                              citizen=body.citizen_name, phone=body.phone, id_hash=id_hash, system=system.id)


@router.post("/integration/applications/{no}/evaluate")
async def system_evaluate(request: Request, no: No, body: EvaluateBody | None = None, authorization: Auth = None
                          ) -> dict[str, Any]:
    system = system_of(request, authorization)
    details = body.model_dump(exclude_defaults=True) if body else {}
    return await service_of(request).call(apps_of(request).evaluate, no, f"system:{system.id}", details)


@router.post("/integration/applications/{no}/status")
async def system_status(request: Request, no: No, body: StatusBody, authorization: Auth = None) -> dict[str, Any]:
    system = system_of(request, authorization)
    return await _change(request, no, body, f"system:{system.id}")


@router.post("/integration/applications/{no}/mail")
async def system_mail(request: Request, no: No, body: MailBody, authorization: Auth = None) -> dict[str, Any]:
    system = system_of(request, authorization)
    return await service_of(request).call(apps_of(request).mail, no, f"system:{system.id}", body.mailing())


# ---------------------------------------------------------------- the kiosk and the citizen


@router.post("/kiosk/{kiosk_id}/pickup", status_code=201)
async def kiosk_pickup(request: Request, kiosk_id: Annotated[str, PathParam(min_length=1, max_length=40)],
                       body: PickupBody) -> dict[str, Any]:
    """A 出件 ticket for a ready 办件, found by its 办件编号 or the citizen's ID card on the kiosk's reader."""
    desk = request.app.state.kiosk
    kiosk = desk.authorised(request, kiosk_id)  # the kiosk's key: issuing is the kiosk's own
    apps = apps_of(request)
    service = service_of(request)
    pickup = apps.settings.pickup_service
    if not pickup:
        raise HallError("no_pickup_service", "本大厅未开通自助出件取号，请到服务台咨询。", 404)
    if service.is_replay(body.request_id):
        return await desk.issue(kiosk, pickup, body.request_id, None, public_base(request))
    swipe = desk.readers.current(kiosk.id)
    holder = swipe.holder if swipe is not None and (body.swipe_id in (None, swipe.id)) else None
    if not body.application_no and holder is None:
        raise HallError("invalid_request", "请输入办件编号或刷身份证。", 422)
    ready = apps.ready_for(body.application_no, None if body.application_no else holder)
    with service.riding(apps.link_pickup(ready)):
        out = await desk.issue(kiosk, pickup, body.request_id, body.swipe_id, public_base(request))
    out["applications"] = [{"application_no": a["application_no"], "service_name": apps.view(a)["service_name"]}
                           for a in ready]
    return out


@router.get("/t/{token}/applications")
async def ticket_applications(request: Request,
                              token: Annotated[str, PathParam(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
                              ) -> dict[str, Any]:
    """The 办件 of the citizen's ticket, for their ticket page: status, deadline, what to bring, 可领取."""
    service = service_of(request)
    view = service.ticket_by_token(token)
    apps = apps_of(request)
    return {"applications": [public_view(a, service.config) for a in apps.of_ticket(view["id"])]}


def install(app: FastAPI) -> None:
    install_service(app)
    app.include_router(router)
    pages.install(app)
