"""The hall's figures for Prometheus, read when scraped: nothing is counted twice or kept in step by hand.

Queues, tickets and windows come from the hall's memory (under `HallService.lock`); devices, printers and the
announcer from the device hub's status view; the push backlogs from the platform pusher's and the region
streamer's own status. A feature a hall leaves out simply has no figures. Request latency is measured by
`Latency` around every HTTP request, labelled by route template (never the raw path: ids would make a
series each)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hall_controller.core.model import ACTIVE, TicketStatus, WindowState
from hall_controller.core.service import HallService

# Requests are served in milliseconds; an issue waits for its COMMIT's fsync, which can take 100 ms or more.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)


def registry_of(app: FastAPI) -> CollectorRegistry:
    """The app's own registry: every app (tests build many) has its figures, none in the process-wide one."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(HallCollector(app))
    app.state.metrics = registry
    app.state.request_latency = Histogram(
        "hall_http_request_duration_seconds", "HTTP request latency by route", ("method", "route", "status"),
        buckets=LATENCY_BUCKETS, registry=registry)
    return registry


class Latency:
    """Pure ASGI: time every HTTP request and label it with the route that served it."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("static" if scope["path"].startswith("/static") else "other")
            self.histogram.labels(scope["method"], template, f"{status // 100}xx").observe(time.perf_counter() - start)


class HallCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        service: HallService = self.app.state.service
        yield from _hall(service)
        state = self.app.state
        if getattr(state, "devices", None) is not None:
            yield from _devices(state.devices.snapshot())
        yield from _backlogs(state)


def _hall(service: HallService) -> Iterator[Metric]:
    now = service.clock.now()
    cfg = service.config
    issued = CounterMetricFamily("hall_tickets_issued", "Tickets issued today (resets at the day's start)",
                                 labels=("category",))
    served = CounterMetricFamily("hall_tickets_served", "Tickets finished today (resets at the day's start)",
                                 labels=("category",))
    waiting = GaugeMetricFamily("hall_waiting_tickets", "Tickets waiting now", labels=("category",))
    longest = GaugeMetricFamily("hall_longest_wait_seconds", "How long the longest-waiting ticket has waited",
                                labels=("category",))
    in_service = GaugeMetricFamily("hall_tickets_in_service", "Tickets called or being served now")
    windows = GaugeMetricFamily("hall_windows", "Windows by state", labels=("state",))
    with service.lock:
        hall, day = service.hall, service.day
        by_cat: dict[str, list[int]] = {c.id: [0, 0] for c in cfg.categories}
        active = 0
        for t in hall.tickets.values():
            active += t.status in ACTIVE
            if t.day != day:
                continue
            counts = by_cat.setdefault(t.category_id, [0, 0])
            counts[0] += 1
            counts[1] += t.status == TicketStatus.FINISHED
        for c in cfg.categories:
            queue = hall.waiting.get(c.id)
            oldest = queue.oldest() if queue else None
            waiting.add_metric([c.id], len(queue) if queue else 0)
            longest.add_metric([c.id], max(0.0, (now - oldest.queue_at).total_seconds()) if oldest else 0)
        states = {s.value: 0 for s in WindowState}
        for ws in hall.windows.values():
            states[ws.state.value] = states.get(ws.state.value, 0) + 1
        seq = service.ledger.last_seq
    for cat, (n_issued, n_served) in by_cat.items():
        issued.add_metric([cat], n_issued)
        served.add_metric([cat], n_served)
    in_service.add_metric([], active)
    for state, n in states.items():
        windows.add_metric([state], n)
    yield from (issued, served, waiting, longest, in_service, windows)
    events = CounterMetricFamily("hall_ledger_events", "Events committed to the ledger (its last sequence number)")
    events.add_metric([], seq)
    yield events


def _devices(snap: dict[str, Any]) -> Iterator[Metric]:
    online = GaugeMetricFamily("hall_device_online", "1 when the device answers its bus, 0 when not, -1 before "
                               "its first exchange", labels=("device", "kind", "window"))
    for d in snap.get("devices", ()):
        online.add_metric([d["id"], d["kind"], d.get("window_id") or ""], -1 if d["online"] is None else int(d["online"]))
    yield online
    errors = CounterMetricFamily("hall_bus_errors", "RS-485 bus errors since start", labels=("bus", "kind"))
    frames = CounterMetricFamily("hall_bus_frames", "Good frames received since start", labels=("bus",))
    for bus in snap.get("buses", ()):
        s = bus["stats"]
        frames.add_metric([bus["id"]], s["frames_ok"])
        for kind in ("crc_errors", "timeouts", "retries", "failed", "stale_frames"):
            errors.add_metric([bus["id"], kind], s[kind])
    yield from (errors, frames)
    printer_online = GaugeMetricFamily("hall_printer_online", "1 when the printer answers (-1 not yet checked)",
                                       labels=("printer",))
    paper = GaugeMetricFamily("hall_printer_paper", "1 for the printer's current paper state",
                              labels=("printer", "paper"))
    for p in snap.get("printers", ()):
        printer_online.add_metric([p["id"]], -1 if p["online"] is None else int(p["online"]))
        paper.add_metric([p["id"], str(p["paper"])], 1)
    yield from (printer_online, paper)
    voice = snap.get("voice") or {}
    if voice.get("enabled"):
        backlog = GaugeMetricFamily("hall_voice_backlog", "Announcements waiting to be spoken")
        backlog.add_metric([], voice["queued"])
        failed = CounterMetricFamily("hall_voice_failed", "Announcements without speech since start")
        failed.add_metric([], voice["failed"])
        yield from (backlog, failed)


def _backlogs(state: Any) -> Iterator[Metric]:
    push = GaugeMetricFamily("hall_push_backlog", "Events owed to another system, not yet delivered",
                             labels=("target",))
    platform = getattr(state, "platform", None)
    if platform is not None and platform.s.enabled:
        push.add_metric(["platform"], platform.status()["pending"])
    region = getattr(state, "region", None)
    if region is not None and region.s.enabled:
        push.add_metric(["region"], region.behind())
    yield push
    backup = getattr(state, "backup", None)
    if backup is not None:
        last = GaugeMetricFamily("hall_backup_last_success_timestamp_seconds",
                                 "When the last nightly backup was made (0: none since start)")
        last.add_metric([], backup["last_at"] or 0)
        failures = CounterMetricFamily("hall_backup_failures", "Nightly backups that failed since start")
        failures.add_metric([], backup["failures"])
        yield from (last, failures)
