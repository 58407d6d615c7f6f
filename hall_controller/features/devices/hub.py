"""The hall's devices in the running controller: keypads, window displays, pads, printers and the voice.

`DeviceHub` (one per app, `app.state.devices`) holds one coordinator per bus and per printer, in the
Home Assistant way. It turns keypad keys into service commands, keeps every window display in step with
the hall's events, invites the window's pad when a service is finished and stores the rating before the
pad is acknowledged, announces calls through one `Announcer`, and records device online/offline and
printer status as events. In the demo (`--devices simulated`) it also runs the simulators, on loopback
ports picked free at start-up, and stops them with the server. docs/devices.md describes it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.bus import BusMaster, BusTiming
from drivers.printer import (
    PrinterStatus,
    PrintResult,
    TicketPrint,
    TicketPrinter,
    demo_ticket,
)
from drivers.printer_sim import PrinterSimulator
from drivers.protocol import (
    DeviceType,
    Invite,
    Key,
    KeyEvent,
    ProtocolError,
    Rating,
    RatingReason,
)
from drivers.simulators import SimBus, SimDevice, SimDisplay, SimKeypad, SimPad
from drivers.voice import (
    Announcer,
    AplaySink,
    Sink,
    Utterance,
    WavDirSink,
    has_sound_card,
    wav_seconds,
)
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.model import ticket_id_of
from hall_controller.core.service import SESSION_HOURS, HallService
from hall_controller.features.devices.settings import (
    SIM,
    BusSpec,
    DeviceSettings,
    PrinterSpec,
    VoiceSettings,
)
from hall_controller.features.ratings.service import record_rating
from hall_controller.features.ratings.service import rules as rating_rules

log = logging.getLogger(__name__)

KINDS = {"keypad": DeviceType.KEYPAD, "display": DeviceType.DISPLAY, "pad": DeviceType.PAD}
LCD_BYTES = 64  # drivers.protocol.LCD_MAX
LINE_BYTES = 48  # drivers.protocol.DISPLAY_LINE_MAX
PAD_NAME_BYTES = 24
RATING_TIMEOUT_S = 60
# A pad's reason button -> the hall's 差评 reason code (hall_controller.ratings); a reason with no counterpart
# (or one the hall's [ratings] list lacks) is left out: the rating itself is never refused for it.
REASON_CODES = {
    RatingReason.ATTITUDE: "attitude", RatingReason.SLOW: "slow", RatingReason.UNSKILLED: "unclear",
    RatingReason.REPEATED_VISITS: "not_once",
}
# Keypads are polled as often as the line allows (a 9600-baud poll round trip is ~20 ms, so 4 keypads on a
# bus are each asked every ~80 ms); a pad awaiting a rating can wait half a second, a person is slower.
# bench/devices.py measures what this gives.
HUB_TIMING = BusTiming(keypad_idle_poll=0.06, keypad_active_poll=0.03, pad_poll=0.5)

def fit(text: str, max_bytes: int) -> str:
    """Cut text to what a device shows (GBK bytes); characters outside GBK become "?"."""
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


def window_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 4, 7] -> "1–4、7"."""
    parts: list[str] = []
    for n in sorted(set(numbers)):
        if parts and parts[-1][1] == n - 1:
            parts[-1] = (parts[-1][0], n)
        else:
            parts.append((n, n))
    return "、".join(f"{a}–{b}" if b > a + 1 else (f"{a}、{b}" if b == a + 1 else f"{a}") for a, b in parts)


class BoundedWavSink(WavDirSink):
    """WAV files for machines without sound, keeping only the newest `keep` so the disk never fills.

    It stands in for the hall's speaker, so it takes the utterance's airtime as the speaker would (as
    `aplay` blocks): the announcer's backlog, merged recalls and dropped repeats then behave as in the
    hall, and speech is synthesised at the pace it can be heard, not as fast as calls come."""

    def __init__(self, directory: Path, keep: int) -> None:
        super().__init__(directory)
        self.keep = keep
        self._stopped = threading.Event()

    def play(self, utterance: Utterance, wav: bytes) -> None:
        super().play(utterance, wav)
        files = sorted(self.directory.glob("*.wav"), key=lambda p: p.stat().st_mtime_ns)
        for old in files[: -self.keep]:
            old.unlink(missing_ok=True)
        self._stopped.wait(wav_seconds(wav))

    def stop(self) -> None:
        """Cut the airtime short: the controller is shutting down."""
        self._stopped.set()


@dataclass(frozen=True)
class KeypadSession:
    staff_id: str
    signed_in_at: str  # the window's signed_in_at (ISO) when the PIN was entered on the keypad
    expires_at: str


@dataclass
class DeviceStatus:
    online: bool | None = None
    changed_at: datetime | None = None


class BusCoordinator:
    """One bus: its master, its simulator in the demo, and which window each device belongs to."""

    def __init__(self, hub: DeviceHub, spec: BusSpec, url: str, sim: SimBus | None):
        self.hub, self.spec, self.url, self.sim = hub, spec, url, sim
        self.devices = {d.address: d for d in spec.devices}
        self.status = {d.address: DeviceStatus() for d in spec.devices}
        ledger = hub.service.ledger
        ids = {self.device_id(a): a for a in self.devices}
        self.sessions: dict[int, KeypadSession] = {  # keypad address -> the PIN sign-in made on it
            ids[r[0]]: KeypadSession(*r[1:]) for r in ledger.query(
                "SELECT device_id, staff_id, signed_in_at, expires_at FROM keypad_sessions") if r[0] in ids}
        handled = {ids[r[0]]: (r[1], bool(r[2])) for r in ledger.query(
            "SELECT device_id, event_id, accepted FROM device_events") if r[0] in ids}
        self.invited: dict[int, OrderedDict[str, str]] = {}  # pad address -> ticket number -> ticket id
        self.master = BusMaster(
            url, [(d.address, KINDS[d.kind]) for d in spec.devices],
            on_key=self._on_key, on_rating=self._on_rating, on_rating_timeout=self._on_rating_timeout,
            on_device_state=self._on_device_state, timing=replace(hub.timing, baudrate=spec.baud), handled=handled,
        )

    def device_id(self, address: int) -> str:
        return f"{self.spec.id}:{address}"

    async def _on_key(self, address: int, event: KeyEvent, event_id: int) -> str:
        return fit(self.hub.keypad_event(self, address, event, event_id), LCD_BYTES)

    async def _on_rating(self, address: int, rating: Rating) -> None:
        await self.hub.store_rating(self, address, rating)

    async def _on_rating_timeout(self, address: int, ticket: str) -> None:
        self.invited.get(address, OrderedDict()).pop(ticket, None)
        log.info("pad %s: %s left without rating", self.device_id(address), ticket)

    def _on_device_state(self, address: int, online: bool) -> None:
        self.hub.device_state(self, address, online)


class PrinterCoordinator:
    """One printer: a blocking client behind its own single-thread executor, and its last status."""

    def __init__(self, spec: PrinterSpec, url: str, sim: PrinterSimulator | None):
        self.spec, self.url, self.sim = spec, url, sim
        self.printer = TicketPrinter(url, status_query=spec.status)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"printer-{spec.id}")
        self.status: PrinterStatus | None = None
        self.checked_at: datetime | None = None

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        self.executor.submit(self.printer.close)
        self.executor.shutdown(wait=True)
        if self.sim is not None:
            self.sim.unplug()


class DeviceHub:
    """Every device of the hall. `mode`: "simulated" (demo), "config" (real ports only) or "none"."""

    def __init__(self, service: HallService, settings: DeviceSettings, *, mode: str, var_dir: Path,
                 sink: Sink | None = None, timing: BusTiming = HUB_TIMING):
        self.service, self.settings, self.mode, self.var_dir = service, settings, mode, Path(var_dir)
        self.timing = timing
        self.buses: dict[str, BusCoordinator] = {}
        self.printers: dict[str, PrinterCoordinator] = {}
        self.announcer: Announcer | None = None
        self._sink = sink
        self._wav_sink: BoundedWavSink | None = None
        self._where: dict[tuple[str, str], tuple[BusCoordinator, int]] = {}  # (kind, window) -> device
        self._pending_events: list[tuple[str, dict[str, Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        service.bus.listen(self._on_hall_event)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if self.mode == "none":
            return
        for spec in self.settings.buses:
            sim = None
            if spec.port == SIM:
                if self.mode != "simulated":
                    log.warning("bus %s: port \"sim\" is only served with --devices simulated; skipped", spec.id)
                    continue
                sim = SimBus([_sim_device(d.kind, d.address) for d in spec.devices], baudrate=spec.baud)
                await sim.serve_tcp("127.0.0.1")
            bus = BusCoordinator(self, spec, sim.url if sim else spec.port, sim)
            self.buses[spec.id] = bus
            for d in spec.devices:
                self._where[(d.kind, d.window_id)] = (bus, d.address)
                if d.brightness is not None:  # the master keeps it and sends it again after a reconnect
                    bus.master.set_brightness(d.address, d.brightness)
        for pspec in self.settings.printers:
            psim = None
            if pspec.connection == SIM:
                if self.mode != "simulated":
                    log.warning("printer %s: connection \"sim\" is only served with --devices simulated; skipped", pspec.id)
                    continue
                psim = PrinterSimulator("127.0.0.1")
            self.printers[pspec.id] = PrinterCoordinator(pspec, psim.url if psim else pspec.connection, psim)
        self.announcer = await self._start_announcer(self.settings.voice)
        self._running = True
        for window in self.service.config.windows:
            self._refresh_display(window.id)
        for bus in self.buses.values():
            await bus.master.start()
        self._tasks = [asyncio.create_task(self._watch_printers(), name="printer status")]

    async def stop(self) -> None:
        self._running = False  # the shutdown itself is not a device going offline
        for task in self._tasks:
            task.cancel()
        for bus in self.buses.values():
            await bus.master.stop()
            if bus.sim is not None:
                await bus.sim.close()
        for printer in self.printers.values():
            await asyncio.to_thread(printer.close)
        if self._wav_sink is not None:
            self._wav_sink.stop()
        if self.announcer is not None:
            await self.announcer.close()
        self._flush_events()

    async def _start_announcer(self, voice: VoiceSettings) -> Announcer | None:
        sink = self._sink
        if sink is None:
            if not voice.enabled or voice.output == "none":
                return None
            wav_dir = Path(voice.wav_dir) if voice.wav_dir else self.var_dir / "voice"
            if voice.output == "auto" and await asyncio.to_thread(has_sound_card):
                sink = AplaySink()
            else:
                sink = self._wav_sink = BoundedWavSink(wav_dir, voice.keep_wav_files)
        announcer = Announcer(sink, template=voice.template, repeats=voice.repeats, max_backlog=voice.max_backlog,
                              segmented=voice.segmented)
        await announcer.start()
        return announcer

    # ------------------------------------------------------------------ hall events -> devices

    def _on_hall_event(self, event: dict[str, Any]) -> None:
        if not self._running or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._handle(event)
        else:  # a command executed off the loop: device state belongs to the loop thread
            self._loop.call_soon_threadsafe(self._handle, event)

    def _handle(self, event: dict[str, Any]) -> None:
        if not self._running:
            return
        kind, data = event["type"], event["data"]
        if kind in ("ticket.called", "ticket.recalled") and self.announcer is not None and data.get("window_number"):
            ticket = data["ticket"]
            try:
                self.announcer.announce(ticket["number"], data["window_number"], key=ticket["id"])
            except (ValueError, RuntimeError) as e:
                log.error("cannot announce %s: %s", ticket["number"], e)
        if kind == "ticket.finished":
            self._invite(data)
        for window_id in {data.get("window_id"), data.get("from_window_id")} - {None}:
            self._refresh_display(window_id)

    def display_state(self, window_id: str) -> tuple[tuple[str, ...], bool]:
        """What a window display shows: the current number and call, the staff; blank when nobody is in."""
        view = self.service.window_view(window_id)
        staff = view["staff"]
        if staff is None or view["state"] in ("signed_out", "closed"):
            return (), False
        ticket = view["ticket"]
        if ticket is not None:
            # Short: every byte is 1 ms on the line between the key and the display. The display hangs
            # over its own window, so the number and who serves there say it all.
            lines = (ticket["number"], staff["name"])
        else:
            lines = (view["name"], f"{staff['name']} 工号 {staff['id']}")
        return tuple(fit(line, LINE_BYTES) for line in lines), view["state"] == "paused"

    def _refresh_display(self, window_id: str) -> None:
        where = self._where.get(("display", window_id))
        if where is None or self.service.config.window(window_id) is None:
            return
        bus, address = where
        lines, paused = self.display_state(window_id)
        try:
            bus.master.set_display(address, lines, paused)
        except ProtocolError as e:
            log.error("display %s: %s", bus.device_id(address), e)

    def _invite(self, data: dict[str, Any]) -> None:
        window_id, ticket = data.get("window_id"), data["ticket"]
        where = self._where.get(("pad", window_id))
        if where is None or not ticket.get("staff_id"):
            return
        bus, address = where
        staff = self.service.config.staff_member(ticket["staff_id"])
        try:
            invite = Invite(ticket["number"], data["window_number"], ticket["staff_id"],
                            fit(staff.name if staff else "", PAD_NAME_BYTES), RATING_TIMEOUT_S)
        except ProtocolError as e:
            log.error("pad %s: cannot invite %s: %s", bus.device_id(address), ticket["number"], e)
            return
        invited = bus.invited.setdefault(address, OrderedDict())
        invited[ticket["number"]] = ticket["id"]
        while len(invited) > 20:
            invited.popitem(last=False)
        bus.master.invite_rating(address, invite)

    # ------------------------------------------------------------------ keypads and pads -> hall

    def keypad_event(self, bus: BusCoordinator, address: int, event: KeyEvent, event_id: int) -> str:
        """Carries out a keypad's event and returns the LCD reply (a refusal's reason included). Its id and
        verdict commit with the action; an event that acts on nothing gets them committed on their own."""
        row = {"device_id": bus.device_id(address), "event_id": event_id, "accepted": 1,
               "at": self.service.clock.now().isoformat()}
        with self.service.riding(lambda d: d.rows.append(("device_events", row))) as riders:
            try:
                text = self.keypad_action(bus, address, event, riders)
            except HallError as e:
                text = e.message
            except Exception:
                row["accepted"] = 0  # the bus refuses it: so does the remembered verdict
                self._remember(row)
                raise
        if riders:
            self._remember(row)
        return text

    def _remember(self, row: dict[str, Any]) -> None:
        try:
            with self.service.riding():
                self.service.write_rows([("device_events", row)])
        except HallError as e:
            log.error("keypad event %s not recorded: %s", row["device_id"], e.message)

    def keypad_action(self, bus: BusCoordinator, address: int, event: KeyEvent,
                      riders: list[Callable[[Decision], None]]) -> str:
        """Carries out one key on the keypad's own window; returns the LCD reply. Raises HallError. `riders`
        go with the command that commits: the event's own row, and here a sign-in's keypad session."""
        svc, window_id = self.service, bus.devices[address].window_id
        device_id = bus.device_id(address)
        if event.key is Key.SIGN_IN:
            session: dict[str, Any] = {"device_id": device_id, "window_id": window_id}

            def keypad_session(d: Decision) -> None:
                session.update(staff_id=d.result.staff_id, signed_in_at=d.result.signed_in_at.isoformat(),
                               expires_at=(svc.clock.now() + timedelta(hours=SESSION_HOURS)).isoformat())
                d.rows.append(("keypad_sessions", session))

            riders.append(keypad_session)
            signed = svc.sign_in(window_id, event.staff_id or "", event.pin or "")
            bus.sessions[address] = KeypadSession(session["staff_id"], session["signed_in_at"], session["expires_at"])
            return f"签到成功\n{signed['window']['staff']['name']}"
        self._authorise(bus.sessions.get(address), window_id)  # trusted only after a PIN sign-in on this keypad
        key = event.key
        if key is Key.CALL_NEXT:
            return self._call_next(window_id)
        if key is Key.NEXT:
            done = ""
            if svc.hall.windows[window_id].ticket_id is not None:
                # the event's row rides with the call, the last step: after a restart between the two, the
                # re-reported NEXT finds nobody at the window and only calls
                with svc.riding():
                    t = svc.window_command(window_id, "finish", outcome=event.outcome.code if event.outcome else None)
                done = f"已办结 {t.number}\n"
            return done + self._call_next(window_id)
        if key is Key.FINISH:
            t = svc.window_command(window_id, "finish", outcome=event.outcome.code if event.outcome else None)
            return f"已办结 {t.number}"
        if key is Key.RECALL:
            return f"已重呼 {svc.window_command(window_id, 'recall').number}"
        if key is Key.SKIP:
            return f"已过号 {svc.window_command(window_id, 'skip').number}"
        if key is Key.TRANSFER:
            if event.category is not None:
                t = svc.window_command(window_id, "transfer", category_id=event.category)
                category = svc.config.category(event.category)
                return f"{t.number} 已转至{category.name if category else event.category}"
            target = next((w for w in svc.config.windows if w.number == event.window), None)
            if target is None:
                raise HallError("unknown_window", f"没有 {event.window} 号窗口")
            t = svc.window_command(window_id, "transfer", target_window_id=target.id)
            return f"{t.number} 已转至{target.number}号窗口"
        if key is Key.PAUSE:
            svc.window_command(window_id, "pause")
            return "已暂停服务"
        if key is Key.RESUME:
            svc.window_command(window_id, "resume")
            return "已恢复服务"
        assert key is Key.SIGN_OUT
        svc.window_command(window_id, "sign-out")
        bus.sessions.pop(address, None)
        return "已签离"

    def _authorise(self, session: KeypadSession | None, window_id: str) -> None:
        if session is None:
            raise HallError("unauthorised", "请先在窗口签到。", 401)
        self.service.check_sign_in(session.staff_id, session.signed_in_at, session.expires_at, window_id)

    def _call_next(self, window_id: str) -> str:
        t = self.service.window_command(window_id, "call-next")
        return "暂无等候" if t is None else f"已呼叫 {t.number}"

    async def store_rating(self, bus: BusCoordinator, address: int, rating: Rating) -> None:
        """Stores a pad's rating; raising leaves it unacknowledged, so the pad reports it again."""
        ticket_id = bus.invited.get(address, OrderedDict()).get(rating.ticket) or self._ticket_by_number(
            rating.ticket, bus.devices[address].window_id)
        if ticket_id is None:
            log.warning("pad %s rated %s, which it was never asked about; ignored", bus.device_id(address), rating.ticket)
            return
        code = REASON_CODES.get(rating.reason)
        reasons = [code] if code in rating_rules(self.service.config).reasons else []
        try:
            record_rating(self.service, ticket_id=ticket_id, level=rating.level, channel="pad", reasons=reasons)
        except HallError as e:
            if e.status >= 500:
                raise  # storage trouble: keep the rating on the pad until it can be stored
            log.warning("pad %s: rating for %s refused: %s", bus.device_id(address), ticket_id, e.message)
        bus.invited.get(address, OrderedDict()).pop(rating.ticket, None)

    def _ticket_by_number(self, number: str, window_id: str) -> str | None:
        """After a restart the invitation map is gone: today's ticket with that number served here."""
        day = self.service.day
        t = self.service.hall.tickets.get(ticket_id_of(day, number))
        return t.id if t is not None and t.window_id == window_id else None

    # ------------------------------------------------------------------ device state -> ledger

    def device_state(self, bus: BusCoordinator, address: int, online: bool) -> None:
        if not self._running:
            return
        status = bus.status[address]
        status.online, status.changed_at = online, self.service.clock.now()
        spec = bus.devices[address]
        self._record("device.online" if online else "device.offline", {
            "device_id": bus.device_id(address), "kind": spec.kind, "window_id": spec.window_id, "bus": bus.spec.id})

    def _record(self, type_: str, data: dict[str, Any]) -> None:
        """Queues an event; those of one loop turn (a whole bus going offline) commit as one transaction."""
        if not self._pending_events and self._loop is not None:
            self._loop.call_soon(self._flush_events)
        self._pending_events.append((type_, data))

    def _flush_events(self) -> None:
        events, self._pending_events = self._pending_events, []
        if not events:
            return
        try:
            self.service.execute(lambda now: Decision(events=events))
        except HallError as e:
            log.error("device events not recorded: %s", e.message)

    # ------------------------------------------------------------------ printers

    async def _watch_printers(self) -> None:
        while True:
            for printer in list(self.printers.values()):
                self._printer_status(printer, await printer.run(printer.printer.status))
            await asyncio.sleep(self.settings.printer_status_interval_s)

    def _printer_status(self, printer: PrinterCoordinator, status: PrinterStatus) -> None:
        before = printer.status
        printer.status, printer.checked_at = status, self.service.clock.now()
        if before is None or (before.paper, before.online) != (status.paper, status.online):
            self._record("printer.status", {"printer_id": printer.spec.id, "paper": status.paper,
                                            "online": status.online, "error": status.error})

    def printer(self, printer_id: str) -> PrinterCoordinator:
        printer = self.printers.get(printer_id)
        if printer is None:
            raise HallError("unknown_printer", f"未找到打印机：{printer_id}", 404)
        return printer

    async def print_ticket(self, printer_id: str, ticket_view: dict[str, Any]) -> dict[str, Any]:
        """Prints a committed ticket. Never raises for device trouble: the kiosk shows the result instead."""
        printer = self.printer(printer_id)
        return self._result(printer, await printer.run(printer.printer.print_ticket, self.ticket_print(printer.spec, ticket_view)))

    async def test_print(self, printer_id: str, by: str) -> dict[str, Any]:
        printer = self.printer(printer_id)
        page = replace(demo_ticket(printer.spec.paper_width), hall_name=self.service.config.name,
                       issued_at=self.service.clock.now(), service_name="打印机测试页")
        result = self._result(printer, await printer.run(printer.printer.print_ticket, page))
        self._record("printer.test_printed", {"printer_id": printer_id, "by": by, **result})
        self._flush_events()
        return result

    def _result(self, printer: PrinterCoordinator, result: PrintResult) -> dict[str, Any]:
        if result.status is not None:
            self._printer_status(printer, result.status)
        return {"ok": result.ok, "code": result.code, "message": result.message}

    def ticket_print(self, spec: PrinterSpec, view: dict[str, Any]) -> TicketPrint:
        cfg = self.service.config
        svc = cfg.service(view["service_id"])
        priority = cfg.priority(view["priority"]) if view.get("priority") else None
        ticket = self.service.hall.tickets.get(view["id"])
        numbers = [cfg.window(w).number for w in self.service.hall.windows_serving(ticket)] if ticket else []
        return TicketPrint(
            hall_name=cfg.name,
            number=view["number"],
            service_name=view.get("service_name") or (svc.name if svc else view["service_id"]),
            category_name=view.get("category_name", ""),
            issued_at=datetime.fromisoformat(view["issued_at"]),
            ahead=int(view.get("ahead", 0)),
            estimated_wait_s=int(view.get("estimated_wait_s", 0)),
            status_url=view.get("status_url", ""),
            materials=[(m.name, m.required) for m in svc.materials] if svc and spec.material_checklist else [],
            priority_label=priority.name if priority else None,
            window_hint=f"请留意 {window_ranges(numbers)} 号窗口" if numbers else None,
            paper_width=spec.paper_width,
        )

    # ------------------------------------------------------------------ views

    def snapshot(self) -> dict[str, Any]:
        now = self.service.clock.now()
        devices = []
        for bus in self.buses.values():
            for address, spec in bus.devices.items():
                status = bus.status[address]
                seen = now if status.online else status.changed_at
                devices.append({"id": bus.device_id(address), "bus": bus.spec.id, "address": address,
                                "kind": spec.kind, "window_id": spec.window_id, "online": status.online,
                                "last_seen": seen.isoformat() if seen else None})
        return {
            "mode": self.mode,
            "devices": devices,
            "buses": [self._bus_view(b) for b in self.buses.values()],
            "printers": [self._printer_view(p) for p in self.printers.values()],
            "voice": self._voice_view(),
        }

    @staticmethod
    def _bus_view(bus: BusCoordinator) -> dict[str, Any]:
        s = bus.master.stats
        return {"id": bus.spec.id, "port": bus.url, "baud": bus.spec.baud, "simulated": bus.sim is not None,
                "devices": len(bus.devices),
                "stats": {"frames_ok": s.parser.frames_ok, "crc_errors": s.parser.crc_errors, "retries": s.retries,
                          "timeouts": s.timeouts, "failed": s.failed, "requests": s.requests,
                          "stale_frames": s.stale_frames, "duplicate_events": s.duplicate_events, "opens": s.opens}}

    @staticmethod
    def _printer_view(p: PrinterCoordinator) -> dict[str, Any]:
        st = p.status
        return {"id": p.spec.id, "connection": p.url, "simulated": p.sim is not None, "paper_width": p.spec.paper_width,
                "paper": st.paper if st else "unknown", "online": st.online if st else None,
                "error": st.error if st else None, "checked_at": p.checked_at.isoformat() if p.checked_at else None}

    def _voice_view(self) -> dict[str, Any]:
        if self.announcer is None:
            return {"enabled": False}
        s = self.announcer.stats
        return {"enabled": True, "queued": s.queued, "spoken": s.spoken, "merged": s.merged,
                "dropped_repeats": s.dropped_repeats, "failed": s.failed, "last_error": s.last_error}

    # ------------------------------------------------------------------ simulators (demo)

    def simulator(self, kind: str, window_id: str) -> SimDevice:
        where = self._where.get((kind, window_id))
        if self.mode != "simulated" or where is None or where[0].sim is None:
            raise HallError("no_simulator", f"{window_id} 号窗口没有模拟{_KIND_NAMES[kind]}。", 404)
        bus, address = where
        return bus.sim[address]


_KIND_NAMES = {"keypad": "呼叫器", "display": "窗口屏", "pad": "评价器"}


def _sim_device(kind: str, address: int) -> SimDevice:
    return {"keypad": SimKeypad, "display": SimDisplay, "pad": SimPad}[kind](address)
