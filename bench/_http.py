"""A minimal keep-alive HTTP/1.1 client for load generation.

httpx costs ~1 ms of CPU per request; on a 2-core machine shared with the server that cost shows up in the
server's latency. This client does only what the benchmarks need (JSON bodies, Content-Length responses).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
                      ) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Connections handed out one request at a time; grows up to `size`."""

    def __init__(self, host: str, port: int, size: int = 64):
        self.host, self.port, self.size = host, port, size
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened = 0

    async def _get(self) -> Connection:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return Connection(reader, writer, f"{self.host}:{self.port}")
        return await self.idle.get()

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
                      ) -> tuple[int, bytes]:
        conn = await self._get()
        try:
            result = await conn.request(method, path, body, headers)
        except BaseException:
            conn.close()
            self.opened -= 1
            raise
        self.idle.put_nowait(conn)
        return result

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()
