"""预约 (appointments): booking by slot, check-in at the kiosk, no-show sweep and ban."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.appointments import api, service, settings, store

feature = Feature(
    name="appointments",
    tables=(store.TABLE,),
    section=Section("appointments", settings.parse),
    personal_data=(store.PERSONAL,),
    install=api.install,
    lifespan=service.sweeper,
)
