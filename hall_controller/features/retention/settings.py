"""The `[retention]` section: the retention period, and per-table periods for the tables that hold
personal data."""

from __future__ import annotations

from collections.abc import Iterable

from hall_controller import config_loader as cfg
from hall_controller.core.feature import Section
from hall_controller.core.settings import HallConfig
from hall_controller.features.retention.rules import RetentionSettings


def section(tables: Iterable[str]) -> Section:
    """The section, accepting a period for each of `tables` (those holding personal data)."""
    names = tuple(tables)

    def parse(t: cfg.Table, core: HallConfig) -> RetentionSettings:
        t = cfg.Table(t.source, t.path, t.data, ("days", "tables", "check_minutes"))
        d = RetentionSettings()
        per_table = cfg.Table(t.source, t.at("tables"), t.raw("tables", {}), names)
        return RetentionSettings(
            days=t.integer("days", d.days, low=1, high=36500),
            tables={name: per_table.integer(name, low=1, high=36500) for name in per_table.data},
            check_minutes=t.integer("check_minutes", d.check_minutes, low=1, high=1440),
        )

    return Section("retention", parse)


def settings_of(config: HallConfig) -> RetentionSettings:
    return config.sections.get("retention") or RetentionSettings()
