"""后台管理: configuration as versioned data in the ledger, changed live through the one write path; staff
photos and the 事项库 import."""

from __future__ import annotations

from hall_controller.core.feature import Feature
from hall_controller.features.admin import api, store

feature = Feature(name="admin", tables=(store.CONFIG_VERSIONS,), install=api.install)
