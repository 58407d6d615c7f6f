"""督查: 整改率 and 回复率 of 差评 cases and complaints, the causes of 差评, the monthly 效能 return, and 考核 —
monthly scores and 等次 per staff member from service, ratings and attendance, with managers' notes."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.supervision import api, settings, store

feature = Feature(
    name="supervision",
    tables=store.TABLES,
    section=Section("supervision", settings.parse),
    install=api.install,
)
