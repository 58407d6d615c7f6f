"""好差评 at the edge: the one rating command and the summaries.

The pad, the kiosk and `POST /api/ratings` all call `record_rating`; the rules are in `domain.ratings`,
the bad-review case a 差评 opens in `domain.cases`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.ratings import case_rules
from hall_controller.features.ratings.rules import (
    LEVELS,
    Tally,
    check_rating,
    decide_rating,
    rating_record,
    tally,
)
from hall_controller.features.ratings.settings import rules


def record_rating(service: HallService, ticket_id: str, level: int, channel: str, reasons: Sequence[str] = (),
                  rater: str | None = None, comment: str | None = None) -> dict:
    """Record one rating of a finished ticket (1 = 非常满意 … 5 = 非常不满意; channel pad | kiosk | mobile).

    The rating row, its `rating.recorded` event (with live satisfaction of the service, window and staff
    today) and, for a 差评, the case it opens are one transaction. Returns the stored rating (no rater data).
    """
    r = rules(service.config)
    reasons = tuple(reasons)

    def decide(now: datetime):
        ticket = service.find_ticket(ticket_id)
        rated = bool(service.ledger.query("SELECT 1 FROM ratings WHERE ticket_id = ? LIMIT 1", (ticket.id,)))
        check_rating(ticket, rated, level, channel, reasons, comment, r, now)
        rating = rating_record(_new_id("R", now), ticket, level, channel, reasons, rater, comment, now)
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
