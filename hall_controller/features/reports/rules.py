"""Service reports (服务报表) as pure functions over ledger rows: tickets, events and ratings.

Nothing here reads the ledger or the clock; `hall_controller/api/reports.py` loads the rows and renders.

Definitions (also in docs/reports.md):
- a ticket belongs to the period of its service day, and to a group by its service, the theme (分类) of
  that service, and the window and staff that last held it ("未叫号" when no window ever called it);
- wait: from issue to the ticket's first call (`ticket.called`); service time: from start (or call) to
  finish of finished tickets;
- median: the middle value (mean of the two middle values for an even count); p90: nearest rank, the
  smallest value that at least 90 % of values do not exceed (as on the live board);
- within target: share of called tickets whose wait is at most `queue.target_wait_minutes`;
- satisfaction: share of ratings that are not bad (差评); None when the ratings table is absent;
- idle while waiting: time a staffed window stood open (not serving, not paused, allowed to call) while at
  least one ticket it may serve was waiting, replayed from the ledger's events.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core import routing
from hall_controller.core.calendar import calls_allowed
from hall_controller.core.model import OUTCOMES, Ticket, TicketStatus
from hall_controller.core.settings import HallConfig
from hall_controller.features.applications.rules import ApplicationSettings

PERIODS = {"day": "日报", "week": "周报", "month": "月报"}
GROUPS = {"all": "全厅", "service": "事项", "category": "主题", "window": "窗口", "staff": "工作人员"}
UNCALLED = "未叫号"

# (key, Chinese header, kind): kind is "text", "int", "minutes" or "share"; the files and the page use it.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "分组", "text"),
    ("issued", "取号", "int"),
    ("served", "办结", "int"),
    ("no_show", "过号", "int"),
    ("transfers", "转移", "int"),
    ("cancelled", "取消", "int"),
    ("closed_out", "日终结转", "int"),
    *((f"outcome_{code}", name, "int") for code, name in OUTCOMES.items()),
    ("wait_mean", "平均等候(分)", "minutes"),
    ("wait_median", "等候中位数(分)", "minutes"),
    ("wait_p90", "等候P90(分)", "minutes"),
    ("service_mean", "平均办理(分)", "minutes"),
    ("service_median", "办理中位数(分)", "minutes"),
    ("service_p90", "办理P90(分)", "minutes"),
    ("within_target", "目标内叫号率", "share"),
    ("ratings", "评价数", "int"),
    ("bad", "差评数", "int"),
    ("satisfaction", "满意率", "share"),
    ("idle", "有人等候时空闲(分)", "minutes"),
)


def period_bounds(period: str, d: date) -> tuple[date, date]:
    """[start, end) of the day, ISO week (Monday first) or calendar month containing `d`."""
    if period == "day":
        return d, d + timedelta(days=1)
    if period == "week":
        start = d - timedelta(days=d.weekday())
        return start, start + timedelta(days=7)
    start = d.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Rows:
    """The rows a report needs, already loaded: tickets of the period, events and ratings (None = no table)."""

    tickets: Sequence[Ticket]
    events: Sequence[Mapping[str, Any]]
    ratings: Sequence[Mapping[str, Any]] | None

    def first_calls(self) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for e in self.events:
            if e["type"] == "ticket.called":
                tid = e["data"]["ticket"]["id"]
                if tid not in out:
                    out[tid] = datetime.fromisoformat(e["at"])
        return out

    def closed_out(self) -> set[str]:
        return {e["data"]["ticket"]["id"] for e in self.events if e["type"] == "ticket.closed_out"}


def group_of(t: Ticket, by: str, config: HallConfig) -> tuple[str, str]:
    """(key, display name) of the group a ticket counts in."""
    if by == "service":
        s = config.service(t.service_id)
        return t.service_id, s.name if s else t.service_id
    if by == "category":
        s = config.service(t.service_id)
        cid = s.category_id if s else t.category_id
        c = config.category(cid)
        return cid, c.name if c else cid
    if by == "window":
        if t.window_id is None:
            return "", UNCALLED
        w = config.window(t.window_id)
        return t.window_id, w.name if w else t.window_id
    if by == "staff":
        if t.staff_id is None:
            return "", UNCALLED
        st = config.staff_member(t.staff_id)
        return t.staff_id, f"{st.name}（{t.staff_id}）" if st else t.staff_id
    return "all", GROUPS["all"]


def figures(tickets: Sequence[Ticket], first_calls: Mapping[str, datetime], closed_out: set[str],
            ratings: Sequence[Mapping[str, Any]] | None, target_s: float, idle_s: float | None) -> dict[str, Any]:
    """The figures of one group (times in minutes)."""
    waits = [(first_calls.get(t.id) or t.called_at) - t.issued_at for t in tickets
             if first_calls.get(t.id) or t.called_at]
    wait_s = [w.total_seconds() for w in waits]
    served = [t for t in tickets if t.status == TicketStatus.FINISHED]
    service_s = [(t.finished_at - (t.started_at or t.called_at)).total_seconds() for t in served
                 if t.finished_at and (t.started_at or t.called_at)]
    out: dict[str, Any] = {
        "issued": len(tickets),
        "served": len(served),
        "no_show": sum(1 for t in tickets if t.status == TicketStatus.NO_SHOW),
        "transfers": sum(t.transfers for t in tickets),
        "cancelled": sum(1 for t in tickets if t.status == TicketStatus.CANCELLED and t.id not in closed_out),
        "closed_out": sum(1 for t in tickets if t.id in closed_out),
    }
    for code in OUTCOMES:
        out[f"outcome_{code}"] = sum(1 for t in served if t.outcome == code)
    for name, values in (("wait", wait_s), ("service", service_s)):
        for stat, fn in (("mean", mean), ("median", median), ("p90", p90)):
            v = fn(values)
            out[f"{name}_{stat}"] = None if v is None else v / 60
    out["within_target"] = sum(1 for w in wait_s if w <= target_s) / len(wait_s) if wait_s else None
    if ratings is None:
        out["ratings"] = out["bad"] = out["satisfaction"] = None
    else:
        ids = {t.id for t in tickets}
        mine = [r for r in ratings if r["ticket_id"] in ids]
        bad = sum(1 for r in mine if r["bad"])
        out["ratings"], out["bad"] = len(mine), bad
        out["satisfaction"] = (len(mine) - bad) / len(mine) if mine else None
    out["idle"] = None if idle_s is None else idle_s / 60
    return out


def idle_while_waiting(events: Iterable[Mapping[str, Any]], config: HallConfig, start: datetime,
                       until: datetime) -> dict[tuple[str, str], float]:
    """Seconds within [start, until) each window (("window", id)) and staff member (("staff", id)) stood
    idle while someone they could serve waited; ("all", "all") is the hall's total.

    Replays every event given (pass some before `start` so the state at `start` is known)."""
    waiting: dict[str, Mapping[str, Any]] = {}  # ticket id -> its latest view
    held: dict[str, str] = {}  # window id -> ticket id it holds
    window_state: dict[str, Mapping[str, Any]] = {}  # window id -> latest WindowStatus dict
    idle: dict[tuple[str, str], float] = defaultdict(float)
    previous: datetime | None = None

    def accumulate(t0: datetime, t1: datetime) -> None:
        lo, hi = max(t0, start), min(t1, until)
        if hi <= lo:
            return
        for w in config.windows:
            ws = window_state.get(w.id)
            if not ws or not ws.get("staff_id") or ws.get("state") not in ("open", "serving") or w.id in held:
                continue
            if not calls_allowed(w, config.hours, lo):
                continue
            weights = routing.window_weights(w, ws.get("weights"), config)
            if any(routing.serves(w, weights, t["service_id"], t["category_id"], t.get("target_window_id"), config)
                   for t in waiting.values()):
                seconds = (hi - lo).total_seconds()
                idle[("window", w.id)] += seconds
                idle[("staff", ws["staff_id"])] += seconds
                idle[("all", "all")] += seconds

    for e in events:
        at = datetime.fromisoformat(e["at"])
        if previous is not None:
            _split_at_lunch(previous, at, config, accumulate)
        previous = at
        data = e["data"]
        window = data.get("window")
        if isinstance(window, Mapping) and "state" not in window:  # staff.signed_in nests the window event
            window = window.get("window")
        if isinstance(window, Mapping) and "state" in window:
            window_state[window["id"]] = window
        ticket = data.get("ticket")
        if isinstance(ticket, Mapping) and "status" in ticket:
            tid = ticket["id"]
            for wid in [wid for wid, held_id in held.items() if held_id == tid]:
                del held[wid]
            if ticket["status"] == "waiting":
                waiting[tid] = ticket
            else:
                waiting.pop(tid, None)
                if ticket["status"] in ("called", "serving") and ticket.get("window_id"):
                    held[ticket["window_id"]] = tid
    if previous is not None:
        _split_at_lunch(previous, until, config, accumulate)
    return dict(idle)


def _split_at_lunch(t0: datetime, t1: datetime, config: HallConfig, fn: Any) -> None:
    """Call fn over [t0, t1) cut at lunch-duty boundaries, so each piece has one calling rule."""
    cuts = [t0]
    lunch = config.hours.lunch_duty
    if lunch is not None and t1 > t0:
        d = t0.date()
        while d <= t1.date():
            for edge in (lunch.start, lunch.end):
                moment = datetime.combine(d, edge, t0.tzinfo)
                if t0 < moment < t1:
                    cuts.append(moment)
            d += timedelta(days=1)
    cuts.append(t1)
    for a, b in zip(cuts, cuts[1:]):
        fn(a, b)


def build(data: Rows, config: HallConfig, period: str, day: date, by: str, now: datetime) -> dict[str, Any]:
    """The report of one period grouped `by`, with its total row and a time series for the chart."""
    start, end = period_bounds(period, day)
    tz = now.tzinfo
    start_at = datetime.combine(start, datetime.min.time(), tz)
    until = min(datetime.combine(end, datetime.min.time(), tz), now)
    tickets = [t for t in data.tickets if start.isoformat() <= t.day < end.isoformat()]
    first, closed = data.first_calls(), data.closed_out()
    idle = idle_while_waiting(data.events, config, start_at, until) if until > start_at else {}
    target_s = config.queue.target_wait_minutes * 60
    groups: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
    for t in tickets:
        groups[group_of(t, by, config)].append(t)
    if by in ("window", "staff"):  # windows and staff with idle time but no tickets still show up
        for (kind, key), _ in idle.items():
            if kind == by:
                groups.setdefault(group_of(_holder(key, by), by, config), [])
    rows = []
    for (key, name), members in sorted(groups.items(), key=lambda g: _order(g[0][0], by, config)):
        idle_s = idle.get((by, key), 0.0) if by in ("window", "staff") and key else None
        rows.append({"key": key, "name": name, **figures(members, first, closed, data.ratings, target_s, idle_s)})
    total = {"key": "total", "name": "合计",
             **figures(tickets, first, closed, data.ratings, target_s, idle.get(("all", "all"), 0.0))}
    return {
        "bundles": bundle_counts(data.events, config, start_at.isoformat(),
                                 datetime.combine(end, datetime.min.time(), tz).isoformat()),
        "period": period, "period_name": PERIODS[period], "by": by, "group_name": GROUPS[by],
        "start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
        "target_wait_minutes": config.queue.target_wait_minutes,
        "ratings_available": data.ratings is not None,
        "columns": [{"key": k, "name": n, "kind": kind} for k, n, kind in COLUMNS],
        "rows": rows, "total": total, "series": series(tickets, first, period, start, end, config),
    }


BUNDLE_COLUMNS = (("name", "一件事", "text"), ("bundles", "办结件数（号票）", "int"), ("matters", "事项数", "int"))


def bundle_counts(events: Iterable[Mapping[str, Any]], config: HallConfig, start: str, until: str
                  ) -> list[dict[str, Any]]:
    """一件事一次办 in the period: each configured bundle's tickets finished and the matters their finishes
    recorded (features/applications lists one 办件 per matter in `ticket.finished`)."""
    bundles = (config.sections.get("applications") or ApplicationSettings()).bundles
    counts = {b.service_id: [0, 0] for b in bundles}
    for e in events:
        if e["type"] == "ticket.finished" and start <= e["at"] < until:
            c = counts.get(e["data"]["ticket"]["service_id"])
            if c is not None:
                c[0] += 1
                c[1] += len(e["data"].get("applications") or ())
    return [{"key": b.id, "name": b.name, "bundles": counts[b.service_id][0], "matters": counts[b.service_id][1]}
            for b in bundles]


def series(tickets: Sequence[Ticket], first_calls: Mapping[str, datetime], period: str, start: date, end: date,
           config: HallConfig) -> list[dict[str, Any]]:
    """Issued and served per hour (a day) or per date (a week or month), with the mean wait of the calls."""
    def bucket(at: datetime) -> str:
        return f"{at.hour:02d}时" if period == "day" else at.date().isoformat()[5:]

    if period == "day":
        hours = config.hours
        first = hours.sessions[0].start.hour if hours.sessions else 8
        last = hours.sessions[-1].end.hour if hours.sessions else 18
        labels = [f"{h:02d}时" for h in range(first, last + 1)]
    else:
        labels = [(start + timedelta(days=i)).isoformat()[5:] for i in range((end - start).days)]
    rows = {label: {"label": label, "issued": 0, "served": 0, "waits": []} for label in labels}
    for t in tickets:
        rows.setdefault(bucket(t.issued_at), {"label": bucket(t.issued_at), "issued": 0, "served": 0, "waits": []})
        rows[bucket(t.issued_at)]["issued"] += 1
        if t.status == TicketStatus.FINISHED and t.finished_at:
            rows.setdefault(bucket(t.finished_at), {"label": bucket(t.finished_at), "issued": 0, "served": 0, "waits": []})
            rows[bucket(t.finished_at)]["served"] += 1
        called = first_calls.get(t.id) or t.called_at
        if called:
            rows.setdefault(bucket(called), {"label": bucket(called), "issued": 0, "served": 0, "waits": []})
            rows[bucket(called)]["waits"].append((called - t.issued_at).total_seconds() / 60)
    out = []
    for label in sorted(rows):
        r = rows[label]
        out.append({"label": label, "issued": r["issued"], "served": r["served"], "wait_mean": mean(r["waits"])})
    return out


def daily_summary(data: Rows, config: HallConfig, day: str) -> dict[str, Any]:
    """The figures of one whole day (stored at closing in `hall_days.summary` and sent with `day.closed`)."""
    tickets = [t for t in data.tickets if t.day == day]
    f = figures(tickets, data.first_calls(), data.closed_out(), data.ratings,
                config.queue.target_wait_minutes * 60, None)
    del f["idle"]
    f["in_service"] = sum(1 for t in tickets if t.status in (TicketStatus.CALLED, TicketStatus.SERVING))
    f["waiting"] = sum(1 for t in tickets if t.status == TicketStatus.WAITING)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in f.items()}


def _holder(key: str, by: str) -> Ticket:
    """A stand-in ticket so a window or staff member without tickets gets its group key and name."""
    epoch = datetime(2000, 1, 1)
    return Ticket(id="", day="", number="", prefix="", seq=0, service_id="", category_id="", channel="",
                  priority=None, issued_at=epoch, queue_at=epoch, token="",
                  window_id=key if by == "window" else None, staff_id=key if by == "staff" else None)


def _order(key: str, by: str, config: HallConfig) -> tuple:
    """Groups in config order (windows by number), the uncalled group last."""
    if not key:
        return (1, 0, "")
    if by == "window":
        w = config.window(key)
        return (0, w.number if w else 10_000, key)
    ids = {"service": [s.id for s in config.services], "category": [c.id for c in config.categories],
           "staff": [s.id for s in config.staff]}.get(by, [])
    return (0, ids.index(key) if key in ids else len(ids), key)
