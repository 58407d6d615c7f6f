"""Staffing advice (人员调配): windows needed per half-hour from the demand and the queueing theory."""

from __future__ import annotations

from hall_controller.core.feature import Feature
from hall_controller.features.staffing import api

feature = Feature(name="staffing", install=api.install)
