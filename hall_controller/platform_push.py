"""Push to the upstream platform (一体化政务服务平台): a durable outbox, delivered with retry and back-off.

While `[platform] enabled`, the ledger copies every selected event into `outbox` in the transaction that
commits it, so nothing is lost while the platform is down or the controller restarts; a disabled hall
writes no outbox rows, so enabling it later does not send its history. The pusher posts each event once
per attempt with `Idempotency-Key: {hall_code}-{seq}` (stable across restarts: the receiver
de-duplicates) and marks it delivered in a transaction after a 2xx. An event the platform refuses for
good (a 4xx other than 408/429), or one that cannot be mapped, is parked in `outbox_rejected` with a
`platform.rejected` event and the rest flow on; anything else is retried with back-off for ever.
Delivered rows are pruned after `keep_days` (the events table keeps the history). Rating levels and
channels are mapped to the platform's codes here, at the boundary (docs/ratings.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from . import config
from .config import HallConfig
from .domain.hall import Decision
from .domain.model import OUTCOMES
from .domain.ratings import LEVELS
from .service import HallService
from .store import OUTBOX_SELECTORS, register_table

log = logging.getLogger(__name__)

PUSHED_TYPES = frozenset({"ticket.issued", "ticket.called", "ticket.finished", "rating.recorded"})
PUSHED_PREFIXES = ("appointment.", "case.")

# GB/T 39046 评价渠道 codes as several provincial systems use them.
CHANNEL_CODES: dict[str, int] = {"pad": 4, "mobile": 3, "kiosk": 5}
CHANNEL_NAMES: dict[int, str] = {1: "PC端", 2: "移动端", 3: "二维码", 4: "政务大厅平板电脑", 5: "其他终端"}
SCALES = ("gbt39046", "ascending")  # 1 = 非常满意 … 5 = 非常不满意, or the reverse some provinces use


def pushed(event: dict[str, Any]) -> bool:
    return event["type"] in PUSHED_TYPES or event["type"].startswith(PUSHED_PREFIXES)


register_table("outbox", {"seq": int, "delivered_at": str}, pk="seq", indexes=[["delivered_at", "seq"]])
# Events the platform refused for good (dead letters): out of the way of the rest, kept for the managers.
register_table("outbox_rejected", {"seq": int, "rejected_at": str, "status": int, "error": str}, pk="seq")
OUTBOX_SELECTORS.append(pushed)
RETRIED_4XX = frozenset({408, 429})  # request timeout, too many requests: the platform asks us to retry
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class PlatformSettings:
    enabled: bool = False
    url: str = ""
    hall_code: str = "hall"  # 大厅编码 / 行政区划: the prefix of every idempotency key
    token: str = ""  # sent as a bearer token when set
    timeout_s: float = 5.0
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    batch_size: int = 50
    scale: str = "gbt39046"
    keep_days: int = 30  # delivered outbox rows are pruned after this many days


_KEYS = ("enabled", "url", "hall_code", "token", "timeout_s", "retry_base_s", "retry_max_s", "batch_size", "scale",
         "keep_days")


def parse(table: config.Table, core: HallConfig) -> PlatformSettings:
    t = config.Table(table.source, table.path, table.data, _KEYS)
    enabled = t.flag("enabled", False)
    url = t.text("url", "", empty=not enabled)
    if url and not url.startswith(("http://", "https://")):
        t.fail("url", f'must start with http:// or https://, got "{url}"')
    scale = t.text("scale", "gbt39046")
    if scale not in SCALES:
        t.fail("scale", f'must be one of {", ".join(SCALES)}, got "{scale}"')
    base = t.number("retry_base_s", 1.0, positive=True, high=3600)
    top = t.number("retry_max_s", 300.0, positive=True, high=86400)
    if top < base:
        t.fail("retry_max_s", f"must be at least retry_base_s ({base:g})")
    return PlatformSettings(
        enabled=enabled, url=url, hall_code=t.text("hall_code", "hall"), token=t.text("token", "", empty=True),
        timeout_s=t.number("timeout_s", 5.0, positive=True, high=300), retry_base_s=base, retry_max_s=top,
        batch_size=t.integer("batch_size", 50, low=1, high=1000), scale=scale,
        keep_days=t.integer("keep_days", 30, low=1, high=3660),
    )


config.register_section("platform", parse)


def settings(cfg: HallConfig) -> PlatformSettings:
    return cfg.sections.get("platform") or PlatformSettings()


# ---------------------------------------------------------------------- the boundary mapping (pure)


def level_code(level: int, scale: str) -> int:
    return level if scale == "gbt39046" else 6 - level


def compact_time(iso: str | None) -> str | None:
    """GB/T 39046 times are YYYYMMDDThhmmss, local time."""
    return datetime.fromisoformat(iso).strftime("%Y%m%dT%H%M%S") if iso else None


def idempotency_key(hall_code: str, seq: int) -> str:
    return f"{hall_code}-{seq}"


def to_platform(event: dict[str, Any], s: PlatformSettings) -> dict[str, Any]:
    """The body posted for one event: our event with rating levels and channels in the platform's codes."""
    data = dict(event["data"])
    if event["type"] == "rating.recorded":
        data = {
            "rating_id": data["id"], "ticket_id": data["ticket_id"], "ticket_number": data["number"],
            "service_id": data["service_id"], "window_id": data["window_id"], "staff_id": data["staff_id"],
            "satisfaction": level_code(data["level"], s.scale), "satisfaction_name": LEVELS[data["level"]],
            "channel": CHANNEL_CODES[data["channel"]], "channel_name": CHANNEL_NAMES[CHANNEL_CODES[data["channel"]]],
            "rated_at": compact_time(data["at"]), "times": 1, "bad": data["bad"], "reasons": data["reasons"],
            "comment": data["comment"], "named": data["named"],
        }
    elif event["type"].startswith("ticket."):
        t = data["ticket"]
        data = {
            "ticket_id": t["id"], "ticket_number": t["number"], "service_id": t["service_id"],
            "service_name": t.get("service_name"), "category_id": t["category_id"], "channel": t["channel"],
            "priority": t.get("priority"), "window_id": t.get("window_id"), "window_number": data.get("window_number"),
            "staff_id": t.get("staff_id"), "status": t["status"], "issued_at": compact_time(t.get("issued_at")),
            "called_at": compact_time(t.get("called_at")), "finished_at": compact_time(t.get("finished_at")),
            "outcome": t.get("outcome"), "outcome_name": OUTCOMES.get(t.get("outcome") or ""),
            "wait_s": data.get("wait_s"), "service_s": data.get("service_s"),
        }
    return {"key": idempotency_key(s.hall_code, event["seq"]), "hall_code": s.hall_code, "seq": event["seq"],
            "type": event["type"], "at": event["at"], "occurred_at": compact_time(event["at"]), "data": data}


def backoff(failures: int, base: float, top: float) -> float:
    """Seconds to wait after `failures` failed attempts in a row: exponential, capped."""
    return min(top, base * 2 ** max(0, failures - 1))


# ---------------------------------------------------------------------- delivery


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
                self._reject(event, None, f"mapping: {type(exc).__name__}: {exc}")
                done += 1
                continue
            try:
                r = await client.post(self.s.url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                self._failed(f"{type(exc).__name__}: {exc}")
                return done
            if 400 <= r.status_code < 500 and r.status_code not in RETRIED_4XX:
                self._reject(event, r.status_code, f"HTTP {r.status_code}: {r.text[:200]}")
                done += 1
                continue
            if not 200 <= r.status_code < 300:
                self._failed(f"HTTP {r.status_code}")
                return done
            seq = event["seq"]
            self.service.execute(lambda now: Decision(rows=[("outbox", {"seq": seq, "delivered_at": now.isoformat()})]))
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
                        self.prune()
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
