"""Framed RS-485 protocol shared by counter keypads, window displays and evaluation pads.

Wire format (docs/protocol.md is the reference)::

    AA 55 | ADDR | SEQ | CMD | LEN | PAYLOAD (LEN bytes) | CRC-16/MODBUS (little-endian)

The CRC covers ADDR..PAYLOAD. Bit 7 of CMD marks a reply. Text is GBK. Payload decoders are strict:
anything malformed raises `ProtocolError`, which callers turn into a NAK and a counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

HEADER = b"\xaa\x55"
REPLY = 0x80
CONTROLLER = 0
BROADCAST = 0xFF
MAX_PAYLOAD = 200  # a longer LEN is noise: resynchronise at once instead of waiting for 255 bytes
OVERHEAD = 8  # header 2 + ADDR, SEQ, CMD, LEN + CRC 2


class ProtocolError(ValueError):
    """A frame or payload that breaks the protocol."""


class Cmd(IntEnum):
    POLL = 0x01
    ACK = 0x02
    NAK = 0x03
    IDENTIFY = 0x04
    KEY_EVENT = 0x10
    KEYPAD_LCD = 0x11
    DISPLAY_TEXT = 0x20
    DISPLAY_PAUSED = 0x21
    DISPLAY_CLEAR = 0x22
    DISPLAY_BRIGHTNESS = 0x23
    PAD_INVITE = 0x30
    PAD_RESULT = 0x31
    PAD_TIMEOUT = 0x32
    PAD_CANCEL = 0x33


class NakReason(IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_PAYLOAD = 2
    WRONG_DEVICE = 3  # a valid command this kind of device does not implement
    REJECTED = 4  # the controller could not process a reported event


class DeviceType(IntEnum):
    KEYPAD = 1
    DISPLAY = 2
    PAD = 3


class Key(IntEnum):
    CALL_NEXT = 1
    RECALL = 2
    SKIP = 3
    TRANSFER = 4
    PAUSE = 5
    RESUME = 6
    FINISH = 7
    SIGN_IN = 8
    SIGN_OUT = 9
    NEXT = 10  # finish the current ticket with an outcome, then call the next one


class Outcome(IntEnum):
    """六件制 plus 咨询; `code` matches the hall core's outcome names."""

    IMMEDIATE = 1  # 即办件
    PROMISED = 2  # 承诺件
    SUPPLEMENT = 3  # 补办件
    RETURNED = 4  # 退回件
    CONSULT = 5  # 咨询
    JOINT = 6  # 联办件
    ESCALATED = 7  # 上报件

    @property
    def code(self) -> str:
        return self.name.lower()


class TransferKind(IntEnum):
    CATEGORY = 1
    WINDOW = 2


RATING_LABELS = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}  # GB/T 39046 A.8 order


class RatingReason(IntEnum):
    NONE = 0
    ATTITUDE = 1  # 服务态度差
    SLOW = 2  # 办事效率低
    UNSKILLED = 3  # 业务不熟练
    COMPLEX = 4  # 流程繁琐、材料多
    REPEATED_VISITS = 5  # 多次跑
    OTHER = 6


# ---------------------------------------------------------------- CRC and frames


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: reflected poly 0xA001, init 0xFFFF; check value of b"123456789" is 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True)
class Frame:
    addr: int
    seq: int
    cmd: int  # includes the REPLY bit
    payload: bytes = b""

    def __post_init__(self) -> None:
        for name in ("addr", "seq", "cmd"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ProtocolError(f"{name} out of range: {getattr(self, name)}")
        if len(self.payload) > MAX_PAYLOAD:
            raise ProtocolError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")

    @property
    def is_reply(self) -> bool:
        return bool(self.cmd & REPLY)

    @property
    def command(self) -> int:
        return self.cmd & ~REPLY

    def reply(self, cmd: Cmd, payload: bytes = b"") -> Frame:
        """The reply to this request: same address and SEQ, so the master can match it."""
        return Frame(self.addr, self.seq, cmd | REPLY, payload)


def encode(frame: Frame) -> bytes:
    body = bytes((frame.addr, frame.seq, frame.cmd, len(frame.payload))) + frame.payload
    return HEADER + body + crc16_modbus(body).to_bytes(2, "little")


def decode(data: bytes) -> Frame:
    """Exactly one complete, valid frame."""
    if len(data) < OVERHEAD or data[:2] != HEADER:
        raise ProtocolError("not a frame")
    if data[5] > MAX_PAYLOAD or len(data) != OVERHEAD + data[5]:
        raise ProtocolError("bad length")
    if crc16_modbus(data[2:-2]) != int.from_bytes(data[-2:], "little"):
        raise ProtocolError("bad CRC")
    return Frame(data[2], data[3], data[4], bytes(data[6:-2]))


@dataclass
class ParserStats:
    frames_ok: int = 0
    crc_errors: int = 0
    length_errors: int = 0  # LEN above MAX_PAYLOAD
    truncated: int = 0  # a header whose frame was cut short by the next valid frame
    dropped_bytes: int = 0


@dataclass
class FrameParser:
    """Turns a byte stream with noise and arbitrary read boundaries into valid frames."""

    stats: ParserStats = field(default_factory=ParserStats)
    _buf: bytearray = field(default_factory=bytearray, repr=False)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # a trailing AA may be the first half of the next header
                self._drop(len(buf) - (1 if buf.endswith(b"\xaa") else 0))
                return frames
            self._drop(start)
            if len(buf) < 6:
                return frames
            if buf[5] > MAX_PAYLOAD:
                self.stats.length_errors += 1
                self._drop(1)
                continue
            total = OVERHEAD + buf[5]
            if len(buf) < total:
                later = self._later_frame()
                if later is None:
                    return frames
                # a valid frame already sits inside the unfinished one: the header was noise
                self.stats.truncated += 1
                self._drop(later)
                continue
            if crc16_modbus(bytes(buf[2 : total - 2])) == int.from_bytes(buf[total - 2 : total], "little"):
                frames.append(Frame(buf[2], buf[3], buf[4], bytes(buf[6 : total - 2])))
                self.stats.frames_ok += 1
                del buf[:total]
            else:
                self.stats.crc_errors += 1
                self._drop(1)  # resynchronise from the next byte: a real frame may start inside

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened)."""
        self._drop(len(self._buf))

    def _drop(self, n: int) -> None:
        if n > 0:
            self.stats.dropped_bytes += n
            del self._buf[:n]

    def _later_frame(self) -> int | None:
        buf = self._buf
        i = buf.find(HEADER, 1)
        while i >= 0:
            if len(buf) >= i + 6 and buf[i + 5] <= MAX_PAYLOAD:
                end = i + OVERHEAD + buf[i + 5]
                if end <= len(buf) and crc16_modbus(bytes(buf[i + 2 : end - 2])) == int.from_bytes(
                    buf[end - 2 : end], "little"
                ):
                    return i
            i = buf.find(HEADER, i + 1)
        return None


# ---------------------------------------------------------------- payload primitives


class _Reader:
    """Bounds-checked reads; every shortfall or leftover is a ProtocolError."""

    def __init__(self, payload: bytes):
        self._data = payload
        self._pos = 0

    def u8(self) -> int:
        if self._pos >= len(self._data):
            raise ProtocolError("payload too short")
        self._pos += 1
        return self._data[self._pos - 1]

    def u16(self) -> int:
        return self.u8() | self.u8() << 8

    def raw(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise ProtocolError("payload too short")
        self._pos += n
        return self._data[self._pos - n : self._pos]

    def text(self) -> str:
        return _gbk_decode(self.raw(self.u8()))

    def rest_text(self) -> str:
        return _gbk_decode(self.raw(len(self._data) - self._pos))

    def done(self) -> bool:
        return self._pos == len(self._data)

    def end(self) -> None:
        if self._pos != len(self._data):
            raise ProtocolError(f"{len(self._data) - self._pos} unexpected trailing bytes")


def _gbk_encode(text: str, max_bytes: int, what: str) -> bytes:
    try:
        data = text.encode("gbk")
    except UnicodeEncodeError as exc:
        raise ProtocolError(f"{what} has a character outside GBK: {text!r}") from exc
    if len(data) > max_bytes:
        raise ProtocolError(f"{what} is {len(data)} GBK bytes, more than {max_bytes}")
    return data


def _gbk_decode(data: bytes) -> str:
    try:
        return data.decode("gbk")
    except UnicodeDecodeError as exc:
        raise ProtocolError("text is not valid GBK") from exc


def _text_field(text: str, max_bytes: int, what: str) -> bytes:
    data = _gbk_encode(text, max_bytes, what)
    return bytes((len(data),)) + data


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def _enum(kind: type[IntEnum], value: int, what: str) -> IntEnum:
    try:
        return kind(value)
    except ValueError as exc:
        raise ProtocolError(f"unknown {what} code {value}") from exc


def _check_token(value: str, max_len: int, what: str, digits_only: bool = False) -> None:
    ok = value.isascii() and (value.isdigit() if digits_only else value.replace("-", "").replace("_", "").isalnum())
    if not ok or not 1 <= len(value) <= max_len:
        raise ProtocolError(f"{what} must be 1..{max_len} ASCII {'digits' if digits_only else 'letters/digits'}: {value!r}")


def _check_event_id(event_id: int) -> None:
    if not 1 <= event_id <= 0xFFFF:
        raise ProtocolError(f"event id out of range: {event_id}")


# ---------------------------------------------------------------- POLL, NAK, IDENTIFY


def encode_poll(ack_event: int = 0) -> bytes:
    """POLL carries the id of the event the master acknowledges (0 = none)."""
    if not 0 <= ack_event <= 0xFFFF:
        raise ProtocolError(f"event id out of range: {ack_event}")
    return _u16(ack_event)


def decode_poll(payload: bytes) -> int:
    r = _Reader(payload)
    ack = r.u16()
    r.end()
    return ack


def decode_ack(payload: bytes) -> None:
    _Reader(payload).end()


@dataclass(frozen=True)
class Nak:
    reason: NakReason
    event_id: int = 0  # the refused event (master → device); 0 when none or unreadable


def encode_nak(nak: Nak) -> bytes:
    return bytes((nak.reason,)) + _u16(nak.event_id)


def decode_nak(payload: bytes) -> Nak:
    r = _Reader(payload)
    nak = Nak(_enum(NakReason, r.u8(), "NAK reason"), r.u16())
    r.end()
    return nak


@dataclass(frozen=True)
class Identity:
    device_type: DeviceType
    firmware: str

    def __post_init__(self) -> None:
        _gbk_encode(self.firmware, 32, "firmware")


def encode_identity(identity: Identity) -> bytes:
    return bytes((identity.device_type,)) + _gbk_encode(identity.firmware, 32, "firmware")


def decode_identity(payload: bytes) -> Identity:
    r = _Reader(payload)
    device_type = _enum(DeviceType, r.u8(), "device type")
    return Identity(device_type, r.rest_text())


# ---------------------------------------------------------------- keypad


@dataclass(frozen=True)
class KeyEvent:
    """One staff action on a counter keypad; only the fields its key needs may be set."""

    key: Key
    outcome: Outcome | None = None  # FINISH, NEXT
    category: str | None = None  # TRANSFER to a category ...
    window: int | None = None  # ... or to a window number
    staff_id: str | None = None  # SIGN_IN (工号)
    pin: str | None = None  # SIGN_IN

    def __post_init__(self) -> None:
        key = _enum(Key, self.key, "key")
        object.__setattr__(self, "key", key)
        if self.outcome is not None:
            object.__setattr__(self, "outcome", _enum(Outcome, self.outcome, "outcome"))
        given = {n for n in ("outcome", "category", "window", "staff_id", "pin") if getattr(self, n) is not None}
        if key in (Key.FINISH, Key.NEXT):
            if given != {"outcome"}:
                raise ProtocolError(f"{key.name} needs exactly an outcome")
        elif key is Key.TRANSFER:
            if given not in ({"category"}, {"window"}):
                raise ProtocolError("TRANSFER needs exactly one target: a category or a window")
            if self.category is not None:
                _check_token(self.category, 16, "category id")
            elif not 1 <= self.window <= 9999:
                raise ProtocolError(f"window number out of range: {self.window}")
        elif key is Key.SIGN_IN:
            if given != {"staff_id", "pin"}:
                raise ProtocolError("SIGN_IN needs a staff number and a PIN")
            _check_token(self.staff_id, 16, "staff number")
            _check_token(self.pin, 8, "PIN", digits_only=True)
            if len(self.pin) < 4:
                raise ProtocolError("PIN must have 4..8 digits")
        elif given:
            raise ProtocolError(f"{key.name} takes no arguments, got {sorted(given)}")


def encode_key_report(event_id: int, event: KeyEvent) -> bytes:
    """Payload of a KEY_EVENT reply: the keypad's own event id, then the key and its arguments."""
    _check_event_id(event_id)
    out = _u16(event_id) + bytes((event.key,))
    if event.outcome is not None:
        out += bytes((event.outcome,))
    elif event.category is not None:
        out += bytes((TransferKind.CATEGORY,)) + _text_field(event.category, 16, "category id")
    elif event.window is not None:
        out += bytes((TransferKind.WINDOW,)) + _u16(event.window)
    elif event.staff_id is not None:
        out += _text_field(event.staff_id, 16, "staff number") + _text_field(event.pin, 8, "PIN")
    return out


def decode_key_report(payload: bytes) -> tuple[int, KeyEvent]:
    r = _Reader(payload)
    event_id = r.u16()
    _check_event_id(event_id)
    key = _enum(Key, r.u8(), "key")
    if key in (Key.FINISH, Key.NEXT):
        event = KeyEvent(key, outcome=_enum(Outcome, r.u8(), "outcome"))
    elif key is Key.TRANSFER:
        kind = _enum(TransferKind, r.u8(), "transfer target")
        event = KeyEvent(key, category=r.text()) if kind is TransferKind.CATEGORY else KeyEvent(key, window=r.u16())
    elif key is Key.SIGN_IN:
        event = KeyEvent(key, staff_id=r.text(), pin=r.text())
    else:
        event = KeyEvent(key)
    r.end()
    return event_id, event


LCD_MAX = 64  # two lines of 16 Hanzi


def encode_lcd(text: str) -> bytes:
    """KEYPAD_LCD: GBK text, '\\n' separates the LCD's lines."""
    return _gbk_encode(text, LCD_MAX, "LCD text")


def decode_lcd(payload: bytes) -> str:
    if len(payload) > LCD_MAX:
        raise ProtocolError("LCD text too long")
    return _gbk_decode(payload)


# ---------------------------------------------------------------- window display

DISPLAY_MAX_LINES = 4
DISPLAY_LINE_MAX = 48


def encode_display_text(lines: tuple[str, ...] | list[str]) -> bytes:
    """DISPLAY_TEXT: count, then each line as length + GBK bytes."""
    if not 1 <= len(lines) <= DISPLAY_MAX_LINES:
        raise ProtocolError(f"a display shows 1..{DISPLAY_MAX_LINES} lines, got {len(lines)}")
    return bytes((len(lines),)) + b"".join(_text_field(line, DISPLAY_LINE_MAX, "display line") for line in lines)


def decode_display_text(payload: bytes) -> tuple[str, ...]:
    r = _Reader(payload)
    count = r.u8()
    if not 1 <= count <= DISPLAY_MAX_LINES:
        raise ProtocolError(f"bad line count {count}")
    lines = tuple(r.text() for _ in range(count))
    if any(len(line.encode("gbk")) > DISPLAY_LINE_MAX for line in lines):
        raise ProtocolError("display line too long")
    r.end()
    return lines


def encode_flag(on: bool) -> bytes:
    return b"\x01" if on else b"\x00"


def decode_flag(payload: bytes) -> bool:
    r = _Reader(payload)
    value = r.u8()
    r.end()
    if value > 1:
        raise ProtocolError(f"flag must be 0 or 1, got {value}")
    return bool(value)


def encode_brightness(level: int) -> bytes:
    if not 0 <= level <= 100:
        raise ProtocolError(f"brightness is a percentage, got {level}")
    return bytes((level,))


def decode_brightness(payload: bytes) -> int:
    r = _Reader(payload)
    level = r.u8()
    r.end()
    encode_brightness(level)  # same range check as the sender
    return level


# ---------------------------------------------------------------- evaluation pad


@dataclass(frozen=True)
class Invite:
    """PAD_INVITE: ask the citizen just served to rate this service. `application` and `matter`: the 办件 the
    rating is filed under (its number as the pad shows it, and the matter's name), sent only for a 办件 — a
    plain invitation is the same frame as before. The rating still names the ticket."""

    ticket: str
    window: int
    staff_id: str
    staff_name: str
    timeout_s: int = 60
    application: str = ""
    matter: str = ""

    def __post_init__(self) -> None:
        _check_token(self.ticket, 16, "ticket number")
        _check_token(self.staff_id, 16, "staff number")
        _gbk_encode(self.staff_name, 24, "staff name")
        if not 1 <= self.window <= 9999:
            raise ProtocolError(f"window number out of range: {self.window}")
        if not 5 <= self.timeout_s <= 255:
            raise ProtocolError(f"rating timeout must be 5..255 s, got {self.timeout_s}")
        if self.application or self.matter:
            if not (self.application.isascii() and self.application.isprintable() and 1 <= len(self.application) <= 40):
                raise ProtocolError(f"application number must be 1..40 printable ASCII: {self.application!r}")
            _gbk_encode(self.matter, 32, "matter name")


def encode_invite(invite: Invite) -> bytes:
    plain = (
        _text_field(invite.ticket, 16, "ticket number")
        + _u16(invite.window)
        + _text_field(invite.staff_id, 16, "staff number")
        + _text_field(invite.staff_name, 24, "staff name")
        + bytes((invite.timeout_s,))
    )
    if not (invite.application or invite.matter):
        return plain
    return plain + _text_field(invite.application, 40, "application number") + _text_field(invite.matter, 32, "matter name")


def decode_invite(payload: bytes) -> Invite:
    r = _Reader(payload)
    ticket, window, staff_id, staff_name, timeout_s = r.text(), r.u16(), r.text(), r.text(), r.u8()
    application = matter = ""
    if not r.done():
        application, matter = r.text(), r.text()
        if not application:
            raise ProtocolError("the 办件 lines need the application number")
    r.end()
    return Invite(ticket, window, staff_id, staff_name, timeout_s, application, matter)


@dataclass(frozen=True)
class Rating:
    """PAD_RESULT: level 1 = 非常满意 … 5 = 非常不满意; a reason only with 不满意 or 非常不满意."""

    ticket: str
    level: int
    reason: RatingReason = RatingReason.NONE

    def __post_init__(self) -> None:
        _check_token(self.ticket, 16, "ticket number")
        if self.level not in RATING_LABELS:
            raise ProtocolError(f"rating level must be 1..5, got {self.level}")
        reason = _enum(RatingReason, self.reason, "rating reason")
        object.__setattr__(self, "reason", reason)
        if reason is not RatingReason.NONE and self.level < 4:
            raise ProtocolError("a reason goes only with 不满意 or 非常不满意")

    @property
    def label(self) -> str:
        return RATING_LABELS[self.level]


def encode_rating_report(event_id: int, rating: Rating) -> bytes:
    _check_event_id(event_id)
    return _u16(event_id) + bytes((rating.level, rating.reason)) + _text_field(rating.ticket, 16, "ticket number")


def decode_rating_report(payload: bytes) -> tuple[int, Rating]:
    r = _Reader(payload)
    event_id = r.u16()
    _check_event_id(event_id)
    level, reason = r.u8(), r.u8()
    rating = Rating(r.text(), level, reason)
    r.end()
    return event_id, rating


def encode_timeout_report(event_id: int, ticket: str) -> bytes:
    """PAD_TIMEOUT: the invitation for `ticket` expired unrated."""
    _check_event_id(event_id)
    _check_token(ticket, 16, "ticket number")
    return _u16(event_id) + _text_field(ticket, 16, "ticket number")


def decode_timeout_report(payload: bytes) -> tuple[int, str]:
    r = _Reader(payload)
    event_id = r.u16()
    _check_event_id(event_id)
    ticket = r.text()
    _check_token(ticket, 16, "ticket number")
    r.end()
    return event_id, ticket


def line_time(n_bytes: int, baudrate: int = 9600) -> float:
    """Seconds to send n bytes at 8N1 (10 bits a byte)."""
    return n_bytes * 10 / baudrate
