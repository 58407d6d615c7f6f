"""Live fan-out of committed events to subscribers (WebSocket clients, devices, the announcer).

Each subscriber has a bounded queue. A subscriber that falls too far behind is cut off rather than
slowing the hall down; it resumes from the ledger with `since`, so it loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
log = logging.getLogger(__name__)


def encode(event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int):
        self._bus = bus
        # (event, its JSON text): the text is encoded once per event, not once per client.
        self.queue: asyncio.Queue[tuple[Event, str] | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    async def get(self) -> tuple[Event, str] | None:
        """The next event with its JSON text, or None once the subscription was cut off for falling behind."""
        return await self.queue.get()

    def close(self) -> None:
        self._bus._subs.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.add(sub)
        return sub

    def listen(self, fn: Callable[[Event], None]) -> None:
        """A synchronous listener called for each event in order (devices, announcer): it must not block."""
        self._listeners.append(fn)

    def publish(self, events: list[Event]) -> None:
        for event in events:
            for fn in self._listeners:
                try:
                    fn(event)
                except Exception:  # a broken listener must not stop the others or the stream
                    log.exception("event listener %r failed on %s", fn, event.get("type"))
            item = (event, encode(event)) if self._subs else None
            for sub in list(self._subs):
                try:
                    sub.queue.put_nowait(item)
                except asyncio.QueueFull:
                    sub.overflowed = True
                    self._subs.discard(sub)
                    _drain_and_end(sub.queue)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


def _drain_and_end(queue: asyncio.Queue[tuple[Event, str] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
