"""好差评: ratings from the pad, kiosk and phone; 差评 cases through 核实 → 整改 → 办结; complaints (投诉);
results published (结果公开)."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.ratings import api, service, settings, store

feature = Feature(
    name="ratings",
    tables=store.TABLES,
    section=Section("ratings", settings.parse),
    personal_data=store.PERSONAL,
    migrations=store.MIGRATIONS,
    install=api.install,
    lifespan=service.overdue_watcher,
)
