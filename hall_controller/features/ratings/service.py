"""好差评 at the edge: the one rating command, the summaries, and the 差评 cases and complaints (loading rows,
running the pure steps of `case_rules` and `complaint_rules`, the overdue watcher).

The pad, the kiosk and `POST /api/ratings` all call `record_rating`; the rules are in `rules.py`, the
bad-review case a 差评 opens in `case_rules.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.ratings import case_rules, complaint_rules
from hall_controller.features.ratings.rules import (
    LEVELS,
    Tally,
    check_rating,
    decide_rating,
    rating_record,
    tally,
)
from hall_controller.features.ratings.settings import rules

log = logging.getLogger(__name__)


def record_rating(service: HallService, ticket_id: str, level: int, channel: str, reasons: Sequence[str] = (),
                  rater: str | None = None, comment: str | None = None, application_no: str | None = None) -> dict:
    """Record one rating of a finished ticket (1 = 非常满意 … 5 = 非常不满意; channel pad | kiosk | mobile).

    The rating row, its `rating.recorded` event (with live satisfaction of the service, window and staff
    today) and, for a 差评, the case it opens are one transaction. Returns the stored rating (no rater data).
    `application_no`: the 办件 the pad was invited for; the features extending "rating" (applications) file
    the rating under it, or under the ticket's, with that 办件's 事项编码.
    """
    r = rules(service.config)
    reasons = tuple(reasons)

    def decide(now: datetime):
        ticket = service.find_ticket(ticket_id)
        rated = bool(service.ledger.query("SELECT 1 FROM ratings WHERE ticket_id = ? LIMIT 1", (ticket.id,)))
        check_rating(ticket, rated, level, channel, reasons, comment, r, now)
        svc = service.config.service(ticket.service_id)
        rating = rating_record(_new_id("R", now), ticket, level, channel, reasons, rater, comment, now,
                               svc.code if svc else None)
        for extend in service.extensions.get("rating", ()):
            filed = Decision(result=rating)
            extend(filed, now, {"application_no": application_no})
            rating = filed.result
        case = (case_rules.open_case(_new_id("C", now), rating, r, service.config.hours, now)
                if rating["bad"] else None)
        return decide_rating(rating, _live(service, rating), case)

    return service.execute(decide)


def _new_id(prefix: str, now: datetime) -> str:
    return f"{prefix}{now:%Y%m%d}-{secrets.token_hex(4)}"


def _live(service: HallService, rating: dict[str, Any]) -> dict[str, Tally]:
    """Today's tallies (before this rating) of the rated service, window and staff member."""
    live = {}
    for scope, column in (("service", "service_id"), ("window", "window_id"), ("staff", "staff_id")):
        rows = service.ledger.query(
            f"SELECT level, COUNT(*) FROM ratings WHERE day = ? AND {column} IS ? GROUP BY level",
            (rating["day"], rating[column]))
        live[scope] = tally(dict(rows))
    return live


# ---------------------------------------------------------------------- reads


def period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """A reporting period [from, to] in local dates; defaults to the month so far."""
    try:
        d_to = date.fromisoformat(end) if end else today
        d_from = date.fromisoformat(start) if start else d_to.replace(day=1)
    except ValueError:
        raise HallError("invalid_period", "日期格式应为 YYYY-MM-DD。", 422) from None
    if d_from > d_to:
        raise HallError("invalid_period", "开始日期不能晚于结束日期。", 422)
    if (d_to - d_from).days > 366:
        raise HallError("invalid_period", "统计区间不能超过一年。", 422)
    return d_from, d_to


def summary(service: HallService, d_from: date, d_to: date, scopes: Sequence[str] = ("service", "window", "staff")
            ) -> dict[str, Any]:
    """Satisfaction per service, window and (for managers) staff member over [d_from, d_to]."""
    cfg = service.config
    names = {
        "service": {s.id: s.name for s in cfg.services},
        "window": {w.id: w.name for w in cfg.windows},
        "staff": {s.id: s.name for s in cfg.staff},
    }
    out: dict[str, Any] = {"from": d_from.isoformat(), "to": d_to.isoformat()}
    total = Tally()
    for scope in scopes:
        rows = service.ledger.query(
            f"SELECT {scope}_id, level, COUNT(*) FROM ratings WHERE day BETWEEN ? AND ? GROUP BY 1, 2",
            (d_from.isoformat(), d_to.isoformat()))
        by: dict[str | None, dict[int, int]] = {}
        for key, level, n in rows:
            by.setdefault(key, {})[level] = n
        out[scope] = [
            {"id": key, "name": names[scope].get(key or "", key or "—"), **tally(levels).figures()}
            for key, levels in sorted(by.items(), key=lambda kv: str(kv[0]))
        ]
        if scope == scopes[0]:
            total = tally({lv: sum(v.get(lv, 0) for v in by.values()) for lv in LEVELS})
    out["total"] = total.figures()
    return out


def stored_rating(row: dict[str, Any]) -> dict[str, Any]:
    """A `ratings` row read back, as the command returned it."""
    out = dict(row)
    out["reasons"] = json.loads(out["reasons"] or "[]")
    out["bad"] = bool(out["bad"])
    return out


# ---------------------------------------------------------------------- 差评 cases and complaints


def case_from_row(row: dict[str, Any]) -> dict[str, Any]:
    c = dict(row)
    c["steps"] = json.loads(c["steps"] or "{}")
    c["named"] = bool(c["named"])
    c["valid"] = None if c["valid"] is None else bool(c["valid"])
    return c


def complaint_from_row(row: dict[str, Any]) -> dict[str, Any]:
    c = dict(row)
    c["complex"] = bool(c["complex"])
    return c


def load_case(service: HallService, case_id: str) -> dict[str, Any]:
    rows = service.ledger.records("SELECT * FROM cases WHERE id = ?", (case_id,))
    if not rows:
        raise HallError("unknown_case", f"未找到差评案件：{case_id}", 404)
    return case_from_row(rows[0])


def load_complaint(service: HallService, complaint_id: str) -> dict[str, Any]:
    rows = service.ledger.records("SELECT * FROM complaints WHERE id = ?", (complaint_id,))
    if not rows:
        raise HallError("unknown_complaint", f"未找到投诉：{complaint_id}", 404)
    return complaint_from_row(rows[0])


def case_detail(service: HallService, case_id: str) -> dict[str, Any]:
    """A case for the manager: with its rating (rater included, for 回访) and its ledger history."""
    c = load_case(service, case_id)
    rating = service.ledger.records("SELECT * FROM ratings WHERE id = ?", (c["rating_id"],))
    out = with_deadline(case_rules.view(c), service.clock.now())
    if rating:
        out["rating"] = {**rating[0], "reasons": json.loads(rating[0]["reasons"] or "[]"), "bad": bool(rating[0]["bad"])}
    out["history"] = [
        {"seq": seq, "type": type_, "at": at, **{k: v for k, v in json.loads(data).items()
                                                   if k in ("action", "by", "state", "state_label", "due_at")}}
        for seq, type_, at, data in service.ledger.query(
            "SELECT seq, type, at, data FROM events WHERE type LIKE 'case.%' AND json_extract(data, '$.case_id') = ? "
            "ORDER BY seq", (case_id,))
    ]
    return out


def with_deadline(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    item["overdue"] = item.get("state") not in ("closed", "answered") and case_rules.is_overdue(item, now)
    return item


def list_cases(service: HallService, state: str | None = None, overdue: bool = False) -> list[dict[str, Any]]:
    if state is not None and state not in case_rules.STATES:
        raise HallError("invalid_state", f"案件状态无效：{state}", 422)
    sql, params = "SELECT * FROM cases", ()
    if state:
        sql, params = sql + " WHERE state = ?", (state,)
    now = service.clock.now()
    found = [with_deadline(case_rules.view(case_from_row(r)), now) for r in service.ledger.records(sql + " ORDER BY opened_at DESC", params)]
    return [c for c in found if c["overdue"]] if overdue else found


def list_complaints(service: HallService, state: str | None = None, overdue: bool = False) -> list[dict[str, Any]]:
    if state is not None and state not in complaint_rules.STATES:
        raise HallError("invalid_state", f"投诉状态无效：{state}", 422)
    sql, params = "SELECT * FROM complaints", ()
    if state:
        sql, params = sql + " WHERE state = ?", (state,)
    now = service.clock.now()
    found = [with_deadline({**complaint_from_row(r), "complaint_id": r["id"]}, now)
             for r in service.ledger.records(sql + " ORDER BY registered_at DESC", params)]
    return [c for c in found if c["overdue"]] if overdue else found


# ---------------------------------------------------------------------- commands


def act(service: HallService, case_id: str, step: Callable[..., Decision], **kwargs: Any) -> dict[str, Any]:
    """Run one workflow step (`case_rules.verify`, `.appeal`, ...) on the current case row."""
    r = rules(service.config)
    row = service.execute(lambda now: step(load_case(service, case_id), rules=r, hours=service.config.hours,
                                           now=now, **kwargs))
    return case_rules.view(row)


def register_complaint(service: HallService, channel: str, content: str, by: str, name: str | None = None,
                       phone: str | None = None, service_id: str | None = None, window_id: str | None = None,
                       complex_: bool = False) -> dict[str, Any]:
    if service_id is not None and service.config.service(service_id) is None:
        raise HallError("unknown_service", f"未找到事项：{service_id}", 404)
    if window_id is not None and service.config.window(window_id) is None:
        raise HallError("unknown_window", f"未找到窗口：{window_id}", 404)
    r = rules(service.config)
    row = service.execute(lambda now: complaint_rules.register(
        f"T{now:%Y%m%d}-{secrets.token_hex(4)}", channel, content, name, phone, service_id, window_id, complex_,
        by, r, service.config.hours, now))
    return complaint_rules.view(row)


def classify_complaint(service: HallService, complaint_id: str, complex_: bool, by: str) -> dict[str, Any]:
    r = rules(service.config)
    row = service.execute(lambda now: complaint_rules.classify(
        load_complaint(service, complaint_id), complex_, by, r, service.config.hours, now))
    return complaint_rules.view(row)


def answer_complaint(service: HallService, complaint_id: str, text: str, by: str) -> dict[str, Any]:
    row = service.execute(lambda now: complaint_rules.answer(load_complaint(service, complaint_id), text, by, now))
    return complaint_rules.view(row)


# ---------------------------------------------------------------------- overdue alerts


def check_overdue(service: HallService) -> list[dict[str, Any]]:
    """Emit `case.overdue` / `complaint.overdue` once per missed deadline; returns the events' data."""

    def decide(now: datetime) -> Decision:
        d = Decision(result=[])
        open_cases = [case_from_row(r) for r in service.ledger.records(
            f"SELECT * FROM cases WHERE state IN ({','.join('?' * len(case_rules.OPEN_STATES))})",
            case_rules.OPEN_STATES)]
        for c in case_rules.overdue(open_cases, now):
            d.rows.append(("cases", {**c, "alerted_due": c["due_at"]}))
            d.emit("case.overdue", {**case_rules.view(c), "overdue": True})
        open_complaints = [complaint_from_row(r) for r in service.ledger.records("SELECT * FROM complaints WHERE state = 'open'")]
        for c in case_rules.overdue(open_complaints, now):
            d.rows.append(("complaints", {**c, "alerted_due": c["due_at"]}))
            d.emit("complaint.overdue", {**complaint_rules.view(c), "overdue": True})
        d.result = [data for _, data in d.events]
        return d

    return service.execute(decide)


class Rounds:
    """How many overdue checks the watcher has completed, for whoever must know that a check ran after some
    moment (a test asserting that no second alert came waits for a round that began after the first)."""

    def __init__(self) -> None:
        self._done = 0
        self._changed = threading.Condition()

    @property
    def done(self) -> int:
        with self._changed:
            return self._done

    def completed(self) -> None:
        with self._changed:
            self._done += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block (in a thread, never on the event loop) until `count` rounds are done; False at the timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._done >= count, timeout)


async def overdue_watcher(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: look for missed deadlines every `[ratings] check_seconds` (hall clock decides).
    `app.state.overdue_rounds` counts the checks completed (a failed check is not a round)."""
    service: HallService = app.state.service
    every = rules(service.config).check_seconds
    rounds = app.state.overdue_rounds = Rounds()

    async def loop() -> None:
        while True:
            try:
                await service.call(check_overdue, service)
            except HallError as exc:
                log.warning("overdue check failed: %s", exc)
            else:
                rounds.completed()
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
