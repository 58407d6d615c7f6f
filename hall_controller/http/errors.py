"""Every error leaves as JSON `{"error": code, "message": 中文说明}` — never an HTML page or a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from hall_controller.core.errors import HallError

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: ("bad_request", "请求格式有误。"),
    401: ("unauthorised", "请先登录。"),
    403: ("forbidden", "无权执行此操作。"),
    404: ("not_found", "请求的地址不存在。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    413: ("payload_too_large", "请求内容过大。"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。"),
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HallError)
    async def hall_error(_: Request, exc: HallError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.field is not None:
            response = JSONResponse({"error": exc.code, "message": exc.message, "field": exc.field},
                                    status_code=exc.status)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or '请求体'}：{_explain(err)}")
        return error_response(422, "invalid_request", "请求参数有误：" + "；".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = _HTTP_MESSAGES.get(exc.status_code, ("http_error", "请求无法处理。"))
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            code, message = exc.detail["error"], exc.detail.get("message", message)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["allow"] = _allowed_methods(app, request)
        return error_response(exc.status_code, code, message, headers or None)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "系统内部错误，请联系管理员。")


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string", "description": "machine code"},
                   "message": {"type": "string", "description": "中文说明"},
                   "field": {"type": "string", "description": "the input it is about, where one is (a config key)"}},
}


def document(app: FastAPI) -> None:
    """Declare the error body on every operation, replacing FastAPI's own 422 schema, which we never send."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = {"description": "请求被拒绝 (see docs/api.md)", **ref}
                responses["503"] = {"description": "存储不可用", **ref}
        schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method the API documents at this path (Starlette names only the first matching route's)."""
    if not hasattr(app.state, "allowed_methods"):
        app.state.allowed_methods = [
            (compile_path(path)[0], {m.upper() for m in operations})
            for path, operations in app.openapi().get("paths", {}).items()
        ]
    methods = set().union(*(m for regex, m in app.state.allowed_methods if regex.match(request.url.path)))
    return ", ".join(sorted(methods))


def _explain(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "缺少该字段"
    if kind == "json_invalid":
        return "不是有效的 JSON"
    if kind.startswith("string_too"):
        return "长度不符合要求"
    if kind in ("extra_forbidden",):
        return "不支持该字段"
    if "type" in kind or kind.endswith("_type") or kind.endswith("_parsing"):
        return "类型错误"
    return "取值无效"
