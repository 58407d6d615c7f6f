"""Manager and admin sign-in, and the dependency that guards their actions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.ledger import token_hash
from hall_controller.core.service import HallService, session_live

router = APIRouter(prefix="/api/manager")

MANAGER_SESSION_HOURS = 10


class ManagerSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manager_id: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


@router.post("/sign-in")
async def sign_in(request: Request, body: ManagerSignIn) -> dict:
    """Sign-ins and wrong passwords of real accounts are ledger events (`manager.signed_in`,
    `manager.sign_in_failed`); tries at ids no account has are not, or anyone could fill the ledger."""
    service = service_of(request)
    return await service.call(_sign_in, service, body, client_address(request))


def _sign_in(service: HallService, body: ManagerSignIn, source: str) -> dict:
    manager = next((m for m in service.config.managers if m.id == body.manager_id), None)
    key = f"manager:{body.manager_id}"
    clear = service.check_secret(key, source, body.password, manager.password_hash if manager else None,
                                 failed_event=("manager.sign_in_failed", {"manager_id": body.manager_id}))
    token = secrets.token_urlsafe(24)

    def decide(now: datetime) -> Decision:
        return Decision(rows=[*clear, ("sessions", {
            "token_hash": token_hash(token), "kind": manager.role, "subject": manager.id, "window_id": None,
            "signed_in_at": now.isoformat(), "expires_at": (now + timedelta(hours=MANAGER_SESSION_HOURS)).isoformat(),
        })], events=[("manager.signed_in", {"manager_id": manager.id, "role": manager.role})])

    service.execute(decide)
    service.cleared(key, source)
    return {"token": token, "manager": {"id": manager.id, "name": manager.name, "role": manager.role}}


@router.post("/sign-out")
async def sign_out(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict:
    """Ends the token now (a copied token must not outlive the sign-out), recorded as `manager.signed_out`."""
    service = service_of(request)
    manager_id = require_manager(request, authorization)
    token = bearer(authorization)

    def decide(now: datetime) -> Decision:
        s = service.ledger.session(token)
        return Decision(rows=[("sessions", {"token_hash": token_hash(token), **s, "expires_at": now.isoformat()})],
                        events=[("manager.signed_out", {"manager_id": manager_id})])

    await service.call(service.execute, decide)
    return {"signed_out": manager_id}


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    manager_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


@router.post("/lockouts/clear")
async def clear_lockout(request: Request, body: UnlockRequest,
                        authorization: Annotated[str | None, Header()] = None) -> dict:
    """解除: clears every wait on a staff member's or manager's wrong tries, recorded as `lockout.cleared` with
    `by` (the staff member is at a new PC, or it was an attack the board alerted on)."""
    by = require_manager(request, authorization)
    if (body.staff_id is None) == (body.manager_id is None):
        raise HallError("invalid_request", "请指定一个工号（staff_id）或管理账号（manager_id）。", 422)
    account = f"staff:{body.staff_id}" if body.staff_id is not None else f"manager:{body.manager_id}"
    service = service_of(request)
    cleared = await service.call(service.clear_lockout, account, by)
    return {"account": account, "cleared": cleared}


def client_address(connection: HTTPConnection) -> str:
    """Where a try came from, for the waits of wrong tries (core/lockout.py)."""
    return connection.client.host if connection.client else "?"


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def service_of(request: HTTPConnection) -> HallService:
    return request.app.state.service


def require_manager(request: HTTPConnection, authorization: Annotated[str | None, Header()] = None) -> str:
    """FastAPI dependency: the manager (or admin) id behind the bearer token; 401/403 otherwise."""
    service = service_of(request)
    token = bearer(authorization)
    s = service.ledger.session(token) if token else None
    if s is None:
        raise HallError("unauthorised", "请以管理人员身份登录。", 401)
    if s["kind"] not in ("manager", "admin"):
        raise HallError("forbidden", "仅大厅管理人员可执行此操作。", 403)
    if not session_live(s["expires_at"], service.clock.now()):
        raise HallError("session_expired", "登录已过期，请重新登录。", 401)
    return s["subject"]


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    subject = require_manager(request, authorization)
    s = service_of(request).ledger.session(bearer(authorization))
    if s["kind"] != "admin":
        raise HallError("forbidden", "仅系统管理员可执行此操作。", 403)
    return subject


def reads_private_events(connection: HTTPConnection, authorization: str | None) -> bool:
    """Whole events for a manager's or admin's bearer token, the public projection without any; a token that
    is not a valid manager's is refused (401/403) rather than quietly served less."""
    return authorization is not None and bool(require_manager(connection, authorization))
