"""Asyncio master for one RS-485 bus of counter keypads, window displays and evaluation pads.

The master is the only one who speaks unasked (RS-485 is half duplex): it pushes display, LCD and pad
updates ahead of polls, polls keypads (recently active ones more often) and pads (while a rating is
pending), retries with the same SEQ, and reopens a vanished port. It talks to the hall core only through
the callbacks given to it. docs/protocol.md describes the rules it follows.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from serial_asyncio_fast import create_serial_connection

from drivers.protocol import (
    Cmd, DeviceType, Frame, FrameParser, Identity, Invite, KeyEvent, Nak, NakReason, ParserStats,
    ProtocolError, Rating, decode_ack, decode_identity, decode_key_report, decode_nak, decode_rating_report,
    decode_timeout_report, encode, encode_brightness, encode_display_text, encode_flag, encode_invite,
    encode_lcd, encode_nak, encode_poll, line_time,
)

log = logging.getLogger(__name__)

KeyHandler = Callable[[int, KeyEvent, int], Awaitable[str | None]]  # (address, event, event id) -> LCD text
RatingHandler = Callable[[int, Rating], Awaitable[None]]
RatingTimeoutHandler = Callable[[int, str], Awaitable[None]]  # (pad address, ticket)
DeviceStateHandler = Callable[[int, bool], None]

REPLY_ALLOWANCE = 48  # bytes of reply line time added to every timeout; the longest report is ~40


@dataclass(frozen=True)
class BusTiming:
    baudrate: int = 9600
    reply_timeout: float = 0.1  # silence allowed on top of the request's and a reply's line time
    retries: int = 2  # further attempts with the same SEQ before a device counts as offline
    keypad_idle_poll: float = 0.25
    keypad_active_poll: float = 0.05
    active_window: float = 10.0  # a keypad used this recently counts as active
    pad_poll: float = 0.15  # while a rating is pending
    heartbeat: float = 5.0  # displays, idle pads
    offline_probe: float = 1.0
    backoff_min: float = 0.1
    backoff_max: float = 2.0


@dataclass
class BusStats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    failed: int = 0  # requests unanswered after every retry
    stale_frames: int = 0  # replies for another SEQ or address: late or duplicated
    echoes: int = 0  # our own requests read back (adapter without auto-direction)
    malformed: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    duplicate_events: int = 0
    callback_errors: int = 0
    opens: int = 0
    open_failures: int = 0
    parser: ParserStats = field(default_factory=ParserStats)


@dataclass(frozen=True)
class DisplayState:
    lines: tuple[str, ...]
    paused: bool = False


class _LinkLost(Exception):
    pass


@dataclass
class _Command:
    cmd: Cmd
    payload: bytes
    settle: Callable[[], None]  # records what the device now holds (on ACK, and on NAK: it would refuse again)


@dataclass
class _Device:
    address: int
    kind: DeviceType
    online: bool | None = None  # None until the first exchange
    identity: Identity | None = None
    seq: int = 0
    due: float = 0.0
    last_active: float = -math.inf
    # de-duplication of reported events: the last event id handled and whether it was accepted
    last_event: int = 0
    last_accepted: bool = True
    ack_pending: int = 0
    # desired state, and what the device is known to hold (None = unknown: send it)
    display: DisplayState | None = None
    sent_lines: tuple[str, ...] | None = None
    sent_paused: bool | None = None
    brightness: int | None = None
    sent_brightness: int | None = None
    lcd: str | None = None
    sent_lcd: str | None = None
    invite: Invite | None = None
    invite_dirty: bool = False

    def next_seq(self) -> int:
        self.seq = self.seq % 255 + 1  # 1..255; 0 is reserved for the unsequenced probe
        return self.seq

    def forget_sent(self) -> None:
        self.sent_lines = self.sent_paused = self.sent_brightness = self.sent_lcd = None
        self.invite_dirty = self.invite is not None  # never cancel unasked: the pad may hold a rating


class _Link(asyncio.Protocol):
    """One open port: parses replies and matches them to the request in flight."""

    def __init__(self, parser: FrameParser, stats: BusStats):
        self._parser = parser
        self._stats = stats
        self._transport: asyncio.BaseTransport | None = None
        self._waiting: tuple[int, int, asyncio.Future[Frame]] | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()  # serial transports connect a loop turn later
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        for frame in self._parser.feed(data):
            if not frame.is_reply:
                self._stats.echoes += 1
            elif self._waiting and self._waiting[:2] == (frame.addr, frame.seq) and not self._waiting[2].done():
                self._waiting[2].set_result(frame)
            else:
                self._stats.stale_frames += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def request(self, data: bytes, addr: int, seq: int, timeout: float) -> Frame | None:
        if self.lost.done() or self._transport is None:
            raise _LinkLost
        reply: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting = (addr, seq, reply)
        try:
            self._transport.write(data)
            await asyncio.wait({reply, self.lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting = None
        if reply.done():
            return reply.result()
        reply.cancel()
        if self.lost.done():
            raise _LinkLost
        return None

    async def idle(self, wake: asyncio.Event, timeout: float) -> None:
        waiter = asyncio.ensure_future(wake.wait())
        await asyncio.wait({waiter, self.lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self.lost.done():
            raise _LinkLost


class BusMaster:
    """Master of one bus. `url` is a device path, a pty path or socket://host:port."""

    def __init__(
        self,
        url: str,
        devices: Iterable[tuple[int, DeviceType]],
        *,
        on_key: KeyHandler,
        on_rating: RatingHandler,
        on_rating_timeout: RatingTimeoutHandler | None = None,
        on_device_state: DeviceStateHandler | None = None,
        timing: BusTiming = BusTiming(),
        handled: Mapping[int, tuple[int, bool]] | None = None,
    ):
        """`handled`: per address, the last event id handled and its verdict, as the caller stored them before
        a restart, so an event the device re-reports is answered again, never acted on again. `on_key` gets
        the event id so it can store it in the same transaction as the action."""
        self.url = url
        self.timing = timing
        self.stats = BusStats()
        self._parser = FrameParser(self.stats.parser)
        self._on_key = on_key
        self._on_rating = on_rating
        self._on_rating_timeout = on_rating_timeout
        self._on_device_state = on_device_state
        self._devices: dict[int, _Device] = {}
        for address, kind in devices:
            if not 1 <= address <= 247 or address in self._devices:
                raise ValueError(f"device address must be unique and in 1..247: {address}")
            self._devices[address] = _Device(address, DeviceType(kind))
        for address, (event_id, accepted) in (handled or {}).items():
            if address in self._devices:
                self._devices[address].last_event, self._devices[address].last_accepted = event_id, accepted
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"bus {self.url}")

    async def stop(self) -> None:
        """Stops the bus; a callback in progress is cancelled (its event stays unacknowledged)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def __aenter__(self) -> BusMaster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ what the hall core calls

    def set_display(self, address: int, lines: Sequence[str], paused: bool = False) -> None:
        """Desired content of a window display; empty `lines` blanks it. Raises ProtocolError for bad text."""
        if lines:
            encode_display_text(tuple(lines))
        self._device(address, DeviceType.DISPLAY).display = DisplayState(tuple(lines), paused)
        self._wake.set()

    def set_brightness(self, address: int, level: int) -> None:
        encode_brightness(level)
        self._device(address, DeviceType.DISPLAY).brightness = level
        self._wake.set()

    def set_lcd(self, address: int, text: str) -> None:
        encode_lcd(text)
        self._device(address, DeviceType.KEYPAD).lcd = text
        self._wake.set()

    def invite_rating(self, address: int, invite: Invite) -> None:
        dev = self._device(address, DeviceType.PAD)
        dev.invite, dev.invite_dirty = invite, True
        self._wake.set()

    def cancel_rating(self, address: int) -> None:
        dev = self._device(address, DeviceType.PAD)
        dev.invite, dev.invite_dirty = None, True
        self._wake.set()

    def online(self, address: int) -> bool | None:
        """None until the device has been tried once."""
        return self._devices[address].online

    def identity(self, address: int) -> Identity | None:
        return self._devices[address].identity

    def _device(self, address: int, kind: DeviceType) -> _Device:
        dev = self._devices[address]
        if dev.kind is not kind:
            raise ValueError(f"device {address} is a {dev.kind.name.lower()}, not a {kind.name.lower()}")
        return dev

    # ------------------------------------------------------------ port handling

    async def _run(self) -> None:
        backoff = self.timing.backoff_min
        loop = asyncio.get_running_loop()
        while True:
            link = _Link(self._parser, self.stats)
            try:
                await create_serial_connection(loop, lambda: link, self.url, baudrate=self.timing.baudrate)
            except OSError as exc:  # SerialException and refused sockets are OSErrors
                self.stats.open_failures += 1
                log.debug("bus %s: cannot open (%s), retry in %.1f s", self.url, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max)
                continue
            self.stats.opens += 1
            backoff = self.timing.backoff_min
            try:
                await link.ready
                await self._serve(link)
            except _LinkLost:
                log.warning("bus %s: port lost", self.url)
            except Exception:
                log.exception("bus %s: unexpected error; reopening the port", self.url)
            finally:
                link.close()
                self._parser.reset()
                for dev in self._devices.values():
                    self._set_online(dev, False)
            # pyserial-asyncio-fast reports the loss only once the port is closed: safe to reopen after
            await asyncio.wait({link.lost}, timeout=1.0)
            await asyncio.sleep(backoff)

    async def _serve(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        for dev in self._devices.values():
            dev.due = 0.0  # probe everyone at once after (re)opening
        while True:
            self._wake.clear()
            now = loop.time()
            # window displays first: what the citizen sees must not queue behind LCD texts and invitations
            dev = min((d for d in self._devices.values() if d.online and self._command_for(d)),
                      key=lambda d: d.kind is not DeviceType.DISPLAY, default=None)
            if dev is not None:
                await self._send_command(link, dev)
                continue
            dev = min(self._devices.values(), key=lambda d: d.due, default=None)
            if dev is None or dev.due > now:
                await link.idle(self._wake, (dev.due - now) if dev else self.timing.heartbeat)
                continue
            if dev.online:
                await self._poll(link, dev)
            else:
                await self._probe(link, dev)
            dev.due = loop.time() + self._interval(dev)

    def _interval(self, dev: _Device) -> float:
        t = self.timing
        if not dev.online:
            return t.offline_probe
        if dev.ack_pending:
            return 0.0  # deliver the ack now: the device reports nothing new until it has it
        if dev.kind is DeviceType.KEYPAD:
            recent = asyncio.get_running_loop().time() - dev.last_active < t.active_window
            return t.keypad_active_poll if recent else t.keypad_idle_poll
        if dev.kind is DeviceType.PAD and dev.invite is not None:
            return t.pad_poll
        return t.heartbeat

    def _set_online(self, dev: _Device, online: bool) -> None:
        if dev.online == online:
            return
        dev.online = online
        if not online:
            dev.forget_sent()
            # Probe it at once rather than at its old heartbeat slot (up to `heartbeat` away): a display that
            # missed one update must not show the previous number while keypad and voice have moved on.
            dev.due = 0.0
        log.info("bus %s: device %d %s", self.url, dev.address, "online" if online else "offline")
        if self._on_device_state is not None:
            try:
                self._on_device_state(dev.address, online)
            except Exception:
                self.stats.callback_errors += 1
                log.exception("on_device_state failed")

    # ------------------------------------------------------------ transactions

    async def _transact(
        self, link: _Link, dev: _Device, cmd: Cmd, payload: bytes, *, seq: int | None = None, attempts: int | None = None
    ) -> Frame | None:
        """Sends a request until answered; every retry reuses the SEQ so the device never acts twice."""
        seq = dev.next_seq() if seq is None else seq
        data = encode(Frame(dev.address, seq, cmd, payload))
        timeout = self.timing.reply_timeout + line_time(len(data) + REPLY_ALLOWANCE, self.timing.baudrate)
        for attempt in range(attempts or 1 + self.timing.retries):
            if attempt:
                self.stats.retries += 1
            self.stats.requests += 1
            reply = await link.request(data, dev.address, seq, timeout)
            if reply is not None:
                self._set_online(dev, True)
                return reply
            self.stats.timeouts += 1
        self.stats.failed += 1
        self._set_online(dev, False)
        return None

    async def _probe(self, link: _Link, dev: _Device) -> None:
        # SEQ 0 makes the device forget its last SEQ: a restarted master must not get a stale replay
        reply = await self._transact(link, dev, Cmd.IDENTIFY, b"", seq=0, attempts=1)
        if reply is None:
            return
        try:
            if reply.command != Cmd.IDENTIFY:
                raise ProtocolError(f"IDENTIFY answered with command {reply.cmd:#04x}")
            dev.identity = decode_identity(reply.payload)
        except ProtocolError as exc:
            self.stats.malformed += 1
            log.warning("bus %s: device %d: bad identity: %s", self.url, dev.address, exc)
            return
        if dev.identity.device_type is not dev.kind:
            log.error("bus %s: device %d is configured as %s but says it is %s",
                      self.url, dev.address, dev.kind.name, dev.identity.device_type.name)

    def _command_for(self, dev: _Device) -> _Command | None:
        """The next state update the device lacks, if any."""
        if dev.display is not None:
            want = dev.display
            if dev.sent_lines != want.lines:
                cmd, payload = (Cmd.DISPLAY_TEXT, encode_display_text(want.lines)) if want.lines else (Cmd.DISPLAY_CLEAR, b"")
                return _Command(cmd, payload, lambda: setattr(dev, "sent_lines", want.lines))
            if dev.sent_paused != want.paused:
                return _Command(Cmd.DISPLAY_PAUSED, encode_flag(want.paused), lambda: setattr(dev, "sent_paused", want.paused))
        if dev.brightness is not None and dev.sent_brightness != dev.brightness:
            level = dev.brightness
            return _Command(Cmd.DISPLAY_BRIGHTNESS, encode_brightness(level), lambda: setattr(dev, "sent_brightness", level))
        if dev.lcd is not None and dev.sent_lcd != dev.lcd:
            text = dev.lcd
            return _Command(Cmd.KEYPAD_LCD, encode_lcd(text), lambda: setattr(dev, "sent_lcd", text))
        if dev.invite_dirty:
            invite = dev.invite

            def settle() -> None:
                if dev.invite == invite:  # unless replaced while in flight
                    dev.invite_dirty = False

            if invite is None:
                return _Command(Cmd.PAD_CANCEL, b"", settle)
            return _Command(Cmd.PAD_INVITE, encode_invite(invite), settle)
        return None

    async def _send_command(self, link: _Link, dev: _Device) -> None:
        command = self._command_for(dev)
        assert command is not None
        reply = await self._transact(link, dev, command.cmd, command.payload)
        if reply is None:
            return
        try:
            if reply.command == Cmd.NAK:
                nak = decode_nak(reply.payload)
                self.stats.naks_received += 1
                log.warning("bus %s: device %d refused %s: %s", self.url, dev.address, command.cmd.name, nak.reason.name)
                if (command.cmd == Cmd.PAD_INVITE and nak.reason == NakReason.BAD_PAYLOAD and dev.invite is not None
                        and dev.invite.application):
                    # a pad built before the 办件 lines: the plain invitation goes next (unsettled)
                    dev.invite = replace(dev.invite, application="", matter="")
                    return
            elif reply.command == Cmd.ACK:
                decode_ack(reply.payload)
            else:
                raise ProtocolError(f"{command.cmd.name} answered with command {reply.cmd:#04x}")
        except ProtocolError as exc:
            # unsettled, so sent again with a new SEQ; every state update is idempotent
            self.stats.malformed += 1
            log.warning("bus %s: device %d: bad reply: %s", self.url, dev.address, exc)
            return
        command.settle()

    async def _send_nak(self, link: _Link, dev: _Device, reason: NakReason, event_id: int) -> None:
        self.stats.naks_sent += 1
        await self._transact(link, dev, Cmd.NAK, encode_nak(Nak(reason, event_id)))

    # ------------------------------------------------------------ polling and events

    async def _poll(self, link: _Link, dev: _Device) -> None:
        ack = dev.ack_pending
        reply = await self._transact(link, dev, Cmd.POLL, encode_poll(ack))
        if reply is None:
            return
        if dev.ack_pending == ack:
            dev.ack_pending = 0  # the device answered the poll that carried it
        command = reply.command
        if command == Cmd.ACK:
            try:
                decode_ack(reply.payload)
            except ProtocolError:
                self.stats.malformed += 1
        elif command == Cmd.NAK:
            self.stats.naks_received += 1
        elif command == Cmd.KEY_EVENT and dev.kind is DeviceType.KEYPAD:
            await self._event(link, dev, reply.payload, decode_key_report, self._deliver_key)
        elif command == Cmd.PAD_RESULT and dev.kind is DeviceType.PAD:
            await self._event(link, dev, reply.payload, decode_rating_report, self._deliver_rating)
        elif command == Cmd.PAD_TIMEOUT and dev.kind is DeviceType.PAD:
            await self._event(link, dev, reply.payload, decode_timeout_report, self._deliver_timeout)
        else:
            self.stats.malformed += 1
            log.warning("bus %s: device %d answered POLL with command %#04x", self.url, dev.address, reply.cmd)

    async def _event(
        self,
        link: _Link,
        dev: _Device,
        payload: bytes,
        decoder: Callable[[bytes], tuple[int, object]],
        deliver: Callable[[_Device, int, object], Awaitable[bool | None]],
    ) -> None:
        """At most once per (address, event id); the ack rides on the next poll."""
        try:
            event_id, body = decoder(payload)
        except ProtocolError as exc:
            self.stats.malformed += 1
            log.warning("bus %s: device %d: malformed report: %s", self.url, dev.address, exc)
            unreadable = 0 if len(payload) < 2 else int.from_bytes(payload[:2], "little")
            await self._send_nak(link, dev, NakReason.BAD_PAYLOAD, unreadable)
            return
        dev.last_active = asyncio.get_running_loop().time()
        if event_id == dev.last_event:
            self.stats.duplicate_events += 1  # our ack was lost: repeat the verdict, never the action
        else:
            accepted = await deliver(dev, event_id, body)
            if accepted is None:
                return  # not stored: leave it unacknowledged so the device reports it again
            dev.last_event, dev.last_accepted = event_id, accepted
        if dev.last_accepted:
            dev.ack_pending = event_id
        else:
            await self._send_nak(link, dev, NakReason.REJECTED, event_id)

    async def _deliver_key(self, dev: _Device, event_id: int, event: KeyEvent) -> bool:
        try:
            text = await self._on_key(dev.address, event, event_id)
        except Exception:
            # refuse rather than retry: the keypad shows the refusal and the staff member presses again
            self.stats.callback_errors += 1
            log.exception("bus %s: on_key failed for keypad %d", self.url, dev.address)
            return False
        if text is not None:
            try:
                self.set_lcd(dev.address, text)
            except ProtocolError as exc:  # the action happened: accept the event, just show nothing new
                self.stats.callback_errors += 1
                log.error("bus %s: keypad %d: LCD text refused: %s", self.url, dev.address, exc)
        return True

    async def _deliver_rating(self, dev: _Device, event_id: int, rating: Rating) -> bool | None:
        try:
            await self._on_rating(dev.address, rating)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("bus %s: on_rating failed for pad %d; the pad will report it again", self.url, dev.address)
            return None
        self._rating_done(dev, rating.ticket)
        return True

    async def _deliver_timeout(self, dev: _Device, event_id: int, ticket: str) -> bool | None:
        if self._on_rating_timeout is not None:
            try:
                await self._on_rating_timeout(dev.address, ticket)
            except Exception:
                self.stats.callback_errors += 1
                log.exception("bus %s: on_rating_timeout failed for pad %d", self.url, dev.address)
                return None
        self._rating_done(dev, ticket)
        return True

    @staticmethod
    def _rating_done(dev: _Device, ticket: str) -> None:
        if dev.invite is not None and dev.invite.ticket == ticket:
            dev.invite, dev.invite_dirty = None, False
