"""ID card reader (身份证阅读器) driver: the framed serial protocol and an asyncio polling client.

Frame format (docs/id_reader.md), modelled on the SAM-module protocol of common serial readers:

    request   AA AA AA 96 69 | LEN(2, big-endian) | CMD | PARA | CHK
    response  AA AA AA 96 69 | LEN(2, big-endian) | SW1 SW2 SW3 | DATA... | CHK

LEN counts the bytes after it, CHK included; CHK is the XOR of the LEN bytes and everything up to CHK.
The host polls: find card (20 01) → select card (20 02) → read base text (30 01). The text is 256 bytes
of UCS-2 little-endian in fixed-width fields (name, sex, nation, birth date, address, ID number, ...).

`IdReader(url, on_card)` keeps polling a `socket://` or device URL, reconnecting with back-off after a
loss, and calls `on_card(IdCard)` once per card presented.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse

from serial_asyncio_fast import open_serial_connection

log = logging.getLogger(__name__)

HEADER = b"\xaa\xaa\xaa\x96\x69"
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT = (0x30, 0x01)

# SW3 status codes
OK = 0x90
CARD_FOUND = 0x9F
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41
BAD_CHECKSUM = 0x10
UNKNOWN_COMMAND = 0x21

# Fixed-width text fields, in UCS-2 characters (256 bytes in all).
FIELDS = (("name", 15), ("sex", 1), ("nation", 2), ("birth", 8), ("address", 35), ("id_number", 18),
          ("authority", 15), ("valid_from", 8), ("valid_to", 8), ("reserved", 18))
TEXT_BYTES = 256
SEX = {"1": "男", "2": "女"}


class FrameError(ValueError):
    """A frame that is not well-formed (bad header, length or checksum)."""


@dataclass(frozen=True)
class IdCard:
    name: str
    sex: str  # 男 / 女
    birth: date
    id_number: str
    address: str
    nation: str = "01"  # 民族 code, 01 = 汉

    def age_on(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


def checksum(body: bytes) -> int:
    value = 0
    for b in body:
        value ^= b
    return value


def _frame(body: bytes) -> bytes:
    length = (len(body) + 1).to_bytes(2, "big")
    return HEADER + length + body + bytes([checksum(length + body)])


def encode_request(cmd: int, para: int) -> bytes:
    return _frame(bytes([cmd, para]))


def encode_response(sw3: int, data: bytes = b"") -> bytes:
    return _frame(bytes([0x00, 0x00, sw3]) + data)


def split_frame(buffer: bytes) -> tuple[bytes | None, bytes]:
    """(body without LEN and CHK, rest of the buffer) — or (None, buffer) while the frame is incomplete.

    Bytes before a header are line noise and are dropped; a frame with a bad checksum raises FrameError.
    """
    start = buffer.find(HEADER)
    if start < 0:
        return None, buffer[-(len(HEADER) - 1):]
    buffer = buffer[start:]
    if len(buffer) < len(HEADER) + 2:
        return None, buffer
    length = int.from_bytes(buffer[5:7], "big")
    if length < 1:
        raise FrameError("zero length")
    end = len(HEADER) + 2 + length
    if len(buffer) < end:
        return None, buffer
    body, chk = buffer[7:end - 1], buffer[end - 1]
    if checksum(buffer[5:end - 1]) != chk:
        raise FrameError("checksum mismatch")
    return body, buffer[end:]


def encode_text(card: IdCard) -> bytes:
    values = {"name": card.name, "sex": "2" if card.sex == "女" else "1", "nation": card.nation,
              "birth": f"{card.birth:%Y%m%d}", "address": card.address, "id_number": card.id_number,
              "authority": "", "valid_from": "", "valid_to": "", "reserved": ""}
    out = b""
    for name, width in FIELDS:
        value = values[name][:width].ljust(width)
        out += value.encode("utf-16-le")
    return out


def decode_text(text: bytes) -> IdCard:
    if len(text) != TEXT_BYTES:
        raise FrameError(f"text block of {len(text)} bytes, expected {TEXT_BYTES}")
    values: dict[str, str] = {}
    pos = 0
    for name, width in FIELDS:
        values[name] = text[pos:pos + 2 * width].decode("utf-16-le").strip()
        pos += 2 * width
    try:
        birth = date(int(values["birth"][:4]), int(values["birth"][4:6]), int(values["birth"][6:8]))
    except ValueError as e:
        raise FrameError(f"bad birth date {values['birth']!r}") from e
    return IdCard(values["name"], SEX.get(values["sex"], "未知"), birth, values["id_number"], values["address"],
                  values["nation"])


def encode_read_data(card: IdCard, photo: bytes = b"") -> bytes:
    """DATA of a successful read: text length, photo length (both big-endian), text, photo."""
    return TEXT_BYTES.to_bytes(2, "big") + len(photo).to_bytes(2, "big") + encode_text(card) + photo


def decode_read_data(data: bytes) -> IdCard:
    if len(data) < 4:
        raise FrameError("read reply too short")
    text_len = int.from_bytes(data[0:2], "big")
    return decode_text(data[4:4 + text_len])


class IdReader:
    """Polls one reader; `on_card` gets each card presented (the same card again only after `repeat_s`)."""

    def __init__(self, url: str, on_card: Callable[[IdCard], None], *, poll_s: float = 0.25,
                 reply_timeout_s: float = 1.0, repeat_s: float = 3.0, baudrate: int = 115200):
        self.url = url
        self.on_card = on_card
        self.poll_s, self.reply_timeout_s, self.repeat_s, self.baudrate = poll_s, reply_timeout_s, repeat_s, baudrate
        self.connected = False
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[str, float] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"id-reader:{self.url}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                reader, writer = await self._open()
            except OSError as e:
                log.debug("id reader %s: %s", self.url, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            self.connected, backoff = True, 0.1
            log.info("id reader %s connected", self.url)
            try:
                await self._poll(reader, writer)
            except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, FrameError) as e:
                log.warning("id reader %s lost: %s", self.url, e)
            finally:
                self.connected = False
                writer.close()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        url = urlparse(self.url)
        if url.scheme == "socket":  # plain TCP: pyserial-asyncio-fast's socket:// path breaks under uvloop
            return await asyncio.open_connection(url.hostname, url.port)
        return await open_serial_connection(url=self.url, baudrate=self.baudrate)

    async def _poll(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""

        async def ask(cmd: tuple[int, int]) -> tuple[int, bytes]:
            nonlocal buffer
            writer.write(encode_request(*cmd))
            await writer.drain()
            async with asyncio.timeout(self.reply_timeout_s):
                while True:
                    body, buffer = split_frame(buffer)
                    if body is not None:
                        if len(body) < 3:
                            raise FrameError("reply without status")
                        return body[2], body[3:]
                    chunk = await reader.read(4096)
                    if not chunk:
                        raise EOFError("reader closed the connection")
                    buffer += chunk

        while True:
            status, _ = await ask(FIND_CARD)
            if status == CARD_FOUND:
                status, _ = await ask(SELECT_CARD)
                if status == OK:
                    status, data = await ask(READ_TEXT)
                    if status == OK:
                        self._report(decode_read_data(data))
            await asyncio.sleep(self.poll_s)

    def _report(self, card: IdCard) -> None:
        now = asyncio.get_running_loop().time()
        if self._last and self._last[0] == card.id_number and now - self._last[1] < self.repeat_s:
            return
        self._last = (card.id_number, now)
        try:
            self.on_card(card)
        except Exception:  # a bug in the consumer must not stop the reader
            log.exception("id card handler failed")
