"""The manager's live board (大厅管理): overview, alerts, window and category actions, notices."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.manager import api, settings

feature = Feature(name="manager", section=Section("manager", settings.parse), install=api.install)
