"""HTTP for devices: their state, a printer test page, and (demo only) hands on the simulated devices.

The `/api/sim/...` routes exist only with `--devices simulated`: they press a simulated keypad or tap a
simulated pad, so the press travels over the simulated serial line like a real one (`hall-controller
devices` is a terminal front end for them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from drivers.protocol import Key, KeyEvent, Outcome, ProtocolError, RatingReason
from drivers.simulators import SimDisplay, SimKeypad, SimPad
from hall_controller.core.errors import HallError
from hall_controller.core.model import parse_outcome
from hall_controller.features.devices import pages
from hall_controller.features.devices.hub import DeviceHub
from hall_controller.features.devices.settings import DeviceSettings
from hall_controller.features.devices.tablets import PAD_KEY_HEADER
from hall_controller.http.auth import require_manager

router = APIRouter(prefix="/api")
sim_router = APIRouter(prefix="/api/sim")

ACK_WAIT_S = 5.0  # a press is answered once the bus master has acted on it (or given up waiting)
KEY_NAMES = {k.name.lower(): k for k in Key}


def hub_of(request: Request) -> DeviceHub:
    return request.app.state.devices


@router.get("/devices")
async def devices(request: Request) -> dict[str, Any]:
    return hub_of(request).snapshot()


@router.post("/printers/{printer_id}/test-print")
async def test_print(request: Request, printer_id: Annotated[str, Field(max_length=64)],
                     manager: Annotated[str, Depends(require_manager)]) -> dict[str, Any]:
    return await hub_of(request).printers.test_print(printer_id, manager)


class TabletRating(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: Annotated[str, Field(min_length=1, max_length=16)]  # the number the tablet was invited for
    level: Annotated[int, Field(ge=1, le=5)]  # 1 非常满意 … 5 非常不满意
    reasons: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=10)] = []  # 差评 only
    comment: Annotated[str, Field(max_length=5000)] | None = None  # [ratings] comment_max applies


@router.get("/pad/{window_id}")
async def tablet(request: Request, window_id: Annotated[str, Field(max_length=64)]) -> dict[str, Any]:
    """The tablet pad's screen: window, staff card, ticket served, open invitation, rating choices. Only for
    the window's own tablet (its key in `X-Pad-Key`)."""
    tablets = hub_of(request).tablets
    tablets.authorise(window_id, request.headers.get(PAD_KEY_HEADER))
    return tablets.view(window_id)


@router.post("/pad/{window_id}/rating", status_code=201)
async def tablet_rating(request: Request, window_id: Annotated[str, Field(max_length=64)],
                        body: TabletRating) -> dict[str, Any]:
    """The tablet's rating of the service it was invited for: stored (channel `pad`) before it is answered."""
    hub = hub_of(request)
    hub.tablets.authorise(window_id, request.headers.get(PAD_KEY_HEADER))
    return await hub.service.call(hub.tablets.rate, window_id, body.ticket, body.level, body.reasons,
                                  (body.comment or "").strip() or None)


# ---------------------------------------------------------------------- simulators


class Press(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Literal[tuple(KEY_NAMES)]  # type: ignore[valid-type]
    outcome: Annotated[str, Field(max_length=16)] | None = None  # FINISH / NEXT: code or 中文 name
    category: Annotated[str, Field(max_length=16)] | None = None  # TRANSFER to a category
    window: Annotated[int, Field(ge=1, le=9999)] | None = None  # TRANSFER to a window number
    staff_id: Annotated[str, Field(max_length=16)] | None = None  # SIGN_IN
    pin: Annotated[str, Field(max_length=8)] | None = None  # SIGN_IN


class Rate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Annotated[int, Field(ge=1, le=5)]  # 1 非常满意 … 5 非常不满意
    reason: Annotated[int, Field(ge=0, le=6)] = 0  # RatingReason, only with 4 or 5


def _simulated(request: Request) -> DeviceHub:
    hub = hub_of(request)
    if hub.mode != "simulated":
        raise HallError("not_simulated", "仅在模拟设备模式（--devices simulated）下可用。", 404)
    return hub


@sim_router.get("/devices")
async def sim_devices(request: Request) -> dict[str, Any]:
    hub = _simulated(request)
    windows = []
    for w in hub.service.config.windows:
        entry: dict[str, Any] = {"window_id": w.id, "number": w.number, "name": w.name}
        for kind in ("keypad", "display", "pad"):
            try:
                dev = hub.simulator(kind, w.id)
            except HallError:
                continue
            if isinstance(dev, SimKeypad):
                entry["keypad"] = {"lcd": dev.lcd, "pending": len(dev.pending)}
            elif isinstance(dev, SimDisplay):
                entry["display"] = {"lines": list(dev.lines), "paused": dev.paused}
            elif isinstance(dev, SimPad):
                invite = dev.invite
                entry["pad"] = {"invite": None if invite is None else {
                    "ticket": invite.ticket, "window": invite.window, "staff_id": invite.staff_id,
                    "staff_name": invite.staff_name, "application": invite.application or None,
                    "matter": invite.matter or None}}
        windows.append(entry)
    return {"windows": windows}


@sim_router.post("/keypads/{window_id}/press")
async def press(request: Request, window_id: Annotated[str, Field(max_length=64)], body: Press) -> dict[str, Any]:
    keypad = _simulated(request).simulator("keypad", window_id)
    assert isinstance(keypad, SimKeypad)
    key = KEY_NAMES[body.key]
    outcome = None
    if key in (Key.FINISH, Key.NEXT):
        code = parse_outcome(body.outcome)
        if code is None:
            raise HallError("invalid_outcome", f"办结类型无效：{body.outcome}", 422)
        outcome = Outcome[code.upper()]
    try:
        event = KeyEvent(key, outcome=outcome, category=body.category, window=body.window, staff_id=body.staff_id,
                         pin=body.pin)
    except ProtocolError as e:
        raise HallError("invalid_key", f"按键参数有误：{e}", 422) from e
    event_id = keypad.press(event)
    handled = await _settled(keypad, event_id)
    return {"event_id": event_id, "handled": handled, "lcd": keypad.lcd}


@sim_router.post("/pads/{window_id}/rate")
async def rate(request: Request, window_id: Annotated[str, Field(max_length=64)], body: Rate) -> dict[str, Any]:
    pad = _simulated(request).simulator("pad", window_id)
    assert isinstance(pad, SimPad)
    if pad.invite is None:
        raise HallError("no_invitation", "该评价器当前没有待评价的服务。", 409)
    if body.reason and body.level < 4:
        raise HallError("invalid_reason", "只有“不满意”或“非常不满意”可以选择原因。", 422)
    event_id = pad.rate(body.level, RatingReason(body.reason))
    return {"event_id": event_id, "handled": await _settled(pad, event_id)}


async def _settled(dev: SimKeypad | SimPad, event_id: int) -> bool:
    """Waits until the master acknowledged or refused the event; False if it has not yet."""
    try:
        await dev.wait_for(lambda d: all(e != event_id for e, _ in d.pending), timeout=ACK_WAIT_S)  # type: ignore[attr-defined]
    except (TimeoutError, asyncio.TimeoutError):
        return False
    return True


def install(app: FastAPI) -> None:
    service = app.state.service
    options = app.state.options
    settings = service.config.sections.get("devices") or DeviceSettings()
    app.state.devices = DeviceHub(service, settings, mode=options.devices, var_dir=options.var_dir)
    app.include_router(router)
    app.include_router(sim_router)
    pages.install(app)


async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: DeviceHub = app.state.devices
    service = app.state.service
    loop = asyncio.get_running_loop()
    turn = asyncio.Lock()  # one restart at a time, in the order the versions were committed
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        async with turn:
            settings = service.config.sections.get("devices") or DeviceSettings()
            if replace(settings, tablets=()) == replace(hub.settings, tablets=()):
                hub.settings = settings  # only tablet keys: read at each request, no bus or voice to restart
                return
            await hub.reload(settings)

    def start_reload() -> None:
        task = loop.create_task(reload(), name="devices reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    def on_event(event: dict[str, Any]) -> None:
        # A new configuration version that changed [devices]; called on the committing thread.
        if (event["type"] == "config.changed" and "devices" in event["data"].get("changed", ())
                and not loop.is_closed()):
            loop.call_soon_threadsafe(start_reload)

    service.bus.listen(on_event)
    await hub.start()
    try:
        yield
    finally:
        await asyncio.gather(*reloads, return_exceptions=True)
        await hub.stop()
