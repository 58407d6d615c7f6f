"""What the manager board shows: the live overview from the in-memory hall and a feed of the ledger events
it needs beyond it (queue changes, ratings, alert signals), and the hall board's current notice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from hall_controller.core.model import TicketStatus, WindowState
from hall_controller.core.service import HallService
from hall_controller.features.manager.rules import (
    CASE_EVENTS,
    OVERDUE_EVENTS,
    SIGNAL_EVENTS,
    Alert,
    Signals,
    evaluate,
    fold_signals,
)
from hall_controller.features.manager.settings import settings_of
from hall_controller.features.reports import kpis
from hall_controller.features.supervision import service as supervision

FEED_EVENTS = (*kpis.QUEUE_DELTAS, *SIGNAL_EVENTS)
DEVICE_MEMORY = timedelta(hours=24)  # device and printer reports older than this no longer count
CASE_SIGNALS = (*OVERDUE_EVENTS, *CASE_EVENTS)


class Feed:
    """The ledger events the board needs beyond the hall state, read incrementally (only new seqs on each
    refresh) and restarted when the service day changes: queue changes, ratings and alert signals."""

    def __init__(self) -> None:
        self.day: str | None = None
        self.seq = 0
        self.changes: list[tuple[datetime, int]] = []
        self.ratings: list[dict[str, Any]] = []
        self.signals = Signals()
        self.previous: dict[str, datetime] = {}  # alert key -> since, from the last evaluation

    def refresh(self, service: HallService, now: datetime) -> None:
        top = service.ledger.last_seq
        marks = ",".join("?" * len(FEED_EVENTS))
        if self.day != service.day:
            self.__init__()
            self.day = service.day
            # A case's deadline outlives the device memory: its few events are replayed from the start, so an
            # overdue case still alerts after a restart or a new day, and a closed one stays closed.
            case_marks = ",".join("?" * len(CASE_SIGNALS))
            rows = service.ledger.query(
                f"SELECT seq, type, at, data FROM events WHERE type IN ({marks}) "
                f"AND (at >= ? OR type IN ({case_marks})) AND seq <= ? ORDER BY seq",
                (*FEED_EVENTS, (now - DEVICE_MEMORY).isoformat(), *CASE_SIGNALS, top))
        else:
            rows = service.ledger.query(
                f"SELECT seq, type, at, data FROM events WHERE seq > ? AND seq <= ? AND type IN ({marks}) ORDER BY seq",
                (self.seq, top, *FEED_EVENTS))
        for seq, type_, at, data in rows:
            self._take({"seq": seq, "type": type_, "at": at, "data": json.loads(data)})
        self.seq = top

    def _take(self, e: dict[str, Any]) -> None:
        today = e["at"][:10] == self.day
        if e["type"] in kpis.QUEUE_DELTAS:
            if today:
                self.changes.append((datetime.fromisoformat(e["at"]), kpis.QUEUE_DELTAS[e["type"]]))
            return
        if e["type"] == "rating.recorded" and today:
            self.ratings.append(e["data"])
        if today or e["type"] not in ("rating.recorded", "manager.alert_acknowledged"):
            fold_signals([e], into=self.signals)

    def alerts(self, service: HallService, now: datetime) -> list[Alert]:
        with service.lock:
            found = evaluate(service.hall, now, settings_of(service), self.signals, self.previous)
        self.previous = {a.key: a.since for a in found}
        return found


def overview(service: HallService, feed: Feed) -> dict[str, Any]:
    """Everything the manager board shows, from the in-memory hall and the feed."""
    seq = service.ledger.last_seq  # read first: the page resumes its event stream from here
    now = service.clock.now()
    feed.refresh(service, now)
    figures = supervision.board(service)  # month to date, read from the ledger before taking memory's lock
    with service.lock:
        return {**_overview(service, feed, seq, now), "supervision": figures}


def _overview(service: HallService, feed: Feed, seq: int, now: datetime) -> dict[str, Any]:
    hall, config, settings = service.hall, service.config, settings_of(service)
    today = [t for t in hall.tickets.values() if t.day == service.day]
    current = today + [t for t in hall.tickets.values() if t.day != service.day and t.status == TicketStatus.WAITING]
    target_s = config.queue.target_wait_minutes * 60

    by_category = kpis.group_stats(current, "category_id", now)
    by_service = kpis.group_stats(current, "service_id", now)
    rated_service = kpis.satisfaction_by(feed.ratings, "service_id")
    rated_window = kpis.satisfaction_by(feed.ratings, "window_id")
    per_window = kpis.window_counts(today)
    empty = {"waiting": 0, "longest_wait_s": 0, "avg_wait_s": None, "served": 0, "issued": 0}

    windows = []
    for w in config.windows:
        view = service.window_view(w.id)
        ws = hall.windows[w.id]
        ticket = hall.tickets.get(ws.ticket_id) if ws.ticket_id else None
        began = (ticket.started_at or ticket.called_at) if ticket else None
        view.update({
            "for_s": int((now - ws.since).total_seconds()) if ws.since else None,
            "current_service_s": int((now - began).total_seconds()) if began else None,
            "waiting_for": len(hall.eligible_waiting(w.id)) if ws.state != WindowState.CLOSED else 0,
            "custom_categories": ws.weights is not None,
            **per_window.get(w.id, {"served": 0, "no_show": 0, "avg_service_s": None}),
            "satisfaction": rated_window.get(w.id, kpis.satisfaction([])),
        })
        windows.append(view)

    open_from = min((p.start for p in config.hours.sessions), default=now.time())
    close_at = max((p.end for p in config.hours.sessions), default=now.time())
    start = now.replace(hour=open_from.hour, minute=open_from.minute - open_from.minute % 30, second=0, microsecond=0)
    end = now.replace(hour=close_at.hour, minute=close_at.minute, second=0, microsecond=0)
    return {
        "hall": config.name, "at": now.isoformat(), "day": service.day, "seq": seq,
        "settings": {
            "queue_alert": settings.queue_alert, "idle_alert_minutes": settings.idle_alert_minutes,
            "pause_alert_minutes": settings.pause_alert_minutes, "refresh_seconds": settings.refresh_seconds,
            "max_wait_minutes": config.queue.max_wait_minutes, "target_wait_minutes": config.queue.target_wait_minutes,
        },
        "kpis": kpis.day_kpis(today, feed.ratings, target_s),
        "categories": [
            {"category_id": c.id, "name": c.name, "general": c.general, **by_category.get(c.id, empty)}
            for c in config.categories
        ],
        "services": [
            {"service_id": s.id, "name": s.name, "category_id": s.category_id, **by_service[s.id],
             "satisfaction": rated_service.get(s.id, kpis.satisfaction([]))}
            for s in config.services if s.id in by_service
        ],
        "windows": windows,
        "alerts": [a.to_dict(now) for a in feed.alerts(service, now)],
        "charts": {
            "per_slot": kpis.per_slot(today, start, max(end, now)),
            "waiting": kpis.waiting_series(feed.changes, start, now),
            "ratings": kpis.rating_distribution(feed.ratings),
        },
        "notice": current_notice(service, now),
    }


def current_notice(service: HallService, now: datetime) -> dict[str, Any] | None:
    rows = service.ledger.query("SELECT seq, at, data FROM events WHERE type = 'hall.notice' ORDER BY seq DESC LIMIT 1")
    if not rows:
        return None
    seq, at, data = rows[0]
    notice = json.loads(data)
    if not notice.get("text") or (notice.get("until") and notice["until"] <= now.isoformat()):
        return None
    return {**notice, "seq": seq, "at": at}
