"""预约管理 (`/manage/appointments`): the day's slots and bookings; a manager books for a citizen (当面 / 电话),
cancels, or imports a CSV. The page is a shell whose script signs in and calls the appointments API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from hall_controller.core.service import HallService
from hall_controller.features.appointments.rules import STATUS_NAMES
from hall_controller.features.appointments.service import CSV_COLUMNS, IMPORT_MAX_ROWS
from hall_controller.features.appointments.settings import settings_of
from hall_controller.http import pages

templates = pages.templates(Path(__file__).resolve().parent / "templates")


async def appointments_page(request: Request) -> HTMLResponse:
    """预约管理: the day's slots, the bookings, booking for a citizen (当面 / 电话), cancelling, CSV import."""
    service: HallService = request.app.state.service
    settings = settings_of(service.config)
    return templates.TemplateResponse(request, "appointments.html", {
        "hall": service.config.name, "today": service.clock.now().date().isoformat(),
        "bookable": [{"id": s.id, "name": s.name} for s in service.config.services if settings.bookable(s.id)],
        "names": pages.names(service.config)["service"], "statuses": STATUS_NAMES,
        "columns": ",".join(CSV_COLUMNS), "max_rows": IMPORT_MAX_ROWS,
    })


def install(app: FastAPI) -> None:
    app.add_api_route("/manage/appointments", appointments_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
