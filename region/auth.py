"""Sign-in for the region's users: the pages and the read API show supervision data across halls, so every
path but the sign-in, the halls' ingest (a key per hall) and the static assets needs a signed-in user.

A page asks for a sign-in with a redirect to the Chinese sign-in page; the API answers 401
`{"error", "message"}`. A browser holds the sign-in in an HttpOnly, SameSite=Strict cookie; a program sends
`Authorization: Bearer <token>` from `POST /api/region/sign-in`. Wrong passwords follow the hall's rules
(hall_controller/core/lockout.py, through Store.sign_in).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from hall_controller.core.errors import HallError
from hall_controller.http import errors
from region.store import SESSION_HOURS, Store

COOKIE = "region_session"
# Open to anyone: the sign-in itself, the halls' ingest (each post carries its hall's key), health and assets.
OPEN_PATHS = frozenset({"/sign-in", "/api/region/sign-in", "/api/region/ingest", "/healthz"})
OPEN_PREFIXES = ("/static/",)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


class SignInGuard:
    """Lets a request through only with a live sign-in (its user in `request.state.user`)."""

    def __init__(self, app: ASGIApp, store: Store, now: Callable[[], datetime]):
        self.app, self.store, self.now = app, store, now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        request = Request(scope)
        token = bearer(request.headers.get("authorization")) or request.cookies.get(COOKIE)
        try:
            found = await run_in_threadpool(self.store.session, token) if token else None
        except (psycopg.OperationalError, PoolTimeout):
            return await errors.error_response(503, "storage_unavailable", "区域数据库暂不可用，请稍后再试。")(
                scope, receive, send)
        expired = found is not None and not self.now() < found["expires_at"]
        if found is None or expired:
            if path.startswith("/api/") or path.endswith(".json"):  # a program's request (or the API schema)
                response: Response = errors.error_response(
                    401, *(("session_expired", "登录已过期，请重新登录。") if expired else
                           ("unauthorised", "请先登录区域政务服务监管平台。")))
            else:
                target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
                response = RedirectResponse("/sign-in?next=" + quote(target, safe=""), status_code=303)
            return await response(scope, receive, send)
        scope.setdefault("state", {})["user"] = {"id": found["id"], "name": found["name"]}
        await self.app(scope, receive, send)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//elsewhere` or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def install(app: FastAPI, store: Store, templates: Jinja2Templates) -> None:
    router = APIRouter()

    def source(request: Request) -> str:
        return request.client.host if request.client else "?"

    @router.post("/api/region/sign-in")
    async def api_sign_in(request: Request, body: SignIn) -> dict[str, Any]:
        """A token for `Authorization: Bearer`, valid for a working day (SESSION_HOURS) or until signed out."""
        token, user = await run_in_threadpool(store.sign_in, body.user_id, body.password, source(request),
                                              app.state.now())
        return {"token": token, "user": user, "hours": SESSION_HOURS}

    @router.post("/api/region/sign-out")
    async def api_sign_out(request: Request) -> dict[str, str]:
        await _end(request)
        return {"signed_out": request.state.user["id"]}

    @router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002 - the query's name
        return templates.TemplateResponse(request, "sign_in.html", {"next": _next(next), "error": None,
                                                                    "user_id": ""})

    @router.post("/sign-in", include_in_schema=False)
    async def sign_in_form(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        user_id, password, target = form.get("user_id", "").strip(), form.get("password", ""), _next(form.get("next"))
        try:
            if not 1 <= len(user_id) <= 64 or not 1 <= len(password) <= 128:
                raise HallError("invalid_request", "请输入账号和密码。", 422)
            token, _ = await run_in_threadpool(store.sign_in, user_id, password, source(request), app.state.now())
        except HallError as exc:
            return templates.TemplateResponse(request, "sign_in.html", {
                "next": target, "error": exc.message, "user_id": user_id[:64]}, status_code=exc.status)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict", path="/")
        return response

    @router.post("/sign-out", include_in_schema=False)
    async def sign_out_form(request: Request) -> Response:
        await _end(request)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def _end(request: Request) -> None:
        token = bearer(request.headers.get("authorization")) or request.cookies.get(COOKIE)
        await run_in_threadpool(store.sign_out, token, app.state.now())

    app.include_router(router)
    app.add_middleware(SignInGuard, store=store, now=lambda: app.state.now())
