"""What every server-rendered page shares: its feature's templates beside the common ones (`_signin.html`),
and the names a manager page shows for ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from hall_controller.core.settings import HallConfig

COMMON_TEMPLATES = Path(__file__).resolve().parent / "templates"


def templates(directory: Path) -> Jinja2Templates:
    """A feature's templates, which may include the common ones."""
    t = Jinja2Templates(directory=directory)
    t.env.loader = ChoiceLoader([FileSystemLoader(directory), FileSystemLoader(COMMON_TEMPLATES)])
    return t


def names(config: HallConfig) -> dict[str, dict[str, Any]]:
    """Display names of services, windows and staff by id."""
    return {"service": {s.id: s.name for s in config.services}, "window": {w.id: w.name for w in config.windows},
            "staff": {s.id: s.name for s in config.staff}}
