"""Public and staff screens of the hall: hall board, window displays, counter soft keypad, manager board."""

from __future__ import annotations

from fastapi import FastAPI

from . import manager, public


def install(app: FastAPI) -> None:
    public.install(app)
    manager.install(app)
