"""Push to the upstream platform (一体化政务服务平台): every selected event exactly once, through the outbox."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.platform import api, rules, service, settings, store

feature = Feature(
    name="platform",
    tables=(store.REJECTED,),
    section=Section("platform", settings.parse),
    outbox=rules.pushed,
    install=api.install,
    lifespan=service.platform_pusher,
)
