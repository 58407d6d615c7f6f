"""The `[devices]` config section: device buses, ticket printers and the voice.

Parsed once at load, validated against the windows of the hall; `service.config.section("devices")`
returns a `DeviceSettings`. docs/devices.md describes the keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from drivers.printer import STATUS_QUERIES, StatusQuery, parse_spec
from drivers.voice import DEFAULT_TEMPLATE, phrase_pieces
from hall_controller.config_loader import Table
from hall_controller.core.settings import HallConfig
from hall_controller.http.issuing import configured_key_hash

SIM = "sim"  # a port or printer connection served by an in-process simulator
KINDS = ("keypad", "display", "pad")
OUTPUTS = ("auto", "wav", "none")
MAX_DEVICES_PER_BUS = 32  # what the bench measures; the notes advise ≤ 8–12 polled devices at 9600 baud
_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
_SOCKET = re.compile(r"socket://[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


@dataclass(frozen=True)
class DeviceSpec:
    address: int  # 1..247 on its bus
    kind: Literal["keypad", "display", "pad"]
    window_id: str
    brightness: int | None = None  # displays only: percent, sent at start and after every reconnect


@dataclass(frozen=True)
class BusSpec:
    id: str
    port: str  # "sim", "/dev/serial/by-id/...", a pty path, or "socket://host:port"
    baud: int
    devices: tuple[DeviceSpec, ...]


@dataclass(frozen=True)
class PrinterSpec:
    id: str
    connection: str  # "sim" or a drivers.printer connection spec
    paper_width: Literal[80, 58]
    material_checklist: bool  # print the service's 一次性告知 list on the ticket
    status: StatusQuery = "auto"  # how its paper state is asked: DLE EOT, GS r 1, or GS r 1 when DLE EOT is silent


@dataclass(frozen=True)
class TabletSpec:
    """A tablet evaluation pad (平板评价器) at a window, `/pad/{window_id}`, and its key's hash ("" = none yet:
    it is refused until provisioned with `hall-controller pad-key`)."""

    window_id: str
    key_hash: str


@dataclass(frozen=True)
class VoiceZone:
    """A speaker zone (广播分区): the windows whose calls it says, on its own announcer and speaker."""

    id: str
    windows: tuple[str, ...] = ()  # window ids; () = every window no other zone lists
    device: str = ""  # ALSA device for `aplay -D` ("" = the default card)


@dataclass(frozen=True)
class VoiceSettings:
    enabled: bool = True
    repeats: int = 2
    template: str = DEFAULT_TEMPLATE
    output: Literal["auto", "wav", "none"] = "auto"  # auto = the sound card, or WAV files without one
    wav_dir: str = ""  # "" = <var_dir>/voice
    keep_wav_files: int = 200  # older WAV files are deleted so a long day cannot fill the disk
    segmented: bool = False  # calls assembled from pieces synthesised at start-up (docs/voice.md)
    max_backlog: int = 6  # queued utterances above which queued repeats are dropped
    max_delay_s: float = 30.0  # call -> audio start bound: a call that cannot start by then is not said
    zones: tuple[VoiceZone, ...] = (VoiceZone("hall"),)  # one zone, one announcer, by default

    def zone_of(self, window_id: str) -> VoiceZone | None:
        listed = next((z for z in self.zones if window_id in z.windows), None)
        return listed or next((z for z in self.zones if not z.windows), None)


@dataclass(frozen=True)
class DeviceSettings:
    buses: tuple[BusSpec, ...] = ()
    printers: tuple[PrinterSpec, ...] = ()
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    printer_status_interval_s: float = 30.0
    tablets: tuple[TabletSpec, ...] = ()

    def printer(self, printer_id: str) -> PrinterSpec | None:
        return next((p for p in self.printers if p.id == printer_id), None)

    def tablet(self, window_id: str) -> TabletSpec | None:
        return next((t for t in self.tablets if t.window_id == window_id), None)


def parse(table: Table, core: HallConfig) -> DeviceSettings:
    t = Table(table.source, table.path, table.data, ("buses", "printers", "voice", "printer_status_interval_s", "tablets"))
    buses: list[BusSpec] = []
    taken: dict[tuple[str, str], str] = {}  # (window, kind) -> where it was configured
    for entry in t.tables("buses", ("id", "port", "baud", "devices")):
        bus = _bus(entry, core, taken)
        if any(b.id == bus.id for b in buses):
            entry.fail("id", f'duplicate bus id "{bus.id}"')
        buses.append(bus)
    printers: list[PrinterSpec] = []
    for entry in t.tables("printers", ("id", "connection", "paper_width", "material_checklist", "status")):
        printer = _printer(entry)
        if any(p.id == printer.id for p in printers):
            entry.fail("id", f'duplicate printer id "{printer.id}"')
        printers.append(printer)
    return DeviceSettings(
        buses=tuple(buses),
        printers=tuple(printers),
        voice=_voice(Table(t.source, t.at("voice"), t.raw("voice", {}),
                           ("enabled", "repeats", "template", "output", "wav_dir", "keep_wav_files",
                            "segmented", "max_backlog", "max_delay_s", "zones")), core),
        printer_status_interval_s=t.number("printer_status_interval_s", 30.0, positive=True, high=3600),
        tablets=_tablets(t, core),
    )


def _tablets(t: Table, core: HallConfig) -> tuple[TabletSpec, ...]:
    tablets: list[TabletSpec] = []
    for entry in t.tables("tablets", ("window", "key", "key_hash")):
        window = _window_id(entry, core)
        if any(x.window_id == window for x in tablets):
            entry.fail("window", f"window {window} already has a tablet pad", f"{window}号窗口已配置平板评价器")
        tablets.append(TabletSpec(window, configured_key_hash(entry, "pad-key")))
    return tuple(tablets)


def _window_id(entry: Table, core: HallConfig) -> str:
    """`window = "3"` or `window = 3`: a window of the hall."""
    window = entry.raw("window")
    if isinstance(window, int) and not isinstance(window, bool):
        window = str(window)
    if not isinstance(window, str) or core.window(window) is None:
        entry.fail("window", f"unknown window {window!r}; windows are: {', '.join(w.id for w in core.windows)}",
                   f"没有窗口「{window}」")
    return window


def _bus(entry: Table, core: HallConfig, taken: dict[tuple[str, str], str]) -> BusSpec:
    bus_id = entry.ident()
    entry.path = f"{entry.path.rsplit('[', 1)[0]}[id={bus_id}]"
    port = entry.text("port")
    if not (port == SIM or port.startswith("/") or _SOCKET.fullmatch(port)):
        entry.fail("port", f'must be "sim", a device path (/dev/serial/by-id/..., a pty) or socket://HOST:PORT, got "{port}"')
    baud = entry.integer("baud", 9600, low=1200, high=115200)
    if baud not in _BAUDS:
        entry.fail("baud", f"must be one of {', '.join(map(str, _BAUDS))}, got {baud}")
    devices: list[DeviceSpec] = []
    for d in entry.tables("devices", ("address", "kind", "window", "brightness"), required=True):
        address = d.integer("address", low=1, high=247)
        if any(x.address == address for x in devices):
            d.fail("address", f"address {address} is used twice on bus {bus_id}")
        kind = d.text("kind")
        if kind not in KINDS:
            d.fail("kind", f'must be one of {", ".join(KINDS)}, got "{kind}"')
        window = _window_id(d, core)
        if (window, kind) in taken:
            d.fail("window", f"window {window} already has a {kind} (at {taken[(window, kind)]})")
        taken[(window, kind)] = d.path
        brightness = None
        if d.raw("brightness", None) is not None:
            if kind != "display":
                d.fail("brightness", f"only a display has a brightness, not a {kind}")
            brightness = d.integer("brightness", low=0, high=100)
        devices.append(DeviceSpec(address, kind, window, brightness))  # type: ignore[arg-type]
    if not devices:
        entry.fail("devices", "must list at least one device")
    if len(devices) > MAX_DEVICES_PER_BUS:
        entry.fail("devices", f"{len(devices)} devices on one bus; at most {MAX_DEVICES_PER_BUS} (9600 baud: keep 8-12)")
    return BusSpec(bus_id, port, baud, tuple(devices))


def _printer(entry: Table) -> PrinterSpec:
    printer_id = entry.ident()
    entry.path = f"{entry.path.rsplit('[', 1)[0]}[id={printer_id}]"
    connection = entry.text("connection")
    if connection != SIM:
        try:
            parse_spec(connection)
        except ValueError as e:
            entry.fail("connection", f'{e}, or "sim"')
    width = entry.integer("paper_width", 80, low=58, high=80)
    if width not in (58, 80):
        entry.fail("paper_width", f"must be 80 or 58 (mm), got {width}")
    status = entry.text("status", "auto")
    if status not in STATUS_QUERIES:
        entry.fail("status", f'must be one of {", ".join(STATUS_QUERIES)}, got "{status}"')
    return PrinterSpec(printer_id, connection, width, entry.flag("material_checklist", True), status)  # type: ignore[arg-type]


def _voice(t: Table, core: HallConfig) -> VoiceSettings:
    template = t.text("template", DEFAULT_TEMPLATE)
    try:
        phrase_pieces("A001", 1, template)
    except (KeyError, ValueError, IndexError) as e:
        t.fail("template", f"must contain {{number}} and {{window}} and nothing else in braces ({e})")
    if "{number}" not in template or "{window}" not in template:
        t.fail("template", "must contain both {number} and {window}")
    output = t.text("output", "auto")
    if output not in OUTPUTS:
        t.fail("output", f'must be one of {", ".join(OUTPUTS)}, got "{output}"')
    return VoiceSettings(
        enabled=t.flag("enabled", True),
        repeats=t.integer("repeats", 2, low=1, high=5),
        template=template,
        output=output,  # type: ignore[arg-type]
        wav_dir=t.text("wav_dir", "", empty=True),
        keep_wav_files=t.integer("keep_wav_files", 200, low=1, high=100_000),
        segmented=t.flag("segmented", False),
        max_backlog=t.integer("max_backlog", 6, low=1, high=100),
        max_delay_s=t.number("max_delay_s", 30.0, positive=True, high=600),
        zones=_zones(t, core),
    )


def _zones(t: Table, core: HallConfig) -> tuple[VoiceZone, ...]:
    """`[[devices.voice.zones]]`: each window in at most one zone; at most one zone without `windows` (the
    rest); with none such, every window must be listed, so no call goes unsaid."""
    zones: list[VoiceZone] = []
    placed: dict[str, str] = {}
    for z in t.tables("zones", ("id", "windows", "device"), by_id=True):
        zid = z.ident()
        if any(o.id == zid for o in zones):
            z.fail("id", f'duplicate zone id "{zid}"')
        windows = [str(w) if isinstance(w, int) and not isinstance(w, bool) else w for w in z.items("windows", [])]
        for w in windows:
            if not isinstance(w, str) or core.window(w) is None:
                z.fail("windows", f"unknown window {w!r}; windows are: {', '.join(x.id for x in core.windows)}")
            if w in placed:
                z.fail("windows", f"window {w} is already in zone {placed[w]}")
            placed[w] = zid
        if not windows and any(not o.windows for o in zones):
            z.fail("windows", "only one zone may leave out windows (it takes every window no other zone lists)")
        zones.append(VoiceZone(zid, tuple(windows), z.text("device", "", empty=True)))
    if not zones:
        return VoiceSettings.zones
    if all(o.windows for o in zones):
        missing = [w.id for w in core.windows if w.id not in placed]
        if missing:
            t.fail("zones", f"windows {', '.join(missing)} are in no zone: list them, or add a zone without windows")
    return tuple(zones)

