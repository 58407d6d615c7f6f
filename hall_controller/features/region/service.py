"""Stream the ledger to the region: every event once, in sequence order, however long the link was down.

The region stores each event under (hall id, seq) and answers every post with the last sequence it holds
for this hall; the hall keeps that answer in `region_cursor` through the write path and sends on from it.
A post lost on the way, a restart between the region's COMMIT and ours, or a region restored from an older
backup all come out the same: the hall sends from what the region says it has, and the region drops what it
already holds. The events table is the outbox here — gap-free and append-only, so one acknowledged
sequence number is the whole delivery state, and a hall that joins a region later sends its history too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from hall_controller.core.decision import Decision
from hall_controller.core.service import HallService
from hall_controller.features.platform.rules import backoff
from hall_controller.features.region.rules import INGEST_PATH, RegionSettings, to_region
from hall_controller.features.region.settings import settings

log = logging.getLogger(__name__)


class RegionError(Exception):
    """The region did not take a post (unreachable, refused or answered nonsense)."""


class Streamer:
    """Sends the ledger after the acknowledged cursor, a batch at a time."""

    def __init__(self, service: HallService, s: RegionSettings, hall_name: str | None = None):
        self.service, self.s = service, s
        self.hall_name = hall_name or service.config.name
        self.failures = 0
        self.last_error: str | None = None
        self.sent_at: float | None = None  # monotonic time of the last accepted post
        self.wake = asyncio.Event()

    def cursor(self) -> int:
        rows = self.service.ledger.query("SELECT seq FROM region_cursor WHERE hall_id = ?", (self.s.hall_id,))
        return rows[0][0] if rows else 0

    async def post(self, client: httpx.AsyncClient, events: list[dict[str, Any]]) -> int:
        """One post of `events` (may be none: a heartbeat); returns the region's last sequence for this hall."""
        body = {"hall_id": self.s.hall_id, "hall_name": self.hall_name, "last_seq": self.service.ledger.last_seq,
                "events": [to_region(e) for e in events]}
        try:
            # orjson: a post of hundreds of events is encoded in a fifth of the stdlib's time
            r = await client.post(self.s.url + INGEST_PATH, content=orjson.dumps(body),
                                  headers={"Authorization": f"Bearer {self.s.key}", "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise RegionError(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code != 200:
            raise RegionError(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            acked = int(r.json()["acked"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RegionError(f"unexpected answer: {r.text[:200]}") from exc
        if acked > self.service.ledger.last_seq:
            # The region holds more of this hall id than this ledger has: another ledger streams under our id.
            raise RegionError(f"region holds seq {acked} for hall {self.s.hall_id}, this ledger ends at "
                              f"{self.service.ledger.last_seq}: check [region] hall_id")
        return acked

    async def round(self, client: httpx.AsyncClient) -> int:
        """Send the next batch after the cursor and move the cursor to the region's answer; returns how many
        events the region newly acknowledged."""
        cursor = self.cursor()
        events = self.service.ledger.events_since(cursor, self.s.batch_size)
        acked = await self.post(client, events)
        self.sent_at = time.monotonic()
        if acked != cursor:
            await self.service.call(self.service.execute, lambda now: Decision(rows=[(
                "region_cursor", {"hall_id": self.s.hall_id, "seq": acked, "acked_at": now.isoformat()})]))
        return max(0, acked - cursor)

    def behind(self) -> int:
        return max(0, self.service.ledger.last_seq - self.cursor())

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.s.timeout_s) as client:
            while True:
                self.wake.clear()
                try:
                    moved = await self.round(client)
                    self.failures, self.last_error = 0, None
                except Exception as exc:  # region down, storage busy, a bug: never end the task, the ledger waits
                    self._failed(exc)
                    moved = 0
                if self.failures:
                    delay = backoff(self.failures, self.s.retry_base_s, self.s.retry_max_s)
                    await asyncio.sleep(delay * random.uniform(0.8, 1.0))  # jitter: halls do not retry in step
                elif moved == 0 or not self.behind():
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=self.s.heartbeat_s)
                    except TimeoutError:
                        pass

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        error = str(exc) if isinstance(exc, RegionError) else f"{type(exc).__name__}: {exc}"
        if error != self.last_error:
            if isinstance(exc, RegionError):
                log.warning("region stream failed (attempt %d): %s", self.failures, error)
            else:
                log.exception("region stream round failed", exc_info=exc)
        self.last_error = error

    def status(self) -> dict[str, Any]:
        return {"enabled": self.s.enabled, "url": self.s.url, "hall_id": self.s.hall_id, "acked_seq": self.cursor(),
                "last_seq": self.service.ledger.last_seq, "behind": self.behind(), "failures": self.failures,
                "last_error": self.last_error}


async def region_streamer(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: stream while `[region] url` is set; each committed event wakes the streamer."""
    service: HallService = app.state.service
    streamer = Streamer(service, settings(service.config))
    app.state.region = streamer
    if not streamer.s.enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    service.bus.listen(lambda _event: loop.call_soon_threadsafe(streamer.wake.set))
    task = asyncio.create_task(streamer.run())
    yield
    task.cancel()

