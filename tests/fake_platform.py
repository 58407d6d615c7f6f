"""A fake upstream platform on 127.0.0.1: accepts pushed events, de-duplicating by Idempotency-Key.

It can be told to be down (nothing listens), to answer 500, or to hang past the client's timeout after
taking the event (processed but never acknowledged: the case that makes de-duplication necessary); and
to answer a given status for events of given types (`refuse`, e.g. 422 for a body it will never take).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakePlatform:
    MODES = ("up", "down", "error", "hang")

    def __init__(self, hang_s: float = 5.0):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/push"
        self.hang_s = hang_s
        self.mode = "down"
        self.accepted: dict[str, dict[str, Any]] = {}  # key -> body, in arrival order
        self.stored: dict[str, int] = {}  # key -> times stored (exactly-once means 1 for every key)
        self.posts: list[tuple[str, str]] = []  # (key, mode) for every request received
        self.refuse: dict[str, int] = {}  # event type -> status answered for it, whatever the mode
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ control (from the test thread)

    def set_mode(self, mode: str) -> None:
        assert mode in self.MODES
        listening = mode != "down"
        self.mode = mode
        asyncio.run_coroutine_threadsafe(self._listen(listening), self._loop).result(5)

    def count(self, mode: str) -> int:
        with self._lock:
            return sum(1 for _, m in self.posts if m == mode)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self.accepted)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ------------------------------------------------------------------ the server (in its own loop)

    async def _listen(self, on: bool) -> None:
        if on and self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        elif not on and self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._listen(False)
        hung = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in hung:
            t.cancel()
        await asyncio.gather(*hung, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
            key = headers.get("idempotency-key", "")
            mode = self.mode
            with self._lock:
                self.posts.append((key, mode))
            if mode == "error":
                await self._reply(writer, 500, {"error": "internal"})
                return
            if body.get("type") in self.refuse:
                await self._reply(writer, self.refuse[body["type"]], {"error": "refused"})
                return
            with self._lock:
                duplicate = key in self.accepted
                if not duplicate:
                    self.accepted[key] = body
                    self.stored[key] = self.stored.get(key, 0) + 1
            if mode == "hang":
                await asyncio.sleep(self.hang_s)
            await self._reply(writer, 200, {"ok": True, "duplicate": duplicate})
        except (asyncio.IncompleteReadError, ConnectionError, json.JSONDecodeError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 408: "Request Timeout", 422: "Unprocessable Entity",
                  429: "Too Many Requests", 500: "Internal Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        try:
            await writer.drain()
        except ConnectionError:
            pass
