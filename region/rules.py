"""Pure rules of the region: what a batch of a hall's events changes in the read models, and the figures
read from them. No database, network or clock: the store hands rows in and out, `now` comes from outside.

A hall's events arrive in sequence order, each once (the store drops what it already holds), so the read
models are folded forward: the last event of a ticket, window, case or complaint in a batch gives its row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from hall_controller.core.errors import HallError
from hall_controller.core.model import OUTCOMES
from hall_controller.features.ratings.case_rules import STATES as CASE_STATES
from hall_controller.features.ratings.complaint_rules import STATES as COMPLAINT_STATES

__all__ = ["CASE_STATES", "COMPLAINT_STATES", "OUTCOMES"]  # the hall's own labels, shown on the region's pages

OPEN_WINDOW_STATES = ("open", "serving", "paused")  # staff signed in at the window
LONG_WAIT_S = 30 * 60  # a hall whose longest wait passes this shows an alert on the region board
OFFLINE_S = 5 * 60  # no post (not even a heartbeat) from a hall for this long: 链路中断


class BadEvent(ValueError):
    """An event that is not what a hall sends (missing seq, type, time or data)."""


@dataclass
class Batch:
    """What one batch of a hall's events writes: the events and the read models' new rows."""

    events: list[tuple[int, datetime, str, dict[str, Any]]] = field(default_factory=list)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratings: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)

    def months(self, tz: tzinfo) -> set[date]:
        """First days of the months (in the region's time zone) the batch's events and rows fall in: their
        partitions must exist before the rows go in."""
        days = {at.astimezone(tz).date() for _, at, _, _ in self.events}
        days |= {date.fromisoformat(r["day"]) for r in (*self.tickets.values(), *self.ratings.values())}
        return {d.replace(day=1) for d in days}


def parse_events(raw: Sequence[Any]) -> list[tuple[int, datetime, str, dict[str, Any]]]:
    """A post's events, checked: (seq, at, type, data) in the order sent."""
    out = []
    seen: set[int] = set()
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping):
            raise BadEvent(f"events[{i}] 不是对象")
        seq, type_, at, data = e.get("seq"), e.get("type"), e.get("at"), e.get("data")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**62:
            raise BadEvent(f"events[{i}].seq 必须是正整数")
        if not isinstance(type_, str) or not type_ or len(type_) > 64:
            raise BadEvent(f"events[{i}].type 无效")
        if not isinstance(data, Mapping):
            raise BadEvent(f"events[{i}].data 必须是对象")
        if seq in seen:
            raise BadEvent(f"events[{i}].seq 重复：{seq}")
        seen.add(seq)
        when = _time(at)
        if when is None:
            raise BadEvent(f"events[{i}].at 必须是带时区的 ISO 时间")
        out.append((seq, when, type_, data))
    return out


def following(events: Sequence[tuple[int, datetime, str, dict[str, Any]]], after: int
              ) -> list[tuple[int, datetime, str, dict[str, Any]]]:
    """The events that follow `after` without a gap. Those at or before it the region holds already (a retry);
    those past a gap wait until the hall sends what is missing."""
    out = []
    expected = after + 1
    for e in sorted(events, key=lambda e: e[0]):
        if e[0] < expected:
            continue
        if e[0] > expected:
            break
        out.append(e)
        expected += 1
    return out


def fold(events: Iterable[tuple[int, datetime, str, dict[str, Any]]]) -> Batch:
    """The read-model rows a hall's events (in sequence order) leave behind: the last event of each ticket,
    window, case or complaint gives its row. Times stay ISO text (PostgreSQL reads them as timestamptz)."""
    b = Batch()
    last_ticket: dict[str, tuple[Mapping[str, Any], int]] = {}
    for seq, at, type_, data in events:
        b.events.append((seq, at, type_, data))
        kind = type_.split(".", 1)[0]
        if kind == "ticket" and isinstance(data.get("ticket"), Mapping) and data["ticket"].get("id"):
            last_ticket[str(data["ticket"]["id"])] = (data["ticket"], seq)
        elif kind in ("window", "staff") and isinstance(data.get("window"), Mapping):
            row = window_row(data, seq)
            if row:
                b.windows[row["window_id"]] = row
        elif type_ == "rating.recorded":
            row = rating_row(data)
            if row:
                b.ratings[row["rating_id"]] = row
        elif kind == "case" and data.get("case_id"):
            row = case_row(data, seq, type_)
            earlier = b.cases.get(row["case_id"])
            if earlier:  # rectified / replied happened once, at their own event: later rows keep them
                row["rectified"] = row["rectified"] or earlier["rectified"]
                row["replied"] = row["replied"] or earlier["replied"]
            b.cases[row["case_id"]] = row
        elif kind == "complaint" and data.get("complaint_id"):
            b.complaints[str(data["complaint_id"])] = complaint_row(data, seq)
    for ticket, seq in last_ticket.values():
        row = ticket_row(ticket, seq)
        if row:
            b.tickets[row["ticket_id"]] = row
    return b


_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _time(v: Any) -> datetime | None:
    """An ISO time with its offset, as the hall writes them (and PostgreSQL reads them); None otherwise."""
    if not isinstance(v, str) or not _ISO_TIME.fullmatch(v):
        return None
    try:
        return datetime.fromisoformat(v)
    except ValueError:
        return None


def _iso(v: Any) -> str | None:
    return v if _time(v) is not None else None


def _day(v: Any) -> str | None:
    if not isinstance(v, str) or not _ISO_DAY.fullmatch(v):
        return None
    try:
        date.fromisoformat(v)
    except ValueError:
        return None
    return v


def _text(v: Any) -> str | None:
    return None if v is None else str(v)[:200]


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def ticket_row(t: Mapping[str, Any], seq: int) -> dict[str, Any] | None:
    day, issued = _day(t.get("day")), _time(t.get("issued_at"))
    if not t.get("id") or day is None or issued is None:
        return None
    called, started, finished = _time(t.get("called_at")), _time(t.get("started_at")), _time(t.get("finished_at"))
    status = _text(t.get("status"))
    return {
        "ticket_id": str(t["id"])[:200], "day": day, "number": _text(t.get("number")),
        "service_id": _text(t.get("service_id")), "service_name": _text(t.get("service_name")),
        "category_id": _text(t.get("category_id")), "category_name": _text(t.get("category_name")),
        "channel": _text(t.get("channel")), "priority": _text(t.get("priority")), "status": status,
        "window_id": _text(t.get("window_id")), "window_name": _text(t.get("window_name")),
        "staff_id": _text(t.get("staff_id")), "issued_at": t["issued_at"],
        "queue_at": _iso(t.get("queue_at")) or t["issued_at"], "called_at": _iso(t.get("called_at")),
        "finished_at": _iso(t.get("finished_at")), "wait_s": _seconds(called, issued),
        "service_s": _seconds(finished, started or called) if status == "finished" else None,
        "outcome": _text(t.get("outcome")), "seq": seq,
    }


def window_row(data: Mapping[str, Any], seq: int) -> dict[str, Any] | None:
    """A window's row from a window.* or staff.* event. `staff.signed_in` nests the window event (number, name
    and state) under "window"; the others carry the window's state there."""
    meta, w = data, data["window"]
    if isinstance(w.get("window"), Mapping):
        meta, w = w, w["window"]
    if not w.get("id"):
        return None
    number = meta.get("window_number")
    return {"window_id": str(w["id"])[:200], "number": number if _small_int(number) else None,
            "name": _text(meta.get("window_name")), "state": _text(w.get("state")), "staff_id": _text(w.get("staff_id")),
            "since": _iso(w.get("since")), "seq": seq}


def _small_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -2**31 < v < 2**31


def rating_row(r: Mapping[str, Any]) -> dict[str, Any] | None:
    at, level = _iso(r.get("at")), r.get("level")
    if not r.get("id") or at is None or not _small_int(level) or not 1 <= level <= 5:
        return None
    return {"rating_id": str(r["id"])[:200], "day": at[:10], "at": at, "level": level, "bad": level >= 4,
            "ticket_id": _text(r.get("ticket_id")), "service_id": _text(r.get("service_id")),
            "window_id": _text(r.get("window_id")), "staff_id": _text(r.get("staff_id")),
            "channel": _text(r.get("channel"))}


def case_row(c: Mapping[str, Any], seq: int, type_: str = "") -> dict[str, Any]:
    """A 差评 case's row, with the facts the 效能 return counts (supervision's case_facts): valid (认定有效),
    named (实名), rectified and replied (None until their step's event: the stored row keeps an earlier True)."""
    level = c.get("level")
    return {"case_id": str(c["case_id"])[:200], "number": _text(c.get("number")),
            "service_id": _text(c.get("service_id")), "window_id": _text(c.get("window_id")),
            "staff_id": _text(c.get("staff_id")), "level": level if _small_int(level) and 1 <= level <= 5 else None,
            "state": _text(c.get("state")), "opened_at": _iso(c.get("opened_at")), "due_at": _iso(c.get("due_at")),
            "closed_at": _iso(c.get("closed_at")), "valid": c.get("valid") if isinstance(c.get("valid"), bool) else None,
            "named": bool(c.get("named")), "rectified": True if type_ == "case.rectified" else None,
            "replied": True if type_ == "case.replied" else None, "seq": seq}


def complaint_row(c: Mapping[str, Any], seq: int) -> dict[str, Any]:
    return {"complaint_id": str(c["complaint_id"])[:200], "channel": _text(c.get("channel")),
            "service_id": _text(c.get("service_id")), "window_id": _text(c.get("window_id")),
            "complex": bool(c.get("complex")), "state": _text(c.get("state")),
            "registered_at": _iso(c.get("registered_at")), "due_at": _iso(c.get("due_at")),
            "answered_at": _iso(c.get("answered_at")), "seq": seq}


# ------------------------------------------------------------------ figures read from the models


def satisfaction(count: int, bad: int, score_sum: float | None = None) -> dict[str, Any]:
    """满意率 = share of ratings that are not 差评 (the hall's own rule, features/ratings)."""
    return {"ratings": count, "bad": bad,
            "satisfied_rate": round((count - bad) / count, 4) if count else None,
            "score": round(score_sum / count, 1) if count and score_sum is not None else None}


def alerts(hall: Mapping[str, Any], now: datetime) -> list[str]:
    """A hall's alerts on the region board, in Chinese."""
    out = []
    seen = hall.get("seen_at")
    if seen is None:
        out.append("从未连接")
    elif (now - seen).total_seconds() > OFFLINE_S:
        out.append(f"链路中断 {int((now - seen).total_seconds() // 60)} 分钟")
    if (hall.get("longest_wait_s") or 0) > LONG_WAIT_S:
        out.append(f"最长等候超 {LONG_WAIT_S // 60} 分钟")
    if hall.get("cases_overdue"):
        out.append(f"差评整改超期 {hall['cases_overdue']} 件")
    if hall.get("complaints_overdue"):
        out.append(f"投诉答复超期 {hall['complaints_overdue']} 件")
    return out


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-11' → (2026-11-01, 2026-12-01); ValueError when it is not a month."""
    start = date.fromisoformat(month + "-01")
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """A report's days, both included: by default this month so far; at most a year."""
    d_to = end or today
    d_from = start or d_to.replace(day=1)
    if d_from > d_to:
        raise HallError("invalid_period", "开始日期不能晚于结束日期。", 422)
    if (d_to - d_from).days > 366:
        raise HallError("invalid_period", "统计区间不能超过一年。", 422)
    return d_from, d_to
