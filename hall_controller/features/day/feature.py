"""The hall's day on the hall clock: opening, lunch duty, closing with its daily summary (每日小结)."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.day import api, service, settings, store

feature = Feature(
    name="day",
    tables=(store.HALL_DAYS,),
    section=Section("day", settings.parse),
    install=api.install,
    lifespan=service.drive,
)
