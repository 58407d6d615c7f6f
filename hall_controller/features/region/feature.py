"""Stream the hall's ledger to its region (县/市 政务服务中心): every event exactly once, by hall id and seq."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.region import api, service, settings, store

feature = Feature(
    name="region",
    tables=(store.CURSOR,),
    section=Section("region", settings.parse),
    install=api.install,
    lifespan=service.region_streamer,
)
