"""Push to the upstream platform (一体化政务服务平台): a durable outbox, delivered with retry and back-off.

While `[platform] enabled`, the ledger copies every selected event into `outbox` in the transaction that
commits it, so nothing is lost while the platform is down or the controller restarts; a disabled hall
writes no outbox rows, so enabling it later does not send its history. The pusher posts each event once
per attempt with `Idempotency-Key: {hall_code}-{seq}` (stable across restarts: the receiver
de-duplicates) and marks it delivered in a transaction after a 2xx. An event the platform refuses for
good (a 4xx other than 408/429), or one that cannot be mapped, is parked in `outbox_rejected` with a
`platform.rejected` event and the rest flow on; anything else is retried with back-off for ever.
Delivered rows are pruned after `keep_days` (the events table keeps the history). Rating levels and
channels are mapped to the platform's codes at the boundary (rules.py, docs/ratings.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from hall_controller.core.decision import Decision
from hall_controller.core.service import HallService
from hall_controller.features.platform.rules import (
    PlatformSettings,
    backoff,
    idempotency_key,
    pushed,
    to_platform,
)
from hall_controller.features.platform.settings import settings

log = logging.getLogger(__name__)


RETRIED_4XX = frozenset({408, 429})  # request timeout, too many requests: the platform asks us to retry
PRUNE_EVERY_S = 3600.0


class Pusher:
    """Delivers the outbox in sequence order; one attempt per event at a time, backing off on failure."""

    def __init__(self, service: HallService, s: PlatformSettings):
        self.service, self.s = service, s
        self.failures = 0
        self.last_error: str | None = None
        self.wake = asyncio.Event()
        self.pruned_at: float | None = None  # monotonic time of the last prune

    def pending(self, limit: int) -> list[dict[str, Any]]:
        rows = self.service.ledger.query(
            "SELECT e.seq, e.type, e.at, e.data FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.delivered_at IS NULL AND o.seq NOT IN (SELECT seq FROM outbox_rejected) "
            "ORDER BY o.seq LIMIT ?", (limit,))
        return [{"seq": seq, "type": t, "at": at, "data": json.loads(d)} for seq, t, at, d in rows]

    async def push_batch(self, client: httpx.AsyncClient) -> int:
        """Try the next batch; returns how many were delivered or parked, stops at the first failure."""
        done = 0
        for event in self.pending(self.s.batch_size):
            key = idempotency_key(self.s.hall_code, event["seq"])
            headers = {"Idempotency-Key": key}
            if self.s.token:
                headers["Authorization"] = f"Bearer {self.s.token}"
            try:
                body = to_platform(event, self.s)
            except Exception as exc:  # an event we cannot map will never map: park it, keep the rest moving
                log.exception("platform push: cannot map event %d (%s)", event["seq"], event["type"])
                await self.service.call(self._reject, event, None, f"mapping: {type(exc).__name__}: {exc}")
                done += 1
                continue
            try:
                r = await client.post(self.s.url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                self._failed(f"{type(exc).__name__}: {exc}")
                return done
            if 400 <= r.status_code < 500 and r.status_code not in RETRIED_4XX:
                await self.service.call(self._reject, event, r.status_code, f"HTTP {r.status_code}: {r.text[:200]}")
                done += 1
                continue
            if not 200 <= r.status_code < 300:
                self._failed(f"HTTP {r.status_code}")
                return done
            seq = event["seq"]
            await self.service.call(self.service.execute, lambda now: Decision(
                rows=[("outbox", {"seq": seq, "delivered_at": now.isoformat()})]))
            self.failures, self.last_error = 0, None
            done += 1
        return done

    def _reject(self, event: dict[str, Any], status: int | None, error: str) -> None:
        """Park an event the platform will never take, as a dead letter with a `platform.rejected` event."""
        log.error("platform push: event %d (%s) parked as rejected: %s", event["seq"], event["type"], error)

        def decide(now: datetime) -> Decision:
            d = Decision(rows=[("outbox_rejected", {"seq": event["seq"], "rejected_at": now.isoformat(),
                                                    "status": status, "error": error})])
            d.emit("platform.rejected", {"seq": event["seq"], "type": event["type"], "status": status, "error": error})
            return d

        self.service.execute(decide)

    def _failed(self, error: str) -> None:
        self.failures += 1
        if error != self.last_error:
            log.warning("platform push failed (attempt %d): %s", self.failures, error)
        self.last_error = error

    def prune(self) -> int:
        """Delivered rows older than `keep_days` go (the events table keeps the history); returns how many."""
        before = (self.service.clock.now() - timedelta(days=self.s.keep_days)).isoformat()
        return self.service.ledger.prune_outbox(before)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.s.timeout_s) as client:
            while True:
                self.wake.clear()
                try:
                    if self.pruned_at is None or time.monotonic() - self.pruned_at > PRUNE_EVERY_S:
                        await self.service.call(self.prune)
                        self.pruned_at = time.monotonic()
                    sent = await self.push_batch(client)
                except Exception as exc:  # storage down, a bug: never end the task, the outbox waits
                    log.exception("platform push round failed")
                    self._failed(f"{type(exc).__name__}: {exc}")
                    sent = 0
                if self.failures:
                    delay = backoff(self.failures, self.s.retry_base_s, self.s.retry_max_s)
                    await asyncio.sleep(delay * random.uniform(0.8, 1.0))  # jitter: halls do not retry in step
                elif sent < self.s.batch_size:
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=30)
                    except TimeoutError:
                        pass

    def status(self) -> dict[str, Any]:
        waiting = self.service.ledger.query(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND seq NOT IN (SELECT seq FROM outbox_rejected)")[0][0]
        rejected = self.service.ledger.query("SELECT COUNT(*) FROM outbox_rejected")[0][0]
        recent = self.service.ledger.query(
            "SELECT r.seq, e.type, r.rejected_at, r.status, r.error FROM outbox_rejected r "
            "JOIN events e ON e.seq = r.seq ORDER BY r.seq DESC LIMIT 20")
        return {"enabled": self.s.enabled, "url": self.s.url, "pending": waiting, "failures": self.failures,
                "last_error": self.last_error, "rejected": rejected,
                "recent_rejections": [dict(zip(("seq", "type", "rejected_at", "status", "error"), r)) for r in recent]}


async def platform_pusher(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: run the pusher when `[platform] enabled`; a new outbox event wakes it at once."""
    service: HallService = app.state.service
    s = settings(service.config)
    pusher = Pusher(service, s)
    app.state.platform = pusher
    service.ledger.outbox = service.ledger.outbox and s.enabled  # a hall that does not push keeps no backlog
    if not s.enabled:
        yield
        return
    loop = asyncio.get_running_loop()

    def on_event(event: dict[str, Any]) -> None:
        if pushed(event):
            loop.call_soon_threadsafe(pusher.wake.set)

    service.bus.listen(on_event)
    task = asyncio.create_task(pusher.run())
    yield
    task.cancel()
