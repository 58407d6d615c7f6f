"""The composition root: the one explicit list of the hall's features, and a hall wired from it —
config (with every feature's section) + ledger (with every feature's table) + clock → service → app."""

from __future__ import annotations

import os

from fastapi import FastAPI

from display_board.feature import feature as screens
from hall_controller import config_loader
from hall_controller.core.clock import Clock
from hall_controller.core.feature import Feature
from hall_controller.core.ledger import Ledger
from hall_controller.core.migrations import Component
from hall_controller.core.service import HallService
from hall_controller.core.settings import HallConfig
from hall_controller.features.admin.feature import feature as admin
from hall_controller.features.admin.service import startup_config
from hall_controller.features.applications.feature import feature as applications
from hall_controller.features.appointments.feature import feature as appointments
from hall_controller.features.backup.feature import feature as backup
from hall_controller.features.day.feature import feature as day
from hall_controller.features.devices.feature import feature as devices
from hall_controller.features.manager.feature import feature as manager
from hall_controller.features.metrics.feature import feature as metrics
from hall_controller.features.platform.feature import feature as platform
from hall_controller.features.ratings.feature import feature as ratings
from hall_controller.features.region.feature import feature as region
from hall_controller.features.reports.feature import feature as reports
from hall_controller.features.retention.feature import covering
from hall_controller.features.rota.feature import feature as rota
from hall_controller.features.simulation.feature import feature as simulation
from hall_controller.features.staffing.feature import feature as staffing
from hall_controller.features.supervision.feature import feature as supervision
from hall_controller.http.app import ServeOptions, create_app
from kiosk_ui.feature import feature as kiosks

# In install order: the kiosk uses the appointment book and the device hub, so both come first; applications
# issue 出件 tickets through the kiosk and print notices on the hub's printers.
_HALL: tuple[Feature, ...] = (appointments, devices, kiosks, applications, screens, manager, ratings, platform,
                              region, day, rota, reports, supervision, staffing, simulation, backup, admin, metrics)
FEATURES: tuple[Feature, ...] = (*_HALL, covering(_HALL))
SECTIONS = tuple(f.section for f in FEATURES if f.section)


def load_config(path: str | os.PathLike[str]) -> HallConfig:
    """A hall TOML file with every feature's section, validated."""
    return config_loader.load_config(path, SECTIONS)


def parse_config(text: str, source: str = "<config>") -> HallConfig:
    return config_loader.parse_config(text, source, SECTIONS)


def open_ledger(path: str | os.PathLike[str]) -> Ledger:
    """The ledger with every feature's tables, migrations and outbox selectors."""
    return Ledger(path, components=(Component(f.name, f.tables, f.migrations) for f in FEATURES),
                  outbox=(f.outbox for f in FEATURES if f.outbox))


def build_app(config: HallConfig, db_path: str, clock: Clock, options: ServeOptions = ServeOptions()) -> FastAPI:
    """The hall on the ledger's current configuration version (`config`, read from the file, seeds it)."""
    ledger = open_ledger(db_path)
    config = startup_config(ledger, config, SECTIONS, clock.now())
    return create_app(HallService(config, ledger, clock), FEATURES, options)
