"""The kiosk feature: self-service kiosk (自助取号机) and the citizen's mobile ticket page, served by the hall controller.

`install(app)` adds the pages (`/kiosk/{kiosk_id}`, `/t/{token}`), their JSON API, the kiosks' ID card
readers (simulated with `--devices simulated`) and the read-aloud voice of 长者模式.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from hall_controller.core.feature import Feature, Section
from hall_controller.features.appointments.rules import identity_hash
from hall_controller.features.appointments.service import Appointments
from hall_controller.features.appointments.settings import (
    settings_of as appointment_settings,
)
from hall_controller.http.issuing import Device
from kiosk_ui import api
from kiosk_ui import settings as kiosk_settings
from kiosk_ui.desk import KioskDesk, source_of
from kiosk_ui.readers import Readers
from kiosk_ui.speech import Speech

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    service = app.state.service
    book: Appointments = app.state.appointments
    # The key of the running configuration version, as every setting the kiosk reads.
    readers = Readers(service, app.state.options.devices,
                      lambda number: identity_hash(number, appointment_settings(service.config).identity_key))
    app.state.kiosk = desk = KioskDesk(service, book, readers, devices=app.state.devices)

    def kiosks() -> list[Device]:  # read at each request: the hall's current configuration
        return [Device(source_of(k), k.key_hash, admit=desk.admit_unswiped)
                for k in kiosk_settings.settings_of(service.config).kiosks]

    app.state.issuing_devices.provide(kiosks)
    app.state.kiosk_speech = Speech()
    app.mount("/static/kiosk", StaticFiles(directory=STATIC), name="kiosk-static")
    app.include_router(api.router)
    app.include_router(api.sim_router)


async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await app.state.kiosk.readers.start()
    try:
        yield
    finally:
        await app.state.kiosk.readers.stop()
        app.state.kiosk_speech.close()


feature = Feature(name="kiosks", section=Section("kiosks", kiosk_settings.parse), install=install, lifespan=lifespan)
