"""Wires a hall: config + ledger + clock → service → app, then each feature installs its routes and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

import display_board
import kiosk_ui

from . import appointments
from . import day, retention
from . import devices
from . import ratings_api
from .api import reports as reports_api
from .api import staffing as staffing_api
from .api.app import create_app
from .clock import Clock
from .config import HallConfig
from .service import HallService
from .store import Ledger


@dataclass(frozen=True)
class ServeOptions:
    devices: str = "simulated"  # "simulated" | "config" | "none"
    var_dir: Path = Path("var")  # runtime files: WAVs, device logs
    rate_limit: float = 50  # requests a second per client address (0 = no limit)
    ws_per_client: int = 50  # open event streams per client address


def build_app(config: HallConfig, db_path: str, clock: Clock, options: ServeOptions = ServeOptions()) -> FastAPI:
    service = HallService(config, Ledger(db_path), clock)
    app = create_app(service, rate_limit=options.rate_limit, ws_per_client=options.ws_per_client)
    app.state.options = options
    appointments.install(app)
    kiosk_ui.install(app)
    display_board.install(app)
    devices.install(app)
    ratings_api.install(app)
    day.install(app)
    retention.install(app)
    reports_api.install(app)
    staffing_api.install(app)
    return app
