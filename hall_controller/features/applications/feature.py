"""一窗受理 beyond the queue: the 办件 (application) linked to the ticket, counter outcomes with 补正 and 不予受理
notices, 容缺 commitments, 承诺件 deadlines, the business systems' integration API, 统一出件 and 政务专递 with
the citizen told by SMS, and 一件事 bundles."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.applications import api, service, settings, store

feature = Feature(
    name="applications",
    tables=store.TABLES,
    section=Section("applications", settings.parse),
    personal_data=store.PERSONAL,
    install=api.install,
    lifespan=service.lifespan,
)
