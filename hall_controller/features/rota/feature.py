"""排班 and 请销假: weekly rotas per window and staff (午间值班, weekend service), leave with approval, and the
B岗 stand-in limits checked at every sign-in."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.rota import api, settings, store

feature = Feature(
    name="rota",
    tables=store.TABLES,
    section=Section("rota", settings.parse),
    install=api.install,
)
