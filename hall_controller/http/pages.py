"""What every server-rendered page shares: its feature's templates beside the common ones (`_signin.html`),
and the names a manager page shows for ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from hall_controller.core.settings import HallConfig

COMMON_TEMPLATES = Path(__file__).resolve().parent / "templates"
# The manager pages' common menu (`_manage_nav.html`): a page listed here shows on every manager page.
MANAGE_PAGES = (("/manager", "管理看板"), ("/manage/applications", "办件管理"), ("/manage/appointments", "预约管理"),
                ("/manage/cases", "差评整改"), ("/manage/rota", "排班请假"), ("/manage/supervision", "督查考核"),
                ("/reports", "报表"), ("/admin", "后台管理"))


def templates(directory: Path) -> Jinja2Templates:
    """A feature's templates, which may include the common ones."""
    t = Jinja2Templates(directory=directory)
    t.env.loader = ChoiceLoader([FileSystemLoader(directory), FileSystemLoader(COMMON_TEMPLATES)])
    t.env.globals["manage_pages"] = MANAGE_PAGES
    return t


def names(config: HallConfig) -> dict[str, dict[str, Any]]:
    """Display names of services, windows and staff by id."""
    return {"service": {s.id: s.name for s in config.services}, "window": {w.id: w.name for w in config.windows},
            "staff": {s.id: s.name for s in config.staff}}
