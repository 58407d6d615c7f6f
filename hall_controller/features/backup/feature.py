"""Backups of the ledger (台账): the nightly online copy with its retention, and the one-owner lock of a served
ledger; `hall-controller backup | restore | verify` (cli.py)."""

from __future__ import annotations

from hall_controller.core.feature import Feature, Section
from hall_controller.features.backup import service, settings

feature = Feature(
    name="backup",
    section=Section("backup", settings.parse),
    lifespan=service.nightly,
)
