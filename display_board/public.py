"""Hall board `/board`, window display `/window/{id}`, counter soft keypad `/counter/{id}`, staff photos.

The pages are static shells: they load `GET /api/board` once and then apply hall events from the
WebSocket with resume, so a network blip or a controller restart loses no call.
"""

from __future__ import annotations

import hashlib
import json
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.core.settings import HallConfig, Staff
from hall_controller.features.manager.service import current_notice
from hall_controller.http.auth import service_of

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter()

RECENT_CALLS = 12  # the board lists the last dozen calls; a blip longer than that is rare at one hall
CALL_EVENTS = ("ticket.called", "ticket.recalled")
PHOTO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
# Deep government blues and a red: the placeholder avatars stay in the hall's palette.
AVATAR_COLOURS = ("#0b3d91", "#1456b8", "#0e5a8a", "#9b1c1c", "#1f4e79", "#7a2430")


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    svc = service_of(request)
    return templates.TemplateResponse(request, template, {"hall": svc.config.name, **context})


@router.get("/board", response_class=HTMLResponse, include_in_schema=False)
async def board(request: Request) -> HTMLResponse:
    return _page(request, "board.html")


@router.get("/window/{window_id}", response_class=HTMLResponse, include_in_schema=False)
async def window_display(request: Request, window_id: str) -> HTMLResponse:
    w = service_of(request).hall.window_config(window_id)
    return _page(request, "window.html", window_id=w.id, window_name=w.name, window_number=w.number)


@router.get("/counter/{window_id}", response_class=HTMLResponse, include_in_schema=False)
async def counter(request: Request, window_id: str) -> HTMLResponse:
    w = service_of(request).hall.window_config(window_id)
    return _page(request, "counter.html", window_id=w.id, window_name=w.name)


@router.get("/api/board")
async def board_state(request: Request) -> dict[str, Any]:
    """`GET /api/hall` plus what a screen needs to start: recent calls, the notice in force, public staff cards.

    Everything is read at the snapshot's `seq`, so the page resumes the event stream from there.
    """
    svc = service_of(request)
    snap = svc.snapshot()
    seq, day = snap["seq"], snap["day"]
    snap["recent_calls"] = recent_calls(svc, seq, day)
    snap["notice"] = current_notice(svc, svc.clock.now())
    # Only the staff signed in at a window now: their cards are shown there by rule (公开), while a list of
    # every 工号, name and photo is not the hall LAN's business. A later sign-in's event brings its card.
    snap["staff"] = {s.id: public_staff(s) for s in on_duty(svc)}
    return snap


def on_duty(svc: HallService) -> list[Staff]:
    with svc.lock:
        ids = {ws.staff_id for ws in svc.hall.windows.values() if ws.staff_id}
    return [s for s in svc.config.staff if s.id in ids]


def recent_calls(svc: HallService, seq: int, day: str) -> list[dict[str, Any]]:
    marks = ",".join("?" for _ in CALL_EVENTS)
    rows = svc.ledger.query(
        f"SELECT seq, type, at, data FROM events WHERE type IN ({marks}) AND at >= ? AND seq <= ? "
        "ORDER BY seq DESC LIMIT ?", (*CALL_EVENTS, day, seq, RECENT_CALLS))
    return [{"seq": r[0], "type": r[1], "at": r[2], "data": json.loads(r[3])} for r in reversed(rows)]


def public_staff(s: Staff) -> dict[str, str]:
    """Name, unit, 工号 and photo are shown at the window by rule (公开); nothing else leaves."""
    return {"id": s.id, "name": s.name, "unit": s.unit, "photo_url": f"/staff-photo/{s.id}"}


@router.get("/staff-photo/{staff_id}", include_in_schema=False)
async def staff_photo(request: Request, staff_id: str) -> Response:
    svc = service_of(request)
    config = svc.config
    # Served while the staff member is signed in at a window (their card is shown there); the same 404 for
    # everyone else, so the address tells nobody which 工号 exist.
    staff = next((s for s in on_duty(svc) if s.id == staff_id), None)
    if staff is None:
        raise HallError("unknown_staff", "未找到该工作人员。", 404)
    path = photo_path(config, staff)
    if path is not None:
        return FileResponse(path, media_type=PHOTO_TYPES[path.suffix.lower()],
                            headers={"cache-control": "max-age=300"})
    return Response(placeholder_avatar(staff), media_type="image/svg+xml", headers={"cache-control": "max-age=300"})


def photo_path(config: HallConfig, staff: Staff) -> Path | None:
    """The configured photo, relative to the config file's directory, if it is there and an image."""
    if not staff.photo:
        return None
    path = Path(config.source).resolve().parent / staff.photo
    return path if path.suffix.lower() in PHOTO_TYPES and path.is_file() else None


def placeholder_avatar(staff: Staff) -> str:
    """The surname in a circle, in a colour fixed by the 工号, until the hall supplies a photo."""
    colour = AVATAR_COLOURS[hashlib.sha256(staff.id.encode()).digest()[0] % len(AVATAR_COLOURS)]
    initial = escape(staff.name[:1] or "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 300" width="240" height="300">'
        '<rect width="240" height="300" fill="#e8eef7"/>'
        f'<circle cx="120" cy="140" r="96" fill="{colour}"/>'
        f'<text x="120" y="140" dy="0.36em" text-anchor="middle" font-size="104" fill="#fff" '
        'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif">'
        f"{initial}</text>"
        f'<text x="120" y="278" text-anchor="middle" font-size="22" fill="#5a6b85" '
        'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif">'
        f"{escape(staff.id)}</text></svg>"
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static/board", StaticFiles(directory=HERE / "static"), name="board-static")
