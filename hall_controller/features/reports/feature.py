"""Reports (统计报表): daily, weekly and monthly figures, attendance, as pages, CSV and XLSX."""

from __future__ import annotations

from hall_controller.core.feature import Feature
from hall_controller.features.reports import api

feature = Feature(name="reports", install=api.install)
