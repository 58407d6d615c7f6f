"""Window displays (窗口屏): what each shows follows the hall's committed events, from what the events carry.

The hall is asked for each window once, at start; from then on every `ticket.*`, `staff.*` and `window.*`
event of a window with a display updates what the display knows of its window (`WindowSign`), and the
display is given its new lines. The update runs on the event loop after the command that published the
event has returned, never inside it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from drivers.protocol import ProtocolError
from hall_controller.core.model import WindowState
from hall_controller.core.service import HallService
from hall_controller.features.devices.buses import Device, fit

log = logging.getLogger(__name__)

LINE_BYTES = 48  # drivers.protocol.DISPLAY_LINE_MAX
SHOWN = ("ticket.called", "ticket.recalled", "ticket.started")  # the window calls or serves the event's ticket
FREED = {"ticket.finished": "window_id", "ticket.skipped": "window_id",
         "ticket.transferred": "from_window_id"}  # the window named by that key no longer holds a ticket
BLANK = (WindowState.SIGNED_OUT, WindowState.CLOSED)


@dataclass(frozen=True)
class WindowSign:
    """What a window display needs to know of its window."""

    state: WindowState
    staff_id: str | None
    number: str | None  # the ticket the window calls or serves


def sign_of(view: dict[str, Any]) -> WindowSign:
    """The sign of a window as `HallService.window_view` shows it."""
    ticket, staff = view["ticket"], view["staff"]
    return WindowSign(WindowState(view["state"]), staff["id"] if staff else None, ticket["number"] if ticket else None)


def followed(sign: WindowSign, type_: str, data: dict[str, Any]) -> WindowSign:
    """The window's sign after one of its events."""
    if type_ in SHOWN:
        return replace(sign, state=WindowState.SERVING, number=data["ticket"]["number"])
    if type_ in FREED:
        return replace(sign, state=WindowState.OPEN, number=None)
    # staff.* and window.* carry the window's new status (staff.signed_in nests it in a window event)
    status = data["window"]["window"] if type_ == "staff.signed_in" else data["window"]
    return WindowSign(WindowState(status["state"]), status["staff_id"], sign.number if status["ticket_id"] else None)


def window_of(type_: str, data: dict[str, Any]) -> str | None:
    """The window whose display an event changes, if any."""
    if type_ in FREED:
        return data.get(FREED[type_])
    if type_ in SHOWN or type_.startswith(("staff.", "window.")):
        return data.get("window_id")
    return None


class Displays:
    def __init__(self, service: HallService) -> None:
        self.service = service
        self._displays: dict[str, Device] = {}  # window id -> its display
        self._signs: dict[str, WindowSign] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        service.bus.listen(self._on_event)

    def add(self, display: Device) -> None:
        self._displays[display.window_id] = display

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()  # first: an event from now on is applied after this read
        for window_id in self._displays:
            self._show(window_id, sign_of(self.service.window_view(window_id)))

    def stop(self) -> None:
        self._loop = None

    def clear(self) -> None:
        """Forget the displays (stopped): the hub places them again from new settings."""
        self._displays.clear()
        self._signs.clear()

    def _on_event(self, event: dict[str, Any]) -> None:
        # Called by the publishing command (on whichever thread committed it): hand over to the loop.
        if self._loop is not None and window_of(event["type"], event["data"]) in self._displays:
            self._loop.call_soon_threadsafe(self._follow, event)

    def _follow(self, event: dict[str, Any]) -> None:
        window_id = window_of(event["type"], event["data"])
        if self._loop is None or window_id is None:  # stopped meanwhile
            return
        self._show(window_id, followed(self._signs[window_id], event["type"], event["data"]))

    def _show(self, window_id: str, sign: WindowSign) -> None:
        self._signs[window_id] = sign
        display = self._displays[window_id]
        lines, paused = self.content(window_id, sign)
        try:
            display.bus.master.set_display(display.address, lines, paused)
        except ProtocolError as e:
            log.error("display %s: %s", display.id, e)

    def content(self, window_id: str, sign: WindowSign) -> tuple[tuple[str, ...], bool]:
        """The lines and the paused sign: the current number and who serves there, or the window and its
        staff; blank when nobody is in."""
        cfg = self.service.config
        staff = cfg.staff_member(sign.staff_id) if sign.staff_id else None
        if staff is None or sign.state in BLANK:
            return (), False
        if sign.number is not None:
            # Short: every byte is 1 ms on the line between the key and the display. The display hangs over
            # its own window, so the number and who serves there say it all.
            lines: tuple[str, ...] = (sign.number, staff.name)
        else:
            lines = (self.service.hall.window_config(window_id).name, f"{staff.name} 工号 {staff.id}")
        return tuple(fit(line, LINE_BYTES) for line in lines), sign.state == WindowState.PAUSED
