"""One RS-485 bus in the running controller: its master, its simulator in the demo, its devices and whether
each is online.

The master hands keypad and pad reports straight to the handlers it is given (`Keypads.press`, `Pads.rate`,
`Pads.timed_out`), with the bus's devices bound in, so a key press goes from the master to the keypads
with nothing in between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from drivers.bus import BusMaster, BusTiming
from drivers.protocol import DeviceType, KeyEvent, Rating
from drivers.simulators import SimBus
from hall_controller.core.clock import Clock
from hall_controller.features.devices.records import DeviceRecords
from hall_controller.features.devices.settings import BusSpec

KINDS = {"keypad": DeviceType.KEYPAD, "display": DeviceType.DISPLAY, "pad": DeviceType.PAD}
# Keypads are polled as often as the line allows (a 9600-baud poll round trip is ~20 ms, so 4 keypads on a
# bus are each asked every ~80 ms); a pad awaiting a rating can wait half a second, a person is slower.
# bench/devices.py measures what this gives.
HUB_TIMING = BusTiming(keypad_idle_poll=0.06, keypad_active_poll=0.03, pad_poll=0.5)


def fit(text: str, max_bytes: int) -> str:
    """Cut text to what a device on the bus shows (GBK bytes); characters outside GBK become "?"."""
    out, used = "", 0
    for ch in text:
        try:
            n = len(ch.encode("gbk"))
        except UnicodeEncodeError:
            ch, n = "?", 1
        if used + n > max_bytes:
            break
        out, used = out + ch, used + n
    return out


@dataclass(frozen=True)
class Device:
    """A keypad, window display or pad: where it is on its bus and which window it belongs to."""

    id: str  # "bus1:3"
    address: int
    kind: str
    window_id: str
    bus: Bus = field(repr=False, compare=False)


@dataclass
class DeviceStatus:
    online: bool | None = None
    changed_at: datetime | None = None


# The handlers get the reporting bus's devices by address, then the master's own arguments.
Devices = Mapping[int, Device]
KeyHandler = Callable[[Devices, int, KeyEvent, int], Awaitable[str]]
RatingHandler = Callable[[Devices, int, Rating], Awaitable[None]]
RatingTimeoutHandler = Callable[[Devices, int, str], Awaitable[None]]


class Bus:
    def __init__(self, spec: BusSpec, url: str, sim: SimBus | None, timing: BusTiming, *, clock: Clock,
                 records: DeviceRecords, on_key: KeyHandler, handled: Callable[[Device], tuple[int, bool] | None],
                 on_rating: RatingHandler, on_rating_timeout: RatingTimeoutHandler) -> None:
        """`handled`: a keypad's last event id and verdict stored before a restart, so the master answers a
        re-reported event and never acts on it again."""
        self.spec, self.url, self.sim = spec, url, sim
        self._clock, self._records = clock, records
        self.devices = {d.address: Device(f"{spec.id}:{d.address}", d.address, d.kind, d.window_id, self)
                        for d in spec.devices}
        self.status = {address: DeviceStatus() for address in self.devices}
        self._stopping = False
        self.master = BusMaster(
            url, [(d.address, KINDS[d.kind]) for d in spec.devices],
            on_key=partial(on_key, self.devices), on_rating=partial(on_rating, self.devices),
            on_rating_timeout=partial(on_rating_timeout, self.devices), on_device_state=self._on_device_state,
            timing=replace(timing, baudrate=spec.baud),
            handled={a: h for a, d in self.devices.items() if (h := handled(d)) is not None},
        )
        for d in spec.devices:
            if d.brightness is not None:  # the master keeps it and sends it again after a reconnect
                self.master.set_brightness(d.address, d.brightness)

    async def start(self) -> None:
        await self.master.start()

    async def stop(self) -> None:
        self._stopping = True  # the shutdown itself is not a device going offline
        await self.master.stop()
        if self.sim is not None:
            await self.sim.close()

    def _on_device_state(self, address: int, online: bool) -> None:
        if self._stopping:
            return
        status = self.status[address]
        status.online, status.changed_at = online, self._clock.now()
        device = self.devices[address]
        self._records.record("device.online" if online else "device.offline", {
            "device_id": device.id, "kind": device.kind, "window_id": device.window_id, "bus": self.spec.id})

    # ------------------------------------------------------------------ views

    def device_views(self, now: datetime) -> list[dict[str, Any]]:
        views = []
        for address, device in self.devices.items():
            status = self.status[address]
            seen = now if status.online else status.changed_at
            views.append({"id": device.id, "bus": self.spec.id, "address": address, "kind": device.kind,
                          "window_id": device.window_id, "online": status.online,
                          "last_seen": seen.isoformat() if seen else None})
        return views

    def view(self) -> dict[str, Any]:
        s = self.master.stats
        return {"id": self.spec.id, "port": self.url, "baud": self.spec.baud, "simulated": self.sim is not None,
                "devices": len(self.devices),
                "stats": {"frames_ok": s.parser.frames_ok, "crc_errors": s.parser.crc_errors, "retries": s.retries,
                          "timeouts": s.timeouts, "failed": s.failed, "requests": s.requests,
                          "stale_frames": s.stale_frames, "duplicate_events": s.duplicate_events, "opens": s.opens}}
