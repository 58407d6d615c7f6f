"""The appointments' HTTP API (`/api/appointments`): slots, book, list, check in, import, cancel."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.errors import HallError
from hall_controller.features.appointments import pages, rules
from hall_controller.features.appointments.rules import (
    BookingRequest,
)
from hall_controller.features.appointments.service import Appointments
from hall_controller.http.auth import bearer, require_manager, service_of
from hall_controller.http.issuing import devices_of

log = logging.getLogger(__name__)


PLATFORM = "platform"  # `booked_by` of bookings the platform submits with its API key


router = APIRouter(prefix="/api/appointments")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BookBody(Strict):
    service_id: Annotated[str, Field(min_length=1, max_length=64)]
    date: Annotated[str, Field(min_length=10, max_length=10)]
    slot: Annotated[str, Field(min_length=4, max_length=5)]
    # lengths only bound the body: rules.py says what is wrong with a name or phone, in Chinese, per field
    name: Annotated[str, Field(max_length=30)]
    phone: Annotated[str, Field(max_length=20)]
    id_number: Annotated[str, Field(max_length=20)] | None = None
    channel: Annotated[str, Field(max_length=16)] = "online"


class CancelBody(Strict):
    phone: Annotated[str, Field(max_length=20)] | None = None


class CheckInBody(Strict):
    code: Annotated[str, Field(min_length=1, max_length=16)]  # the appointment code: a phone number is not enough


def book_of(request: Request) -> Appointments:
    return request.app.state.appointments


def caller(request: Request, authorization: str | None, platform: bool = False) -> str | None:
    """The staff or manager id behind an optional bearer token (None without one), or `PLATFORM` for the
    platform's API key where `platform` allows it; 401 for anything else."""
    if not authorization:
        return None
    service = service_of(request)
    token = bearer(authorization)
    s = service.ledger.session(token) if token else None
    if s is None:
        if platform and token and book_of(request).is_platform_key(token):
            return PLATFORM
        raise HallError("unauthorised", "登录凭证无效，请重新登录。", 401)
    if s["kind"] == "staff":
        return service.authorise_any_staff(token)
    return require_manager(request, authorization)


@router.get("/slots")
async def get_slots(request: Request, service_id: Annotated[str, Query(max_length=64)],
                    date_: Annotated[str, Query(alias="date", max_length=10)]) -> dict[str, Any]:
    return {"service_id": service_id, "date": date_, "slots": book_of(request).slots(service_id, date_)}


@router.post("", status_code=201)
async def post_appointment(request: Request, body: BookBody,
                           authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    by = caller(request, authorization, platform=True)
    channel = rules.parse_channel(body.channel)
    # 网上预约 comes only from the platform (its API key); 电话 / 当面 are taken by signed-in staff.
    if channel == "online" and by != PLATFORM:
        raise HallError("unauthorised" if by is None else "forbidden",
                        "网上预约须由政务服务平台凭平台密钥提交；工作人员请选择电话或当面预约。", 401 if by is None else 403)
    if channel in ("phone", "in_person") and by in (None, PLATFORM):
        raise HallError("unauthorised" if by is None else "forbidden",
                        "电话预约和当面预约须由工作人员登录后登记。", 401 if by is None else 403)
    a = await service_of(request).call(book_of(request).book, BookingRequest(
        body.service_id, body.date, body.slot, body.name, body.phone, body.channel, by or PLATFORM, body.id_number))
    return {"code": a.code, "appointment": a.view()}


@router.get("")
async def list_appointments(request: Request, date_: Annotated[str, Query(alias="date", max_length=10)],
                            service_id: Annotated[str | None, Query(max_length=64)] = None,
                            authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    if caller(request, authorization) is None:
        raise HallError("unauthorised", "请工作人员或管理人员登录后查看。", 401)
    return {"date": date_, "appointments": [a.view() for a in book_of(request).of_day(date_, service_id)]}


@router.post("/check-in")
async def post_check_in(request: Request, body: CheckInBody) -> dict[str, Any]:
    # A check-in issues a ticket: only a kiosk (its key), or anyone could try codes until one checks in.
    device = devices_of(request).require(request)
    book = book_of(request)
    return await service_of(request).call(book.check_in, book.find_for_check_in(code=body.code), source=device.id)


@router.post("/import")
async def post_import(request: Request, by: Annotated[str, Depends(require_manager)]) -> dict[str, Any]:
    return await service_of(request).call(book_of(request).import_csv, await request.body(), by)


@router.post("/{code}/cancel")
async def post_cancel(request: Request, code: Annotated[str, Path(max_length=16)],
                      body: CancelBody | None = None,
                      authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    by = caller(request, authorization)
    a = await service_of(request).call(book_of(request).cancel, code, by or "citizen", staff=by is not None,
                                       phone=body.phone if body else None)
    return {"appointment": a.view()}


@router.post("/id/{appointment_id}/cancel")
async def post_cancel_by_id(request: Request, appointment_id: Annotated[str, Path(max_length=32)],
                            authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    by = caller(request, authorization)
    if by is None:
        raise HallError("unauthorised", "请工作人员或管理人员登录后操作。", 401)
    a = await service_of(request).call(book_of(request).cancel, None, by, staff=True, appointment_id=appointment_id)
    return {"appointment": a.view()}


def install(app: FastAPI) -> None:
    app.state.appointments = Appointments(app.state.service)
    app.state.service.expected.append(app.state.appointments.expected)
    app.include_router(router)
    pages.install(app)
