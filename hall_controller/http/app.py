"""The FastAPI application: the core's routes (tickets, windows, sign-in, event stream), then each feature's,
one `HallService` behind them all."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from hall_controller.core.feature import Feature
from hall_controller.core.service import HallService
from hall_controller.http import auth, errors, issuing, limits, observe, ws
from hall_controller.http import routes as core

COMMON_STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class ServeOptions:
    devices: str = "simulated"  # "simulated" | "config" | "none"
    var_dir: Path = Path("var")  # runtime files: WAVs, device logs
    rate_limit: float = 50  # requests a second per client address (0 = no limit)
    ws_per_client: int = ws.WS_PER_CLIENT  # open event streams per client address
    access_log: bool = False  # an access line per request with its id (JSON logs; uvicorn's has no id)
    ws_max: int = ws.WS_MAX_STREAMS  # open event streams in all


def create_app(service: HallService, features: Iterable[Feature] = (), options: ServeOptions | None = None) -> FastAPI:
    """The app with the core's routes and each of `features` installed in order; their lifespans run in that
    order at start-up and in reverse at shutdown. Without `options` there is no rate limit: tests and tools
    build apps that way."""
    features = tuple(features)
    options = options or ServeOptions(rate_limit=0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        service.bus.attach(loop)  # committed events reach the WebSockets and devices on this loop
        running = []
        try:
            for hook in (f.lifespan for f in features if f.lifespan):
                gen = hook(app)
                await gen.__anext__()
                running.append(gen)
            app.state.ready = True
            yield
        finally:
            app.state.ready = False
            for gen in reversed(running):
                try:
                    await gen.__anext__()
                except StopAsyncIteration:
                    pass
            service.bus.detach(loop)

    # /docs and /redoc from swagger-ui and redoc bundled in fastapi-offline: a hall LAN has no internet
    app = FastAPIOffline(title="Hall controller 政务服务大厅排队叫号", version="0.1.0", lifespan=lifespan)
    app.state.service = service
    app.state.features = features  # what the configuration is validated with (each feature's section)
    app.state.options = options
    app.state.ws_per_client, app.state.ws_clients = options.ws_per_client, {}
    app.state.issuing_devices = issuing.Devices()  # kiosks and other keyed devices, provided by their features
    errors.install(app)
    app.include_router(core.router)
    app.include_router(auth.router)
    app.include_router(ws.router)
    app.mount("/static/common", StaticFiles(directory=COMMON_STATIC), name="common-static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, object]:
        return {"ok": True, "seq": service.ledger.last_seq}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready for traffic: every feature's start-up done (devices opened, pushers running), not shutting down,
        and the ledger answers. A proxy or monitor sends traffic only then; /healthz says the process lives."""
        if not getattr(app.state, "ready", False):
            return JSONResponse({"error": "not_ready", "message": "控制器正在启动或停止。"}, status_code=503)
        try:
            service.ledger.query("SELECT 1")
        except sqlite3.Error:
            return JSONResponse({"error": "storage_unavailable", "message": "台账无法读取。"}, status_code=503)
        return JSONResponse({"ok": True, "seq": service.ledger.last_seq})

    for feature in features:
        if feature.install:
            feature.install(app)

    errors.document(app)
    app.add_middleware(limits.RateLimit, rate=options.rate_limit)
    app.add_middleware(limits.BodyLimit)
    app.add_middleware(observe.RequestId, access_log=options.access_log)  # outermost: every response has an id
    return app
