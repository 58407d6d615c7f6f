"""Simulated keypads, window displays and evaluation pads sharing one bus, with fault injection.

A `SimBus` answers the master over `socket://127.0.0.1:<port>` (`serve_tcp`) or over one end of a socat
pty pair (`attach_serial`, `SocatPair`). It sleeps the line time of every frame (ptys and sockets do not),
so timing resembles 9600 baud. Tests and people drive it with `keypad.press(...)`, `pad.rate(...)` and
read `display.lines` / `display.history` or `await device.wait_for(...)`.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from serial_asyncio_fast import create_serial_connection

from drivers.protocol import (
    BROADCAST, Cmd, DeviceType, Frame, FrameParser, Identity, Invite, KeyEvent, Nak, NakReason, ProtocolError,
    Rating, RatingReason, decode_brightness, decode_display_text, decode_flag, decode_invite, decode_lcd,
    decode_nak, decode_poll, encode, encode_identity, encode_key_report, encode_nak, encode_rating_report,
    encode_timeout_report, line_time,
)

# ---------------------------------------------------------------- devices


class SimDevice:
    """Protocol behaviour common to every device: SEQ replay, IDENTIFY, POLL, NAK handling."""

    kind: DeviceType

    def __init__(self, address: int, firmware: str = "SIM-1.0"):
        if not 1 <= address <= 247:
            raise ValueError(f"device address must be 1..247: {address}")
        self.address = address
        self.firmware = firmware
        self.replayed = 0  # requests answered from the reply cache (a retry of the same SEQ)
        self._last_seq: int | None = None
        self._last_reply: Frame | None = None
        self._last_broadcast_seq: int | None = None
        self._changed = asyncio.Event()

    def handle(self, frame: Frame) -> Frame | None:
        """The reply to a request (None for a broadcast, which is never answered)."""
        if frame.addr == BROADCAST:
            if not (frame.seq and frame.seq == self._last_broadcast_seq):
                self._last_broadcast_seq = frame.seq
                self._act(frame)
            return None
        if frame.seq and frame.seq == self._last_seq and self._last_reply is not None:
            self.replayed += 1
            return self._last_reply
        reply = self._act(frame)
        # SEQ 0 is unsequenced: act every time and forget the previous SEQ
        self._last_seq, self._last_reply = (frame.seq, reply) if frame.seq else (None, None)
        return reply

    async def wait_for(self, predicate: Callable[[SimDevice], bool], timeout: float = 5.0) -> None:
        """Waits until predicate(self) holds; raises TimeoutError."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await self._changed.wait()

    def _act(self, frame: Frame) -> Frame:
        try:
            if frame.command == Cmd.IDENTIFY:
                return frame.reply(Cmd.IDENTIFY, encode_identity(Identity(self.kind, self.firmware)))
            if frame.command == Cmd.POLL:
                return self._poll(frame, decode_poll(frame.payload))
            if frame.command == Cmd.NAK:
                self._refused(decode_nak(frame.payload))
                return frame.reply(Cmd.ACK)
            handler = self._commands().get(frame.command)
            if handler is None:
                known = any(frame.command == c for c in Cmd)
                reason = NakReason.WRONG_DEVICE if known else NakReason.UNKNOWN_COMMAND
                return frame.reply(Cmd.NAK, encode_nak(Nak(reason)))
            handler(frame.payload)
            self._notify()
            return frame.reply(Cmd.ACK)
        except ProtocolError:
            return frame.reply(Cmd.NAK, encode_nak(Nak(NakReason.BAD_PAYLOAD)))

    def _commands(self) -> dict[int, Callable[[bytes], None]]:
        return {}

    def _poll(self, frame: Frame, ack: int) -> Frame:
        return frame.reply(Cmd.ACK)

    def _refused(self, nak: Nak) -> None:
        """The master refused something this device reported."""

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class _Reporter(SimDevice, ABC):
    """A device with events to report: the head of its queue is reported on every poll until acked."""

    def __init__(self, address: int, firmware: str = "SIM-1.0"):
        super().__init__(address, firmware)
        self._next_id = random.randrange(1, 0x10000)  # a random start: a power cycle never reuses the last id
        self.pending: list[tuple[int, object]] = []
        self.acked: list[tuple[int, object]] = []
        self.rejected: list[tuple[int, object]] = []

    def _report(self, body: object) -> int:
        event_id = self._next_id
        self._next_id = self._next_id % 0xFFFF + 1
        self.pending.append((event_id, body))
        self._notify()
        return event_id

    def _poll(self, frame: Frame, ack: int) -> Frame:
        if self.pending and self.pending[0][0] == ack:
            self.acked.append(self.pending.pop(0))
            self._notify()
        if not self.pending:
            return frame.reply(Cmd.ACK)
        return self._encode_report(frame, *self.pending[0])

    def _refused(self, nak: Nak) -> None:
        if self.pending and self.pending[0][0] == nak.event_id:
            self.rejected.append(self.pending.pop(0))
            self._notify()

    @abstractmethod
    def _encode_report(self, frame: Frame, event_id: int, body: object) -> Frame:
        """The reply frame reporting one queued event."""


class SimKeypad(_Reporter):
    kind = DeviceType.KEYPAD

    def __init__(self, address: int, firmware: str = "SIM-KP-1.0"):
        super().__init__(address, firmware)
        self.lcd = ""
        self.lcd_history: list[tuple[float, str]] = []

    def press(self, event: KeyEvent) -> int:
        """A staff member presses a key; returns the keypad's event id."""
        return self._report(event)

    def _encode_report(self, frame: Frame, event_id: int, body: object) -> Frame:
        assert isinstance(body, KeyEvent)
        return frame.reply(Cmd.KEY_EVENT, encode_key_report(event_id, body))

    def _commands(self) -> dict[int, Callable[[bytes], None]]:
        return {Cmd.KEYPAD_LCD: self._show}

    def _show(self, payload: bytes) -> None:
        self.lcd = decode_lcd(payload)
        self.lcd_history.append((time.monotonic(), self.lcd))


@dataclass(frozen=True)
class DisplaySnapshot:
    time: float  # time.monotonic()
    lines: tuple[str, ...]
    paused: bool
    brightness: int


class SimDisplay(SimDevice):
    kind = DeviceType.DISPLAY

    def __init__(self, address: int, firmware: str = "SIM-LED-1.0"):
        super().__init__(address, firmware)
        self.lines: tuple[str, ...] = ()
        self.paused = False
        self.brightness = 100
        self.history: list[DisplaySnapshot] = []  # one entry per command acted on

    def _commands(self) -> dict[int, Callable[[bytes], None]]:
        return {
            Cmd.DISPLAY_TEXT: lambda p: self._set(lines=decode_display_text(p)),
            Cmd.DISPLAY_CLEAR: self._clear,
            Cmd.DISPLAY_PAUSED: lambda p: self._set(paused=decode_flag(p)),
            Cmd.DISPLAY_BRIGHTNESS: lambda p: self._set(brightness=decode_brightness(p)),
        }

    def _clear(self, payload: bytes) -> None:
        if payload:
            raise ProtocolError("DISPLAY_CLEAR takes no payload")
        self._set(lines=())

    def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.history.append(DisplaySnapshot(time.monotonic(), self.lines, self.paused, self.brightness))


class SimPad(_Reporter):
    """An evaluation pad: shows an invitation, reports a rating or a timeout."""

    kind = DeviceType.PAD

    def __init__(self, address: int, firmware: str = "SIM-PAD-1.0"):
        super().__init__(address, firmware)
        self.invite: Invite | None = None
        self._expires = 0.0

    def rate(self, level: int, reason: RatingReason | None = None) -> int:
        """The citizen taps a level (1 非常满意 … 5 非常不满意); returns the event id."""
        if self.invite is None:
            raise RuntimeError(f"pad {self.address} has no invitation to rate")
        rating = Rating(self.invite.ticket, level, reason or RatingReason.NONE)
        self.invite = None
        return self._report(rating)

    def expire(self) -> int:
        """The citizen walks away: report the invitation as timed out now."""
        if self.invite is None:
            raise RuntimeError(f"pad {self.address} has no invitation")
        ticket, self.invite = self.invite.ticket, None
        return self._report(ticket)

    def _commands(self) -> dict[int, Callable[[bytes], None]]:
        return {Cmd.PAD_INVITE: self._invited, Cmd.PAD_CANCEL: self._cancel}

    def _invited(self, payload: bytes) -> None:
        invite = decode_invite(payload)
        # a re-sent invitation (after a reconnect) must not reopen a ticket already rated or shown
        reported = {getattr(body, "ticket", body) for _, body in self.pending}
        if invite.ticket in reported:
            return
        if self.invite is not None and self.invite.ticket == invite.ticket:
            # the same invitation: only its 办件 lines may be new (the business system named it later)
            self.invite = replace(self.invite, application=invite.application, matter=invite.matter)
            return
        self.invite = invite
        self._expires = time.monotonic() + invite.timeout_s

    def _cancel(self, payload: bytes) -> None:
        if payload:
            raise ProtocolError("PAD_CANCEL takes no payload")
        self.invite = None

    def _poll(self, frame: Frame, ack: int) -> Frame:
        if self.invite is not None and time.monotonic() >= self._expires:
            self.expire()
        return super()._poll(frame, ack)

    def _encode_report(self, frame: Frame, event_id: int, body: object) -> Frame:
        if isinstance(body, Rating):
            return frame.reply(Cmd.PAD_RESULT, encode_rating_report(event_id, body))
        assert isinstance(body, str)
        return frame.reply(Cmd.PAD_TIMEOUT, encode_timeout_report(event_id, body))


# ---------------------------------------------------------------- faults


class Fault(Enum):
    DEAF = "deaf"  # the request is not heard: the device does not act
    DROP = "drop"  # the reply is lost (the device did act)
    CORRUPT = "corrupt"  # one reply byte flipped: CRC fails
    GARBLE = "garble"  # reply payload truncated (or padded) with a valid CRC: a malformed payload
    LATE = "late"  # the reply comes after the master has given up
    DUPLICATE = "duplicate"  # the reply is sent twice
    SPLIT = "split"  # the reply is written in small pieces
    NOISE = "noise"  # line noise, including false headers, precedes the reply


@dataclass
class FaultRule:
    kind: Fault
    count: int | None = 1  # how many more times it fires; None = for ever
    match: Callable[[Frame], bool] | None = None  # DEAF sees the request, the others the reply
    probability: float = 1.0
    fired: int = 0


# ---------------------------------------------------------------- the bus


class _SimLink(asyncio.Protocol):
    def __init__(self, bus: SimBus):
        self._bus = bus
        self.transport: asyncio.WriteTransport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        self._bus._connected(self)

    def data_received(self, data: bytes) -> None:
        self._bus._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._bus._disconnected(self)
        if not self.lost.done():
            self.lost.set_result(None)


class SimBus:
    """Several simulated devices on one line, answering one master."""

    def __init__(
        self,
        devices: Iterable[SimDevice],
        *,
        baudrate: int = 9600,
        line_timing: bool = True,
        late_by: float = 0.5,
        seed: int | None = None,
    ):
        self.devices: dict[int, SimDevice] = {}
        for dev in devices:
            if dev.address in self.devices:
                raise ValueError(f"two devices at address {dev.address}")
            self.devices[dev.address] = dev
        self.baudrate = baudrate
        self.line_timing = line_timing
        self.late_by = late_by
        self.parser = FrameParser()
        self.faults: list[FaultRule] = []
        self.port: int | None = None
        self._random = random.Random(seed)
        self._link: _SimLink | None = None
        self._inbox: asyncio.Queue[Frame] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._serial_task: asyncio.Task[None] | None = None

    def __getitem__(self, address: int) -> SimDevice:
        return self.devices[address]

    # ------------------------------------------------------------ faults

    def inject(
        self,
        kind: Fault,
        count: int | None = 1,
        match: Callable[[Frame], bool] | None = None,
        probability: float = 1.0,
    ) -> FaultRule:
        rule = FaultRule(kind, count, match, probability)
        self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        self.faults.clear()

    def _fires(self, kind: Fault, frame: Frame) -> bool:
        for rule in self.faults:
            if rule.kind is not kind or rule.count == 0 or (rule.match and not rule.match(frame)):
                continue
            if self._random.random() >= rule.probability:
                continue
            rule.fired += 1
            if rule.count is not None:
                rule.count -= 1
            return True
        return False

    # ------------------------------------------------------------ transports

    async def serve_tcp(self, host: str = "127.0.0.1", port: int | None = None) -> int:
        """Listens for the master; returns the port (a free one the first time, the same one after)."""
        self._start_worker()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _SimLink(self), host, port if port is not None else self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        """The URL the master opens to reach this bus over TCP."""
        return f"socket://127.0.0.1:{self.port}"

    async def attach_serial(self, url: str) -> None:
        """Serves on a serial port or pty; reopens it whenever it vanishes until `close`."""
        self._start_worker()
        self._serial_task = asyncio.create_task(self._serial_loop(url))

    async def _serial_loop(self, url: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            link = _SimLink(self)
            try:
                await create_serial_connection(loop, lambda: link, url, baudrate=self.baudrate)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            await link.lost

    async def unplug(self) -> None:
        """Over TCP: stop listening and drop the master's connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._link is not None and self._link.transport is not None:
            self._link.transport.abort()

    async def replug(self) -> None:
        await self.serve_tcp(port=self.port)

    async def close(self) -> None:
        await self.unplug()
        for task in (self._serial_task, self._worker):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if self._link is not None and self._link.transport is not None:
            self._link.transport.close()

    async def __aenter__(self) -> SimBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work())

    def _connected(self, link: _SimLink) -> None:
        if self._link is not None and self._link.transport is not None:
            self._link.transport.close()  # one master per bus
        self._link = link
        self.parser.reset()

    def _disconnected(self, link: _SimLink) -> None:
        if self._link is link:
            self._link = None

    def _received(self, data: bytes) -> None:
        for frame in self.parser.feed(data):
            if not frame.is_reply:  # replies are the devices' own talk
                self._inbox.put_nowait(frame)

    # ------------------------------------------------------------ the line

    async def _work(self) -> None:
        """One request at a time, like a half-duplex line."""
        while True:
            request = await self._inbox.get()
            if self._fires(Fault.DEAF, request):
                continue
            if request.addr == BROADCAST:
                for dev in self.devices.values():
                    dev.handle(request)
                continue
            dev = self.devices.get(request.addr)
            if dev is None:
                continue
            reply = dev.handle(request)
            if reply is not None:
                await self._send(request, reply)

    async def _send(self, request: Frame, reply: Frame) -> None:
        if self._fires(Fault.GARBLE, reply):
            payload = reply.payload[:-1] if reply.payload else b"\x00"
            reply = Frame(reply.addr, reply.seq, reply.cmd, payload)
        data = encode(reply)
        delay = line_time(len(encode(request)) + len(data), self.baudrate) if self.line_timing else 0.0
        if self._fires(Fault.DROP, reply):
            return
        if self._fires(Fault.CORRUPT, reply):
            i = self._random.randrange(2, len(data))
            data = data[:i] + bytes((data[i] ^ (1 << self._random.randrange(8)),)) + data[i + 1 :]
        if self._fires(Fault.NOISE, reply):
            data = self._noise() + data
        if self._fires(Fault.LATE, reply):
            delay += self.late_by
        await asyncio.sleep(delay)
        if self._fires(Fault.SPLIT, reply):
            await self._write_split(data)
        else:
            self._write(data)
        if self._fires(Fault.DUPLICATE, reply):
            self._write(data)

    def _noise(self) -> bytes:
        noise = bytes(self._random.randrange(256) for _ in range(self._random.randrange(1, 12)))
        return noise + b"\xaa\x55" + bytes((1, 2, 3, 4)) + b"\xaa"  # a false header with a short LEN

    async def _write_split(self, data: bytes) -> None:
        while data:
            n = self._random.randrange(1, 4)
            self._write(data[:n])
            data = data[n:]
            await asyncio.sleep(0.002)  # a gap so the reader sees separate reads

    def _write(self, data: bytes) -> None:
        if self._link is not None and self._link.transport is not None and not self._link.transport.is_closing():
            self._link.transport.write(data)


# ---------------------------------------------------------------- pty pair


class SocatPair:
    """A virtual null-modem cable: two pty links in `directory`. `kill` unplugs it, `start` plugs it back."""

    def __init__(self, directory: Path):
        self.master_path = Path(directory) / "master"
        self.device_path = Path(directory) / "devices"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> None:
        self._process = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.master_path}", f"pty,raw,echo=0,link={self.device_path}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # socat must not hold the test runner's pipes
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not (self.master_path.exists() and self.device_path.exists()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("socat did not create its pty links")
            time.sleep(0.01)

    def kill(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=5)
            self._process = None

    def __enter__(self) -> SocatPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
