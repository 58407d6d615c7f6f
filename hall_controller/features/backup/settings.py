"""The `[backup]` section: the nightly copy of the ledger and how many are kept."""

from __future__ import annotations

from datetime import time

from hall_controller import config_loader as cfg
from hall_controller.core.settings import HallConfig
from hall_controller.features.backup.rules import BackupSettings


def parse(t: cfg.Table, core: HallConfig) -> BackupSettings:
    t = cfg.Table(t.source, t.path, t.data, ("enabled", "dir", "at", "keep", "check_seconds"))
    d = BackupSettings()
    at = t.text("at", d.at.strftime("%H:%M"))
    try:
        when = time.fromisoformat(at)
    except ValueError:
        t.fail("at", f'must be a time of day "HH:MM", got "{at}"')
    return BackupSettings(
        enabled=t.flag("enabled", d.enabled),
        dir=t.text("dir", d.dir),
        at=when,
        keep=t.integer("keep", d.keep, low=1, high=3650),
        check_seconds=t.integer("check_seconds", d.check_seconds, low=1, high=3600),
    )


def settings_of(config: HallConfig) -> BackupSettings:
    return config.sections.get("backup") or BackupSettings()
