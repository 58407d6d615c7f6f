"""The hall's devices: RS-485 counter keypads, window displays and evaluation pads, ESC/POS printers, the
voice; simulated with `--devices simulated`."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.devices import api, settings, store

feature = Feature(
    name="devices",
    tables=(store.DEVICE_EVENTS, store.KEYPAD_SESSIONS),
    section=Section("devices", settings.parse),
    install=api.install,
    lifespan=api.lifespan,
)
