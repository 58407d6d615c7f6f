"""HTTP of the kiosk (`/kiosk/{kiosk_id}`) and of the citizen's mobile ticket page (`/t/{token}`)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from drivers.id_reader import IdCard
from hall_controller.core.errors import HallError
from hall_controller.features.appointments.rules import Late
from hall_controller.features.appointments.settings import (
    settings_of as appointment_settings,
)
from hall_controller.http.auth import bearer
from hall_controller.http.links import public_base, status_url
from kiosk_ui import search
from kiosk_ui.desk import KioskDesk
from kiosk_ui.settings import Kiosk

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

router = APIRouter()
sim_router = APIRouter(prefix="/api/sim")

KioskId = Annotated[str, PathParam(min_length=1, max_length=40)]
Token = Annotated[str, PathParam(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IssueBody(Strict):
    service_id: Annotated[str, Field(min_length=1, max_length=64)]
    request_id: Annotated[str, Field(min_length=8, max_length=64)]
    swipe_id: Annotated[str, Field(max_length=32)] | None = None


class CheckInBody(Strict):
    code: Annotated[str, Field(min_length=1, max_length=16)] | None = None  # or the ID card: never a phone number
    swipe_id: Annotated[str, Field(max_length=32)] | None = None


class ClearBody(Strict):
    swipe_id: Annotated[str, Field(max_length=32)] | None = None


class SwipeBody(Strict):
    name: Annotated[str, Field(min_length=1, max_length=15)]
    sex: Literal["男", "女"] = "男"
    birth: date
    id_number: Annotated[str, Field(min_length=18, max_length=18)]
    address: Annotated[str, Field(max_length=35)] = ""


class PaperBody(Strict):
    paper: Literal["ok", "near_end", "out"]


class MobileIssueBody(Strict):
    service_id: Annotated[str, Field(min_length=1, max_length=64)]
    id_number: Annotated[str, Field(min_length=15, max_length=18)]  # as the platform verified it (实名)
    request_id: Annotated[str, Field(min_length=8, max_length=64)] | None = None


def desk_of(request: Request) -> KioskDesk:
    return request.app.state.kiosk


def this_kiosk(request: Request, kiosk_id: str) -> Kiosk:
    return desk_of(request).authorised(request, kiosk_id)


# ---------------------------------------------------------------- pages


@router.get("/kiosk", include_in_schema=False)
async def kiosk_default(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/kiosk/{desk_of(request).settings.kiosks[0].id}")


@router.get("/kiosk/{kiosk_id}", include_in_schema=False, response_class=HTMLResponse)
async def kiosk_page(request: Request, kiosk_id: KioskId) -> Response:
    desk = desk_of(request)
    kiosk = desk.settings.kiosk(kiosk_id)
    if kiosk is None:
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><h1>未找到取号机 {kiosk_id}</h1>", status_code=404)
    return TEMPLATES.TemplateResponse(request, "kiosk.html", {
        "hall": desk.service.config.name, "kiosk": kiosk, "settings": desk.settings,
        "timezone": desk.service.config.timezone, "check_in_rule": check_in_rule(desk)})


def check_in_rule(desk: KioskDesk) -> str:
    """The check-in window of the hall's [appointments] settings, in the citizen's words."""
    a = appointment_settings(desk.service.config)
    late = "超过后按普通号排队。" if a.late == Late.ORDINARY else "超过后预约失效，请现场取号。"
    return (f"请在预约时段开始前 {a.check_in_before_minutes} 分钟内至开始后 {a.grace_minutes} 分钟内签到，"
            f"签到后优先叫号；{late}")


@router.get("/t/{token}", include_in_schema=False, response_class=HTMLResponse)
async def ticket_page(request: Request, token: Token) -> Response:
    desk = desk_of(request)
    return TEMPLATES.TemplateResponse(request, "ticket.html", {"hall": desk.service.config.name, "token": token})


@router.get("/kiosk/qr/{token}.svg", include_in_schema=False)
async def ticket_qr(request: Request, token: Token) -> Response:
    """The QR code of the ticket's status page, drawn here: the kiosk has no internet for a QR service."""
    service = desk_of(request).service
    service.ticket_by_token(token)  # 404 for an unknown token
    img = qrcode.make(status_url(request, token), image_factory=qrcode.image.svg.SvgPathImage, box_size=20,
                      border=2)
    buf = io.BytesIO()
    img.save(buf)
    return Response(buf.getvalue(), media_type="image/svg+xml", headers={"cache-control": "private, max-age=86400"})


# ---------------------------------------------------------------- kiosk API


@router.get("/api/kiosk/{kiosk_id}/catalogue")
async def catalogue(request: Request, kiosk_id: KioskId) -> dict[str, Any]:
    desk = desk_of(request)
    kiosk = desk.kiosk(kiosk_id)
    return {"hall": desk.service.config.name, "kiosk": {"id": kiosk.id, "name": kiosk.name},
            "at": desk.service.clock.now().isoformat(), "seq": desk.service.ledger.last_seq,
            "categories": desk.catalogue()}


@router.get("/api/kiosk/{kiosk_id}/services/{service_id}")
async def service_detail(request: Request, kiosk_id: KioskId,
                         service_id: Annotated[str, PathParam(max_length=64)]) -> dict[str, Any]:
    desk = desk_of(request)
    desk.kiosk(kiosk_id)
    svc = desk.service.config.service(service_id)
    if svc is None:
        raise HallError("unknown_service", f"未找到事项：{service_id}", 404)
    return desk.service_view(svc)


@router.get("/api/kiosk/{kiosk_id}/search")
async def search_services(request: Request, kiosk_id: KioskId,
                          q: Annotated[str, Query(max_length=search.MAX_QUERY)] = "") -> dict[str, Any]:
    """Services matching a part of the name or pinyin initials from any word ("kstb" → 跨省通办事项受理)."""
    desk = desk_of(request)
    desk.kiosk(kiosk_id)
    return {"q": q, "service_ids": [s.id for s in search.search(q, desk.service.config.services)]}


@router.get("/api/kiosk/{kiosk_id}/status")
async def kiosk_status(request: Request, kiosk_id: KioskId) -> dict[str, Any]:
    desk = desk_of(request)
    kiosk = this_kiosk(request, kiosk_id)
    swipe = desk.readers.current(kiosk.id)
    appointment = None
    if swipe is not None:
        found = [a for a in desk.book.of_day(desk.service.clock.now().date().isoformat())
                 if a.id_hash == swipe.holder and a.status.value == "booked"]
        if found:
            svc = desk.service.config.service(found[0].service_id)
            appointment = {"service_name": svc.name if svc else found[0].service_id,
                           "slot": f"{found[0].slot_start}–{found[0].slot_end}"}
    return {"printer": desk.printer_status(kiosk), "reader": desk.readers.connected(kiosk.id),
            "swipe": swipe.view() if swipe else None, "appointment": appointment}


@router.post("/api/kiosk/{kiosk_id}/tickets", status_code=201)
async def kiosk_issue(request: Request, kiosk_id: KioskId, body: IssueBody) -> dict[str, Any]:
    desk = desk_of(request)
    return await desk.issue(this_kiosk(request, kiosk_id), body.service_id, body.request_id, body.swipe_id,
                            public_base(request))


@router.post("/api/kiosk/{kiosk_id}/check-in")
async def kiosk_check_in(request: Request, kiosk_id: KioskId, body: CheckInBody) -> dict[str, Any]:
    desk = desk_of(request)
    if not (body.code or body.swipe_id):
        raise HallError("invalid_request", "请输入预约码，或刷身份证。", 422)
    return await desk.check_in(this_kiosk(request, kiosk_id), body.code, body.swipe_id, public_base(request))


@router.post("/api/kiosk/{kiosk_id}/swipe/clear")
async def clear_swipe(request: Request, kiosk_id: KioskId, body: ClearBody | None = None) -> dict[str, Any]:
    desk = desk_of(request)
    desk.readers.clear(this_kiosk(request, kiosk_id).id, body.swipe_id if body else None)
    return {"ok": True}


@router.get("/api/kiosk/speech", response_class=Response, responses={200: {
    "description": "the text read aloud (WAV)", "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}})
async def speech(request: Request, text: Annotated[str, Query(min_length=1, max_length=300)]) -> Response:
    wav = await request.app.state.kiosk_speech.wav(text)
    return Response(wav, media_type="audio/wav", headers={"cache-control": "public, max-age=86400"})


@router.post("/api/mobile/tickets", status_code=201)
async def mobile_issue(request: Request, body: MobileIssueBody,
                       authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """手机取号 through the 政务服务平台: its API key, and the ID number of the person it verified."""
    desk = desk_of(request)
    token = bearer(authorization)
    if not (token and desk.book.is_platform_key(token)):
        raise HallError("unauthorised", "手机取号须由政务服务平台凭平台密钥提交。", 401)
    holder = desk.book.hash(body.id_number)  # the same keyed hash as a swiped card: one person, one count
    return await desk.issue_mobile(body.service_id, holder, body.request_id, public_base(request))


@router.get("/api/t/{token}")
async def public_ticket(request: Request, token: Token) -> dict[str, Any]:
    return desk_of(request).public_ticket(token, public_base(request))


# ---------------------------------------------------------------- simulated devices (demo and tests)


def _simulated(request: Request) -> KioskDesk:
    desk = desk_of(request)
    if desk.readers.mode != "simulated":
        raise HallError("not_simulated", "仅在模拟设备模式（--devices simulated）下可用。", 404)
    return desk


@sim_router.post("/id-readers/{kiosk_id}/swipe")
async def sim_swipe(request: Request, kiosk_id: KioskId, body: SwipeBody) -> dict[str, Any]:
    """Lays a card on the kiosk's simulated reader: it then travels the serial protocol like a real one."""
    desk = _simulated(request)
    sim = desk.readers.sims.get(desk.kiosk(kiosk_id).id)
    if sim is None:
        raise HallError("no_simulator", f"取号机 {kiosk_id} 没有身份证阅读器。", 404)
    sim.swipe(IdCard(body.name, body.sex, body.birth, body.id_number.upper(), body.address))
    return {"ok": True}


@sim_router.post("/kiosks/{kiosk_id}/printer-paper")
async def sim_paper(request: Request, kiosk_id: KioskId, body: PaperBody) -> dict[str, Any]:
    """Sets the paper of the kiosk's simulated printer (out of paper is a kiosk case to demonstrate)."""
    desk = _simulated(request)
    kiosk = desk.kiosk(kiosk_id)
    printer = desk.devices.printers.get(kiosk.printer) if desk.printing_available(kiosk) else None
    if printer is None or printer.sim is None:
        raise HallError("no_simulator", f"取号机 {kiosk_id} 没有模拟打印机。", 404)
    printer.sim.paper = body.paper
    return {"ok": True, "paper": body.paper}
