"""The region service's HTTP edge: ingest from the halls (a key per hall), the read API and the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import orjson
import psycopg
from psycopg_pool import PoolTimeout
from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool

from hall_controller.core.errors import HallError
from hall_controller.http import errors
from hall_controller.http.limits import BodyLimit
from region import auth, rules
from region.pages import routes as pages
from region.store import Store, UnknownHall

MAX_POST = 16 * 1024 * 1024  # a batch of 5,000 events with room to spare


MAX_EVENTS = 5000
INGEST_SCHEMA = {
    "type": "object", "required": ["hall_id", "events"],
    "properties": {
        "hall_id": {"type": "string", "minLength": 1, "maxLength": 40},
        "hall_name": {"type": "string"},
        "last_seq": {"type": "integer", "minimum": 0, "description": "where the hall's ledger ends"},
        "events": {"type": "array", "maxItems": MAX_EVENTS, "items": {
            "type": "object", "required": ["seq", "type", "at", "data"],
            "properties": {"seq": {"type": "integer", "minimum": 1}, "type": {"type": "string"},
                           "at": {"type": "string", "format": "date-time"}, "data": {"type": "object"}}}},
    },
}


def read_post(body: bytes) -> tuple[str, list[Any], int | None, str]:
    """A hall's post `{hall_id, events: [...], last_seq?, hall_name?}`: its hall id, events, where the hall's
    ledger ends (the board shows the lag) and the post's JSON text (PostgreSQL takes the events from it). Read by hand rather than by a pydantic
    model: a post carries up to 5,000 events, and decoding them once is most of the ingest's Python time."""
    try:
        post = orjson.loads(body)  # a third of the stdlib's time for a post's thousands of events
    except orjson.JSONDecodeError:
        raise HallError("invalid_request", "请求参数有误：请求体：不是有效的 JSON", 422) from None
    if not isinstance(post, dict):
        raise HallError("invalid_request", "请求参数有误：请求体应为对象", 422)
    hall_id, events, last = post.get("hall_id"), post.get("events"), post.get("last_seq")
    if not isinstance(hall_id, str) or not 1 <= len(hall_id) <= 40:
        raise HallError("invalid_request", "请求参数有误：hall_id：应为 1–40 个字符", 422)
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise HallError("invalid_request", f"请求参数有误：events：应为数组，至多 {MAX_EVENTS} 条", 422)
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        raise HallError("invalid_request", "请求参数有误：last_seq：应为非负整数", 422)
    return hall_id, events, last, body.decode()


def create_region_app(store: Store, clock: Callable[[], datetime] | None = None, owns_store: bool = False
                      ) -> FastAPI:
    """The region app over an opened `store`; `clock` gives the region's now (default the store's).
    `owns_store`: the app closes the store when it shuts down (a `region serve` worker's)."""
    now = clock or store.now

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            store.close()

    app = FastAPI(title="Region 区域政务服务监管", version="0.1.0", lifespan=lifespan)
    # Posts take at most as many threads as the store has ingest connections; the pages' and API's reads keep
    # the default threads, so a board read never queues behind a hundred halls catching up.
    ingesting = CapacityLimiter(store.pool.max_size)
    app.state.store, app.state.now = store, now
    errors.install(app)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(_: Request, exc: Exception) -> Any:
        # PostgreSQL stopped or unreachable: the halls keep their ledgers and retry, the pages say so.
        return errors.error_response(503, "storage_unavailable", "区域数据库暂不可用，请稍后再试。")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/region/ingest", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": INGEST_SCHEMA}}}})
    async def ingest(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, int]:
        """A hall's next events after what the region holds (none: a heartbeat). Answers the hall's last
        sequence held here; the hall sends on from it."""
        key = auth.bearer(authorization) or ""
        body = await request.body()

        def take() -> int:  # off the event loop, on the ingest's own threads
            hall_id, events, last_seq, text = read_post(body)
            store.check_key(hall_id, key)
            return store.ingest(hall_id, events, last_seq, text)

        try:
            acked = await to_thread.run_sync(take, limiter=ingesting)
        except UnknownHall:
            raise HallError("unauthorised", "大厅编号或密钥不正确。", 401) from None
        except rules.BadEvent as exc:
            raise HallError("invalid_event", f"事件格式有误：{exc}", 422) from None
        return {"acked": acked}

    @app.get("/api/region/overview")
    async def overview() -> dict[str, Any]:
        """Every hall today: issued, served, waiting, longest wait, windows open, satisfaction, alerts."""
        at = now()
        halls = await run_in_threadpool(store.overview, at)
        return {"at": at.isoformat(), "halls": halls}

    @app.get("/api/region/halls/{hall_id}")
    async def hall(hall_id: str) -> dict[str, Any]:
        found = await run_in_threadpool(store.hall, hall_id, now())
        if found is None:
            raise HallError("not_found", f"没有编号为 {hall_id} 的大厅。", 404)
        return found

    @app.get("/api/region/reports")
    async def report(start: date | None = None, end: date | None = None, hall_id: str | None = None,
                     window_id: str | None = None) -> dict[str, Any]:
        """The hall reports across halls for [start, end] (default: this month so far): by hall, within a
        hall by window (`hall_id`), within a window by staff (`hall_id` and `window_id`)."""
        d_from, d_to = rules.period(start, end, now().date())
        if window_id and not hall_id:
            raise HallError("invalid_request", "按人员统计需同时指定大厅和窗口。", 422)
        rows = await run_in_threadpool(store.report, d_from, d_to + timedelta(days=1), hall_id, window_id)
        return {"start": d_from.isoformat(), "end": d_to.isoformat(), "hall_id": hall_id, "window_id": window_id,
                "level": "staff" if window_id else "window" if hall_id else "hall", "rows": rows}

    @app.get("/api/region/supervision")
    async def supervision(hall_id: str | None = None, overdue: bool = False) -> dict[str, Any]:
        """Open 差评 cases and complaints across halls with their deadlines, the most urgent first."""
        return await run_in_threadpool(store.supervision, now(), hall_id, overdue)

    @app.get("/api/region/returns/{month}")
    async def monthly_return(month: str) -> dict[str, Any]:
        """The monthly 效能 return across halls (month: YYYY-MM)."""
        try:
            rows = await run_in_threadpool(store.monthly_return, month, now())
        except ValueError:
            raise HallError("invalid_month", f"月份格式应为 YYYY-MM：{month}", 422) from None
        return {"month": month, "rows": rows}

    pages.install(app)
    auth.install(app, store, pages.templates)
    errors.document(app)
    app.add_middleware(BodyLimit, max_body=MAX_POST)
    return app

