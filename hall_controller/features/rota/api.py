"""排班 and 请销假 over HTTP: the week's rota, who is rostered today, leave requests and their approval, B岗 usage;
and the feature's wiring (the sign-in check, the page)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.rota import pages, rules
from hall_controller.features.rota import service as rota
from hall_controller.http.auth import bearer, require_manager, service_of

router = APIRouter(prefix="/api")
Manager = Annotated[str, Depends(require_manager)]
Short = Annotated[str, Field(max_length=64)]
DateText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
MonthText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(Strict):
    day: DateText
    staff_id: Short
    window_id: Short
    shift: Literal["full", "am", "pm"] = "full"
    lunch_duty: bool = False


class WeekRequest(Strict):
    entries: Annotated[list[Entry], Field(max_length=2000)]
    note: Annotated[str, Field(max_length=500)] = ""


class LeaveRequest(Strict):
    staff_id: Short | None = None  # a manager names the person; staff ask for themselves
    type: Short
    start: DateText
    end: DateText
    half: Literal["", "am", "pm"] = ""
    reason: Annotated[str, Field(max_length=500)]


class LeaveDecision(Strict):
    approve: bool
    note: Annotated[str, Field(max_length=500)] = ""


class LeaveReturn(Strict):
    returned_on: DateText | None = None


def _date(text: str | None, service: HallService) -> date:
    if not text:
        return service.clock.now().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HallError("invalid_date", f"日期无效：{text}", 422) from None


def _staff_or_manager(request: Request, authorization: str | None) -> tuple[str, str | None]:
    """(by, staff id) for a signed-in staff member's token, (manager id, None) for a manager's."""
    service = service_of(request)
    token = bearer(authorization)
    s = service.ledger.session(token) if token else None
    if s is not None and s["kind"] == "staff":
        staff_id = service.authorise_any_staff(token)
        return staff_id, staff_id
    return require_manager(request, authorization), None


@router.get("/rota")
async def get_week(request: Request, _: Manager, week: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
                   ) -> dict[str, Any]:
    """The week containing `week` (default: this week)."""
    service = service_of(request)
    return rota.week_view(service, rules.week_of(_date(week, service)))


@router.put("/rota/weeks/{week}")
async def put_week(request: Request, week: str, body: WeekRequest, by: Manager) -> dict[str, Any]:
    service = service_of(request)
    monday = _date(week, service)
    return await service.call(rota.publish, service, monday, [e.model_dump() for e in body.entries], body.note, by)


@router.get("/rota/today")
async def get_today(request: Request, _: Manager, day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
                    ) -> dict[str, Any]:
    """Who is rostered on a day (default today), and who is on leave."""
    service = service_of(request)
    d = _date(day, service)
    away = rota.leave_on(service, d, d + timedelta(days=1))
    return {"day": d.isoformat(), "duties": [duty.view() for duty in rota.rostered_on(service, d).values()],
            "leave": [{"staff_id": sid, "type_name": lv["type_name"], "half": lv.get("half") or ""}
                      for (sid, _), lv in away.items()]}


@router.get("/rota/standin")
async def get_standin(request: Request, _: Manager) -> dict[str, Any]:
    service = service_of(request)
    return {"staff": rota.standin_usage(service, service.clock.now().date())}


@router.get("/leaves")
async def get_leaves(request: Request, _: Manager, month: MonthText = None,
                     state: Annotated[str | None, Query(max_length=20)] = None,
                     staff_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    service = service_of(request)
    start = end = None
    if month:
        start = date.fromisoformat(f"{month}-01")
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    rows = rota.leaves(service, start, end, staff_id=staff_id, state=state)
    return {"leaves": rota.leave_list(service, rows),
            "types": dict(rota.settings_of(service.config).leave_types), "states": rules.LEAVE_STATES}


@router.post("/leaves")
async def post_leave(request: Request, body: LeaveRequest, authorization: Annotated[str | None, Header()] = None
                     ) -> dict[str, Any]:
    """请假: staff for themselves with their window sign-in token (事前), or a manager for anyone (补登记 too)."""
    service = service_of(request)
    by, own = _staff_or_manager(request, authorization)
    if own is not None and body.staff_id not in (None, own):
        raise HallError("forbidden", "工作人员只能为本人请假。", 403)
    staff_id = own or body.staff_id
    if not staff_id:
        raise HallError("invalid_leave", "请选择请假人员。", 422)
    return await service.call(rota.request_leave, service, staff_id, body.type, body.start, body.end, body.half,
                              body.reason, by, own is None)


@router.post("/leaves/{leave_id}/decision")
async def post_decision(request: Request, leave_id: Short, body: LeaveDecision, by: Manager) -> dict[str, Any]:
    service = service_of(request)
    return await service.call(rota.decide_leave, service, leave_id, body.approve, body.note, by)


@router.post("/leaves/{leave_id}/cancel")
async def post_cancel(request: Request, leave_id: Short, authorization: Annotated[str | None, Header()] = None
                      ) -> dict[str, Any]:
    service = service_of(request)
    by, own = _staff_or_manager(request, authorization)
    return await service.call(rota.cancel_leave, service, leave_id, by, own)


@router.post("/leaves/{leave_id}/return")
async def post_return(request: Request, leave_id: Short, body: LeaveReturn, by: Manager) -> dict[str, Any]:
    """销假, recorded by a manager (at the hall office, as the seeds' 请销假 rules have it)."""
    service = service_of(request)
    return await service.call(rota.return_from_leave, service, leave_id, body.returned_on, by)


def install(app: FastAPI) -> None:
    service: HallService = app.state.service
    service.extensions.setdefault("sign-in", []).append(rota.standin_check(service))
    app.include_router(router)
    pages.install(app)
