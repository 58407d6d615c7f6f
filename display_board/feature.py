"""The hall's screens: hall board, window displays, counter soft keypad, the manager board's page."""

from __future__ import annotations

from fastapi import FastAPI

from display_board import manager, public
from hall_controller.core.feature import Feature


def install(app: FastAPI) -> None:
    public.install(app)
    manager.install(app)


feature = Feature(name="screens", install=install)
