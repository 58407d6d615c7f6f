"""`GET /metrics`: the Prometheus text format, for the county IT office's monitoring."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hall_controller.features.metrics.service import Latency, registry_of


def install(app: FastAPI) -> None:
    registry_of(app)
    app.add_middleware(Latency, histogram=app.state.request_latency)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
