"""ASGI guards in front of every route: oversized bodies get 413, floods from one address get 429."""

from __future__ import annotations

import json
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 2 * 1024 * 1024  # the largest legitimate body is a CSV import of a day's appointments
MAX_TRACKED = 10_000  # addresses remembered by the rate limiter (least recently seen dropped first)


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _reject(send, 413, "payload_too_large", "请求内容过大。")
        received = 0
        rejected = False

        async def counted() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body and not rejected:
                    # Answer now and tell the app the client left, so whatever it does next is dropped.
                    rejected = True
                    await _reject(send, 413, "payload_too_large", "请求内容过大。")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counted, guarded)


class RateLimit:
    """A token bucket per client address: `rate` requests a second, bursts up to twice that."""

    def __init__(self, app: ASGIApp, rate: float):
        self.app, self.rate, self.burst = app, rate, rate * 2
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        tokens, last = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return await _reject(send, 429, "too_many_requests", "请求过于频繁，请稍后再试。")
        self.buckets[client] = (tokens - 1, now)
        if len(self.buckets) > MAX_TRACKED:
            self.buckets.popitem(last=False)
        await self.app(scope, receive, send)
