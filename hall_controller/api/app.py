"""The FastAPI application: routers for each surface, one `HallService` behind them all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..service import HallService
from . import auth, core, errors, limits, ws

# A lifespan hook is an async generator: code before `yield` runs at start-up, after it at shutdown.
Lifespan = Callable[[FastAPI], AsyncIterator[None]]

COMMON_STATIC = Path(__file__).resolve().parent.parent / "web"


def create_app(service: HallService, rate_limit: float = 0, ws_per_client: int = ws.WS_PER_CLIENT) -> FastAPI:
    """Features add routers with `app.include_router` and background work to `app.state.lifespans`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = []
        try:
            for hook in app.state.lifespans:
                gen = hook(app)
                await gen.__anext__()
                running.append(gen)
            yield
        finally:
            for gen in reversed(running):
                try:
                    await gen.__anext__()
                except StopAsyncIteration:
                    pass

    app = FastAPI(title="Hall controller 政务服务大厅排队叫号", version="0.1.0", lifespan=lifespan)
    app.state.service = service
    app.state.lifespans = []
    app.state.ws_per_client, app.state.ws_clients = ws_per_client, {}
    errors.install(app)
    app.include_router(core.router)
    app.include_router(auth.router)
    app.include_router(ws.router)
    app.mount("/static/common", StaticFiles(directory=COMMON_STATIC), name="common-static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, object]:
        return {"ok": True, "seq": service.ledger.last_seq}

    errors.document(app)
    app.add_middleware(limits.RateLimit, rate=rate_limit)
    app.add_middleware(limits.BodyLimit)
    return app
