"""The `[rota]` section: leave types (假别) and the B岗 stand-in limits."""

from __future__ import annotations

from hall_controller import config_loader as config
from hall_controller.core.settings import HallConfig
from hall_controller.features.rota.rules import DEFAULT_LEAVE_TYPES, RotaSettings

_KEYS = ("leave_types", "standin_run_days", "standin_year_days", "standin_warn_days", "weeks_ahead")


def parse(table: config.Table, core: HallConfig) -> RotaSettings:
    t = config.Table(table.source, table.path, table.data, _KEYS)
    types = config.code_labels(t, "leave_types", DEFAULT_LEAVE_TYPES, "leave type", "假别")
    d = RotaSettings()
    run = t.integer("standin_run_days", d.standin_run_days, low=1, high=366)
    year = t.integer("standin_year_days", d.standin_year_days, low=1, high=366)
    if year < run:
        t.fail("standin_year_days", f"({year}) must be at least standin_run_days ({run})")
    return RotaSettings(
        leave_types=types, standin_run_days=run, standin_year_days=year,
        standin_warn_days=t.integer("standin_warn_days", d.standin_warn_days, low=0, high=run - 1),
        weeks_ahead=t.integer("weeks_ahead", d.weeks_ahead, low=1, high=52),
    )


def settings_of(cfg: HallConfig) -> RotaSettings:
    """The hall's rota settings; halls built in code without the section get the defaults."""
    return cfg.sections.get("rota") or RotaSettings()
