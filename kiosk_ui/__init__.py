"""Self-service kiosk (自助取号机) and the citizen's mobile ticket page, served by the hall controller.

`install(app)` adds the pages (`/kiosk/{kiosk_id}`, `/t/{token}`), their JSON API, the kiosks' ID card
readers (simulated with `--devices simulated`) and the read-aloud voice of 长者模式.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from hall_controller.appointments import Appointments, settings_of as appointment_settings
from hall_controller.domain.appointments import identity_hash

from . import routes
from .desk import KioskDesk
from .readers import Readers
from .settings import settings_of
from .speech import Speech

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    service = app.state.service
    settings = settings_of(service.config)
    book: Appointments = getattr(app.state, "appointments", None) or Appointments(service)
    key = appointment_settings(service.config).identity_key
    readers = Readers(service, settings, app.state.options.devices, lambda number: identity_hash(number, key))
    # The device hub is looked up when printing: it may be installed after the kiosk.
    app.state.kiosk = KioskDesk(service, settings, book, readers, devices=_LateDevices(app))
    app.state.kiosk_speech = Speech()
    app.mount("/static/kiosk", StaticFiles(directory=STATIC), name="kiosk-static")
    app.include_router(routes.router)
    app.include_router(routes.sim_router)

    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await readers.start()
        try:
            yield
        finally:
            await readers.stop()
            app.state.kiosk_speech.close()

    app.state.lifespans.append(lifespan)


class _LateDevices:
    """`app.state.devices` at the time of use, or absent (no device hub: printing is unavailable)."""

    def __init__(self, app: FastAPI):
        self._app = app

    def __getattr__(self, name: str):
        hub = getattr(self._app.state, "devices", None)
        if hub is None:
            raise AttributeError(name)
        return getattr(hub, name)
