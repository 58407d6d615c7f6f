"""好差评 over HTTP: public rating and complaint filing, manager case work, results, and the feature's wiring."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.ratings import case_rules, complaint_rules, pages
from hall_controller.features.ratings import service as ratings
from hall_controller.features.ratings import settings as rating_settings
from hall_controller.http.auth import bearer, require_manager, service_of

router = APIRouter(prefix="/api")

Text = Annotated[str, Field(max_length=2000)]
Short = Annotated[str, Field(max_length=100)]
Manager = Annotated[str, Depends(require_manager)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RatingRequest(Strict):
    token: Annotated[str, Field(min_length=8, max_length=64)]  # the ticket's unguessable key, never its id
    level: Annotated[int, Field(ge=1, le=5)]
    channel: Literal["kiosk", "mobile"] = "mobile"
    reasons: Annotated[list[Short], Field(max_length=10)] = []
    rater: Annotated[str, Field(max_length=60)] | None = None  # 实名: name or phone, for 回访
    comment: Text | None = None


class VerifyRequest(Strict):
    valid: bool
    reason: Short | None = None
    note: Text = ""


class AppealRequest(Strict):
    reason: Text


class AppealDecision(Strict):
    upheld: bool
    note: Text = ""


class RectifyRequest(Strict):
    measures: Text


class ReplyRequest(Strict):
    method: Short
    content: Text
    satisfied: bool | None = None


class CloseRequest(Strict):
    summary: Text = ""


class ComplaintRequest(Strict):
    channel: Short = "mobile"
    content: Text
    name: Annotated[str, Field(max_length=60)] | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None
    service_id: Short | None = None
    window_id: Short | None = None
    complex: bool = False


class ClassifyRequest(Strict):
    complex: bool


class AnswerRequest(Strict):
    answer: Text


def _session(service: HallService, authorization: str | None) -> dict[str, Any] | None:
    token = bearer(authorization)
    return service.ledger.session(token) if token else None


# ---------------------------------------------------------------------- ratings


@router.post("/ratings")
async def rate(request: Request, body: RatingRequest, authorization: Annotated[str | None, Header()] = None) -> dict:
    service = service_of(request)
    # 一次一评 is the citizen's own: staff, managers and admins may invite a rating but never give one.
    if _session(service, authorization) is not None:
        raise HallError("staff_cannot_rate", "工作人员和管理人员可以邀请评价，但不能代为评价。", 403)
    ticket = service.ticket_by_token(body.token)
    return await service.call(ratings.record_rating, service, ticket["id"], body.level, body.channel, body.reasons,
                              rater=(body.rater or "").strip() or None, comment=(body.comment or "").strip() or None)


@router.get("/ratings/reasons")
async def reasons(request: Request) -> dict:
    r = rating_settings.rules(service_of(request).config)
    return {"levels": [{"level": k, "label": v} for k, v in ratings.LEVELS.items()],
            "reasons": [{"code": k, "label": v} for k, v in r.reasons.items()], "online_days": r.online_days,
            "comment_max": r.comment_max}


@router.get("/ratings/ticket/{token}")
async def rating_of_ticket(request: Request, token: Annotated[str, Field(min_length=8, max_length=64)]) -> dict:
    """Whether the ticket (named by its token) is rated already, and how: the phone page shows that on a
    reload instead of the form. Nothing else of the rating (no reasons, comment or rater)."""
    service = service_of(request)
    ticket = service.ticket_by_token(token)
    rows = service.ledger.query("SELECT label, at FROM ratings WHERE ticket_id = ? LIMIT 1", (ticket["id"],))
    return {"rated": bool(rows), "label": rows[0][0] if rows else None, "at": rows[0][1] if rows else None}


@router.get("/ratings/summary")
async def summary(request: Request, _: Manager, start: Annotated[str | None, Query(alias="from")] = None,
                  end: Annotated[str | None, Query(alias="to")] = None) -> dict:
    service = service_of(request)
    d_from, d_to = ratings.period(start, end, service.clock.now().date())
    return ratings.summary(service, d_from, d_to)


@router.get("/results")
async def results(request: Request, start: Annotated[str | None, Query(alias="from")] = None,
                  end: Annotated[str | None, Query(alias="to")] = None) -> dict:
    """好差评结果公开: per service and per window only, no personal data."""
    service = service_of(request)
    d_from, d_to = ratings.period(start, end, service.clock.now().date())
    return ratings.summary(service, d_from, d_to, scopes=("service", "window"))


# ---------------------------------------------------------------------- bad-review cases


@router.get("/cases")
async def list_cases(request: Request, _: Manager, state: str | None = None,
                     overdue: Annotated[int, Query(ge=0, le=1)] = 0) -> dict:
    service = service_of(request)
    found = ratings.list_cases(service, state or None, bool(overdue))
    return {"cases": found, "states": case_rules.STATES, "invalid_reasons": case_rules.INVALID_REASONS,
            "reply_methods": case_rules.REPLY_METHODS, "at": service.clock.now().isoformat()}


@router.get("/cases/{case_id}")
async def get_case(request: Request, case_id: Short, _: Manager) -> dict:
    return ratings.case_detail(service_of(request), case_id)


@router.post("/cases/{case_id}/verify")
async def verify(request: Request, case_id: Short, body: VerifyRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.act, service, case_id, case_rules.verify, valid=body.valid, reason=body.reason,
                              note=body.note, by=by)


@router.post("/cases/{case_id}/appeal")
async def appeal(request: Request, case_id: Short, body: AppealRequest,
                 authorization: Annotated[str | None, Header()] = None) -> dict:
    """申诉 by the rated staff member (their window sign-in token), or registered for them by a manager."""
    service = service_of(request)
    s = _session(service, authorization)
    if s is not None and s["kind"] == "staff":
        staff_id = service.authorise_any_staff(bearer(authorization))
        by = staff_id
    else:
        by = require_manager(request, authorization)
        staff_id = ratings.load_case(service, case_id)["staff_id"]
    return await service.call(ratings.act, service, case_id, case_rules.appeal, staff_id=staff_id, reason=body.reason,
                              by=by)


@router.post("/cases/{case_id}/appeal-decision")
async def decide_appeal(request: Request, case_id: Short, body: AppealDecision, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.act, service, case_id, case_rules.decide_appeal, upheld=body.upheld,
                              note=body.note, by=by)


@router.post("/cases/{case_id}/rectify")
async def rectify(request: Request, case_id: Short, body: RectifyRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.act, service, case_id, case_rules.rectify, measures=body.measures, by=by)


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, case_id: Short, body: ReplyRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.act, service, case_id, case_rules.reply, method=body.method,
                              content=body.content, satisfied=body.satisfied, by=by)


@router.post("/cases/{case_id}/close")
async def close(request: Request, case_id: Short, body: CloseRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.act, service, case_id, case_rules.close, summary=body.summary, by=by)


# ---------------------------------------------------------------------- complaints


@router.post("/complaints")
async def file_complaint(request: Request, body: ComplaintRequest,
                         authorization: Annotated[str | None, Header()] = None) -> dict:
    """Citizens file from the kiosk or phone; a manager registers any channel (phone calls, letters...)."""
    service = service_of(request)
    if authorization:
        by = require_manager(request, authorization)
    elif body.channel in complaint_rules.PUBLIC_CHANNELS:
        by = "public"
    else:
        raise HallError("unauthorised", "该渠道的投诉需由大厅管理人员登记。", 401)
    return await service.call(ratings.register_complaint, service, body.channel, body.content, by, name=body.name,
                              phone=body.phone, service_id=body.service_id, window_id=body.window_id,
                              complex_=body.complex)


@router.get("/complaints")
async def list_complaints(request: Request, _: Manager, state: str | None = None,
                          overdue: Annotated[int, Query(ge=0, le=1)] = 0) -> dict:
    return {"complaints": ratings.list_complaints(service_of(request), state or None, bool(overdue)),
            "states": complaint_rules.STATES, "channels": complaint_rules.CHANNELS}


@router.post("/complaints/{complaint_id}/classify")
async def classify(request: Request, complaint_id: Short, body: ClassifyRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.classify_complaint, service, complaint_id, body.complex, by)


@router.post("/complaints/{complaint_id}/answer")
async def answer(request: Request, complaint_id: Short, body: AnswerRequest, by: Manager) -> dict:
    service = service_of(request)
    return await service.call(ratings.answer_complaint, service, complaint_id, body.answer, by)


def install(app: FastAPI) -> None:
    app.include_router(router)
    pages.install(app)
