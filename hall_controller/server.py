"""Wires a hall: config + ledger + clock → service → app, with the devices and pages each issue adds."""

from __future__ import annotations

from fastapi import FastAPI

from .api.app import create_app
from .clock import Clock
from .config import HallConfig
from .service import HallService
from .store import Ledger


def build_app(config: HallConfig, db_path: str, clock: Clock, public_url: str = "") -> FastAPI:
    service = HallService(config, Ledger(db_path), clock)
    service.public_url = config.public_url or public_url
    return create_app(service)
