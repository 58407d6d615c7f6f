"""Live fan-out of committed events to subscribers (WebSocket clients, devices, the announcer).

Each subscriber has a bounded queue. A subscriber that falls too far behind is cut off rather than
slowing the hall down; it resumes from the ledger with `since`, so it loses nothing. Events are fanned out on
the app's event loop (asyncio queues and the listeners belong to it), whatever thread committed them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
log = logging.getLogger(__name__)


# What the public stream (hall board, phones, anyone on the hall LAN) must not carry, per event type or type
# prefix ("case."): keys of `data`, a dotted key reaching into a nested object. Complaint and case text,
# rating comments and the (masked) appointment holder are for managers and admins, who get events whole.
PRIVATE_KEYS: dict[str, tuple[str, ...]] = {
    "ticket.": ("ticket.appointment_id", "ticket.application_no", "applications"),
    # 办件 (features/applications): the number could claim a result at the kiosk; materials and reasons are the
    # applicant's business. The public stream keeps the matter, its status and the window.
    "application.": ("application_no", "application_id", "missing", "reason", "commitment_materials", "note",
                     "waybill", "by", "ticket.application_no", "pickup_number"),
    "appointment.": ("appointment.id", "appointment.name", "appointment.phone", "appointment.id_number"),
    # A rating's level, reasons and the rated staff member's 工号 and tally: /results shows per service and
    # window only, and a stream that put a level beside a window and a minute would name the rater's verdict.
    # Its 办件编号 too, as on ticket events.
    "rating.recorded": ("comment", "staff_id", "level", "label", "bad", "reasons", "satisfaction.staff",
                        "application_no"),
    # Which 工号 and manager ids exist is not for the hall LAN (a failed sign-in names one).
    "manager.": ("manager_id",),
    "lockout.": ("account",),
    "case.": ("steps",),
    "complaint.": ("content", "answer"),
}


def encode(event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def public(event: Event) -> Event:
    """The event as unauthenticated consumers get it: the same event when nothing in it is private, otherwise
    a copy without the private keys (copied only along the paths it cuts, the rest shared)."""
    type_ = event["type"]
    keys = PRIVATE_KEYS.get(type_, ()) + PRIVATE_KEYS.get(type_.split(".", 1)[0] + ".", ())
    data = event["data"]
    if not any(_has(data, key.split(".")) for key in keys):
        return event
    data = dict(data)
    for key in keys:
        _drop(data, key.split("."))
    return {**event, "data": data}


def _has(data: Any, path: list[str]) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _drop(data: dict[str, Any], path: list[str]) -> None:
    head, *rest = path
    if head not in data:
        return
    if not rest:
        del data[head]
    elif isinstance(data[head], dict):
        data[head] = dict(data[head])
        _drop(data[head], rest)


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, private: bool):
        self._bus = bus
        self.private = private  # a manager's or admin's stream: events whole, not their public projection
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


# Events queued for all subscribers together (each entry is a pair of references to the shared event and
# text, ~100 bytes): many streams that read nothing must not grow the controller without bound. Past it the
# most lagging subscriber is cut off like one that fell a whole queue behind, and resumes with `since`.
MAX_QUEUED = 200_000


class EventBus:
    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self._subs: set[Subscription] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fan events out on `loop` from now on: the app's, while it runs."""
        self._loop = loop

    def detach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            self._loop = None

    def deliver(self, events: list[Event]) -> None:
        """Publish committed events from any thread: on the attached loop, after those delivered before
        (`call_soon_threadsafe` runs callbacks in order); here and now when no loop is attached (tools, tests
        without an app) or it has closed."""
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self.publish, events)
                return
            except RuntimeError:  # closed without detaching
                pass
        self.publish(events)

    def subscribe(self, maxsize: int = 10_000, private: bool = False) -> Subscription:
        sub = Subscription(self, maxsize, private)
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
            # Each form (whole, public) is encoded once per event, not once per client.
            private = sum(1 for sub in self._subs if sub.private)
            shown = public(event) if private < len(self._subs) else None
            full = encode(event) if private or shown is event else None
            text = full if shown is event else encode(shown) if shown is not None else None
            for sub in list(self._subs):
                try:
                    sub.queue.put_nowait((event, full) if sub.private else (shown, text))
                except asyncio.QueueFull:
                    self._cut(sub)
        while self._subs and sum(sub.queue.qsize() for sub in self._subs) > self.max_queued:
            self._cut(max(self._subs, key=lambda sub: sub.queue.qsize()))

    def _cut(self, sub: Subscription) -> None:
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
