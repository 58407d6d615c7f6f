"""Simulated ID card reader (身份证阅读器) on `socket://127.0.0.1:<port>`, speaking drivers/id_reader's frames.

`swipe(card)` lays a card on the reader; it is read once (find → select → read) and then taken away,
as a citizen does at a kiosk. A corrupted request gets the checksum-error status, as a real reader does.

    sim = IdReaderSimulator(); await sim.start()
    reader = IdReader(sim.url, on_card=print); await reader.start()
    sim.swipe(IdCard("张三", "男", date(1950, 3, 1), "110101195003010012", "北京市东城区"))
"""

from __future__ import annotations

import asyncio
import contextlib

from drivers.id_reader import (
    BAD_CHECKSUM, CARD_FOUND, FIND_CARD, NO_CARD, OK, READ_FAILED, READ_TEXT, SELECT_CARD, SELECT_FAILED,
    UNKNOWN_COMMAND, FrameError, IdCard, encode_read_data, encode_response, split_frame,
)


class IdReaderSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.card: IdCard | None = None
        self.selected = False
        self.reads = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    async def start(self) -> IdReaderSimulator:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server:
            self._server.close()
            for w in list(self._clients):
                w.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def swipe(self, card: IdCard) -> None:
        self.card, self.selected = card, False

    def reply(self, body: bytes) -> bytes:
        """The response frame to one request body (CMD PARA)."""
        cmd = tuple(body[:2])
        if cmd == FIND_CARD:
            return encode_response(CARD_FOUND if self.card else NO_CARD)
        if cmd == SELECT_CARD:
            self.selected = self.card is not None
            return encode_response(OK if self.selected else SELECT_FAILED)
        if cmd == READ_TEXT:
            if not (self.card and self.selected):
                return encode_response(READ_FAILED)
            data = encode_read_data(self.card)
            self.card, self.selected = None, False  # the citizen takes the card back
            self.reads += 1
            return encode_response(OK, data)
        return encode_response(UNKNOWN_COMMAND)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        buffer = b""
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                while True:
                    try:
                        body, buffer = split_frame(buffer)
                    except FrameError:
                        buffer = b""
                        writer.write(encode_response(BAD_CHECKSUM))
                        break
                    if body is None:
                        break
                    writer.write(self.reply(body))
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):  # unplugged, or the simulator closing
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
