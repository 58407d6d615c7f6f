"""The simulator's `[simulation]` section (demand profile, service-time spread), read by `simulate` and staffing."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.simulation import demand

feature = Feature(name="simulation", section=Section("simulation", demand.parse))
