"""The hall's devices in the running controller, built from the `[devices]` settings and started and stopped
with the server.

`DeviceHub` (one per app, `app.state.devices`) holds one `Bus` per RS-485 bus and the device kinds, each in
its own module: `Keypads` (keys -> commands), `Displays` (events -> window displays), `Pads` (invitations,
ratings), `Tablets` (the tablet pads at `/pad/{window_id}`), `Printers` and `Voice`; device events go to the ledger through `DeviceRecords`. In the demo
(`--devices simulated`) it also runs the simulators, on loopback ports picked free at start-up, and stops
them with the server. docs/devices.md describes it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers.bus import BusTiming
from drivers.printer_sim import PrinterSimulator
from drivers.simulators import SimBus, SimDevice, SimDisplay, SimKeypad, SimPad
from drivers.voice import Sink
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.devices.buses import HUB_TIMING, Bus, Device
from hall_controller.features.devices.displays import Displays
from hall_controller.features.devices.keypads import Keypads
from hall_controller.features.devices.pads import Pads
from hall_controller.features.devices.printers import Printer, Printers
from hall_controller.features.devices.records import DeviceRecords
from hall_controller.features.devices.settings import SIM, DeviceSettings
from hall_controller.features.devices.tablets import Tablets
from hall_controller.features.devices.voice import Voice

log = logging.getLogger(__name__)

SIMULATORS: dict[str, type[SimDevice]] = {"keypad": SimKeypad, "display": SimDisplay, "pad": SimPad}
KIND_NAMES = {"keypad": "呼叫器", "display": "窗口屏", "pad": "评价器"}


def sim_device(kind: str, address: int) -> SimDevice:
    return SIMULATORS[kind](address)


class DeviceHub:
    """Every device of the hall. `mode`: "simulated" (demo), "config" (real ports only) or "none"."""

    def __init__(self, service: HallService, settings: DeviceSettings, *, mode: str, var_dir: Path,
                 sink: Sink | None = None, timing: BusTiming = HUB_TIMING):
        self.service, self.settings, self.mode, self.timing = service, settings, mode, timing
        self.records = DeviceRecords(service)
        self.keypads = Keypads(service)
        self.displays = Displays(service)
        self.pads = Pads(service)
        self.tablets = Tablets(service)  # /pad/{window_id}: served whatever the devices mode
        self.printers = Printers(service, self.records, settings.printer_status_interval_s)
        self.voice = Voice(service, settings.voice, Path(var_dir), sink)
        self.buses: dict[str, Bus] = {}
        self._placed: dict[tuple[str, str], Device] = {}  # (kind, window id) -> the device
        self.reloads = 0  # restarts on new settings completed (a configuration version changed [devices])

    async def start(self) -> None:
        if self.mode == "none":
            return
        for spec in self.settings.buses:
            if not self._served(spec.port, f"bus {spec.id}: port"):
                continue
            sim = None
            if spec.port == SIM:
                sim = SimBus([sim_device(d.kind, d.address) for d in spec.devices], baudrate=spec.baud)
                await sim.serve_tcp("127.0.0.1")
            bus = Bus(spec, sim.url if sim else spec.port, sim, self.timing, clock=self.service.clock,
                      records=self.records, on_key=self.keypads.press, handled=self.keypads.handled,
                      on_rating=self.pads.rate, on_rating_timeout=self.pads.timed_out)
            self.buses[spec.id] = bus
            for device in bus.devices.values():
                self._placed[(device.kind, device.window_id)] = device
                if device.kind == "display":
                    self.displays.add(device)
                elif device.kind == "pad":
                    self.pads.add(device)
        for pspec in self.settings.printers:
            if not self._served(pspec.connection, f"printer {pspec.id}: connection"):
                continue
            psim = PrinterSimulator("127.0.0.1") if pspec.connection == SIM else None
            self.printers.add(Printer(pspec, psim.url if psim else pspec.connection, psim))
        await self.voice.start()
        self.displays.start()
        self.pads.start()
        for bus in self.buses.values():
            await bus.start()
        self.printers.start()

    async def reload(self, settings: DeviceSettings) -> None:
        """A new configuration version changed `[devices]`: every bus, printer and the voice restart on the new
        settings (buses and ports added or moved, display brightness, printer options, the voice's template).
        Keys pressed meanwhile are repeated by the keypads, which wait for an answer."""
        await self.stop()
        self.settings = settings
        self.buses, self._placed = {}, {}
        self.displays.clear()
        self.pads.clear()
        self.printers.clear(settings.printer_status_interval_s)
        self.voice.settings = settings.voice
        await self.start()
        self.reloads += 1

    async def stop(self) -> None:
        self.displays.stop()
        self.pads.stop()
        for bus in self.buses.values():
            await bus.stop()
        await self.printers.stop()
        await self.voice.stop()
        await self.records.flush()

    def _served(self, port: str, what: str) -> bool:
        """A "sim" port is served only in the demo: a real hall never gets a simulator by accident."""
        if port == SIM and self.mode != "simulated":
            log.warning("%s \"sim\" is only served with --devices simulated; skipped", what)
            return False
        return True

    async def print_ticket(self, printer_id: str, ticket_view: dict[str, Any]) -> dict[str, Any]:
        """Prints a committed ticket (the kiosk's way to `Printers.print_ticket`)."""
        return await self.printers.print_ticket(printer_id, ticket_view)

    def snapshot(self) -> dict[str, Any]:
        now = self.service.clock.now()
        return {
            "mode": self.mode,
            "devices": [view for bus in self.buses.values() for view in bus.device_views(now)],
            "buses": [bus.view() for bus in self.buses.values()],
            "printers": self.printers.view(),
            "voice": self.voice.view(),
        }

    def simulator(self, kind: str, window_id: str) -> SimDevice:
        """The demo's simulated keypad, display or pad of a window."""
        device = self._placed.get((kind, window_id))
        if self.mode != "simulated" or device is None or device.bus.sim is None:
            raise HallError("no_simulator", f"{window_id} 号窗口没有模拟{KIND_NAMES[kind]}。", 404)
        return device.bus.sim[device.address]
