"""The FastAPI application: routers for each surface, one `HallService` behind them all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..service import HallService
from . import core, errors, ws

Startup = Callable[[FastAPI], AsyncIterator[None]]


def create_app(service: HallService, lifespans: list[Startup] | None = None) -> FastAPI:
    """`lifespans` are async generators started in order with the server (devices, announcer...)."""
    hooks = list(lifespans or [])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = []
        try:
            for hook in hooks:
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
    errors.install(app)
    app.include_router(core.router)
    app.include_router(ws.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        return {"ok": True, "seq": service.ledger.last_seq}

    return app
