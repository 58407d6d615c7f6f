"""The hall's state machine: pure decisions over tickets and windows.

Every command method validates against the current state and returns a `Decision` — the events to
record and the new versions of the tickets, windows and counters they touch — without changing
anything. The service commits the decision to the ledger and only then calls `apply`. No I/O and no
clock here: the caller passes `now`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hall_controller.core import routing
from hall_controller.core.calendar import (
    calls_allowed,
    describe_periods,
    is_open_day,
    issuing_open,
    issuing_periods,
    periods_on,
)
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError, not_found
from hall_controller.core.model import (
    ACTIVE,
    TERMINAL,
    Channel,
    Ticket,
    TicketStatus,
    WindowState,
    WindowStatus,
    parse_outcome,
    ticket_id_of,
)
from hall_controller.core.queues import CategoryQueue
from hall_controller.core.settings import HallConfig, Window
from hall_controller.core.forecast import PoolWindow, call_times, coming
from hall_controller.core.waits import WaitEstimate

# The live service pace: hall services are long-tailed (CV ~1.6), so a pace from the last 20 services with a
# prior of 10 swung ±30 % on a few long ones and cost the wait estimate 4 points of error in simulation.
RECENT_SERVICES = 60  # services (and 过号) per category kept for the live service pace
PACE_PRIOR = 40  # the configured minutes count as this many services of pace 1 (a few slow citizens move it little)
# Signed-in windows: a paused one (暂停服务) is back after its break, so it counts as busy, not gone.
_AT_WORK = (WindowState.OPEN, WindowState.SERVING, WindowState.PAUSED)
# A paused window is expected back once its pause has lasted this long (the simulated break), or in a minute.
PAUSE_S = 15 * 60
# A forecast is played again when the hall changes, or after this long (the services in progress go on).
FORECAST_FRESH_S = 30
_EPOCH = datetime(2000, 1, 1)
# Window states that cannot take a transferred ticket now: (error code, message, the counter's short why).
CANNOT_TAKE = {
    WindowState.CLOSED: ("window_closed", "目标窗口已关闭。", "窗口已关闭"),
    WindowState.SIGNED_OUT: ("window_unstaffed", "目标窗口无人在岗（未签到），转过去将无人办理。", "无人在岗"),
    WindowState.PAUSED: ("window_paused", "目标窗口暂停服务中。", "暂停服务中"),
}
# Never shown to clients: the token keys the public status page, the others identify the citizen.
PRIVATE_FIELDS = ("token", "holder", "request_id", "appointment_id", "source")


class Hall:
    def __init__(
        self,
        config: HallConfig,
        tickets: Iterable[Ticket] = (),
        windows: Iterable[WindowStatus] = (),
        counters: dict[tuple[str, str], int] | None = None,
    ):
        self.config = config
        self.tickets: dict[str, Ticket] = {}
        self.waiting: dict[str, CategoryQueue] = {}
        self.by_request: dict[str, str] = {}
        self.by_token: dict[str, Ticket] = {}
        self.counters: dict[tuple[str, str], int] = dict(counters or {})
        self.issued_per_service: dict[tuple[str, str], int] = {}
        self.recent_service_s: dict[str, deque[tuple[float, float]]] = {}  # (actual, configured) seconds
        self.windows: dict[str, WindowStatus] = {w.id: WindowStatus(id=w.id) for w in config.windows}
        # Derived from the config and the managers' category overrides only; cleared when an override changes.
        self._weights: dict[str, dict[str, float]] = {}
        self._serving: dict[tuple[str, str, str | None], list[str]] = {}
        self._ghost_of: dict[str, str] | None = None  # matter -> the matter whose ghost stands for it (forecast)
        self.version = 0  # counts the decisions applied: a forecast of an older version is played again
        self._forecast: tuple[tuple, datetime, dict[str, float | None]] | None = None
        for w in windows:
            if w.id in self.windows:
                self.windows[w.id] = w
        for t in tickets:
            self._put(t)

    def reconfigured(self, config: HallConfig) -> Hall:
        """The same tickets, windows and counters under a new configuration version: waiting tickets keep
        their queue and their place (queue time); windows new in `config` start closed, removed ones are gone
        (the version was refused while they held anyone)."""
        hall = Hall(config, self.tickets.values(), self.windows.values(), self.counters)
        hall.recent_service_s = self.recent_service_s
        return hall

    # ----------------------------------------------------------------- queries

    def ticket(self, ticket_id: str) -> Ticket:
        t = self.tickets.get(ticket_id)
        if t is None:
            raise not_found("ticket", ticket_id)
        return t

    def window_config(self, window_id: str) -> Window:
        w = self.config.window(window_id)
        if w is None:
            raise not_found("window", window_id)
        return w

    def weights(self, window_id: str) -> dict[str, float]:
        weights = self._weights.get(window_id)
        if weights is None:
            weights = routing.window_weights(self.window_config(window_id), self.windows[window_id].weights, self.config)
            self._weights[window_id] = weights
        return weights

    def waiting_tickets(self) -> Iterable[Ticket]:
        for queue in self.waiting.values():
            yield from queue

    def eligible_waiting(self, window_id: str) -> list[Ticket]:
        w = self.window_config(window_id)
        weights = self.weights(window_id)
        return [t for t in self.waiting_tickets() if routing.may_serve(w, weights, t, self.config)]

    def candidates(self, window_id: str) -> list[Ticket]:
        """The waiting tickets routing could pick for this window (heads of its queues, not the whole hall)."""
        return routing.candidates(self.waiting, self.window_config(window_id), self.weights(window_id), self.config)

    def windows_serving(self, ticket: Ticket) -> list[str]:
        key = (ticket.category_id, ticket.service_id, ticket.target_window_id)
        serving = self._serving.get(key)
        if serving is None:
            serving = [w.id for w in self.config.windows if routing.may_serve(w, self.weights(w.id), ticket, self.config)]
            self._serving[key] = serving
        return serving

    def ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the same queue that routing would call before this one."""
        if ticket.status != TicketStatus.WAITING:
            return 0
        queue = self.waiting.get(ticket.category_id)
        if queue is None:
            return 0
        key = _order_key(self.config, ticket)
        if ticket.target_window_id is not None:
            return sum(1 for t in queue.targeted.values() if t.id != ticket.id
                       and t.target_window_id == ticket.target_window_id and _order_key(self.config, t) < key)
        before = sum(1 for t in queue.priorities.values() if t.id != ticket.id and _order_key(self.config, t) < key)
        if ticket.priority is None:
            return before + queue.normals_before(ticket)
        if self.config.queue.fairness != "head_start":
            return before
        # A priority ticket's head start: normal tickets issued more than H before it still go first.
        cutoff = ticket.queue_at - timedelta(minutes=self.config.queue.priority_head_start_minutes)
        return before + bisect_left(queue.normals, cutoff, key=lambda t: t.queue_at)

    def wait_estimate(self, ticket: Ticket, ahead: int | None = None,
                      staffed: Mapping[str, datetime] | Collection[str] | None = None,
                      now: datetime | None = None, expected: Sequence[Ticket] = (), stale_s: float = 0.0
                      ) -> WaitEstimate:
        """The ticket's wait: when the staffed windows that may serve it will call it, the hall's routing played
        forward from now (core/forecast.py).

        staffed: the windows that will be at work — by default the windows signed in now (open, serving or
        paused); a roster passes its windows, each with the time it starts (a plain collection: all now).
        now: the moment of the estimate (by default the ticket's queue time). A ticket the hall does not hold
        (the kiosk's "if you took a number now") is estimated as a normal ticket of its matter taken at `now`.
        expected: tickets known to come later (booked appointments, at their queue time): they go ahead too.
        stale_s: a forecast up to this old may answer though the hall has changed since (`forecast`).
        """
        now = now or ticket.queue_at
        ahead = self.ahead(ticket) if ahead is None else ahead
        if staffed is None:
            staffed = [w for w, s in self.windows.items() if s.state in _AT_WORK]
        starts = {w: max(start or now, now) for w, start in
                  (staffed.items() if isinstance(staffed, Mapping) else ((w, now) for w in staffed))}
        ours = [w for w in self.windows_serving(ticket) if w in starts]
        if ticket.status != TicketStatus.WAITING:
            return WaitEstimate(0, 0, len(ours))
        if not ours:
            return WaitEstimate(ahead, None, 0)
        held = self.tickets.get(ticket.id)
        key = ticket.id if held is not None and held.status == TicketStatus.WAITING else None
        calls, shift = self.forecast(now, starts, expected, stale_s)
        since = 0.0
        if key is not None and key not in calls:
            if ticket.priority is None and ticket.target_window_id is None:
                # Issued since that forecast: its matter's ghost there (a number taken then), behind the
                # tickets of its queue issued since too, each a service shared by its windows.
                queue = self.waiting[ticket.category_id]
                pace = self.pace(ticket.category_id)
                since = sum(self._minutes(t) * 60.0 * pace for t in queue.normals[:queue.normals_before(ticket)]
                            if t.id not in calls) / len(ours)
                key = None
            else:  # a priority or targeted ticket goes its own way: forecast afresh
                calls, shift = self.forecast(now, starts, expected)
        at = calls.get(key or "~" + self._ghosts()[ticket.service_id])
        if at is None:
            return WaitEstimate(ahead, None, len(ours))
        return WaitEstimate(ahead, int(round(max(at + since - shift, 0.0))), len(ours))

    def forecast(self, now: datetime, starts: Mapping[str, datetime], expected: Sequence[Ticket] = (),
                 stale_s: float = 0.0) -> tuple[dict[str, float | None], float]:
        """Seconds until each waiting ticket (and each matter's ghost: a ticket taken now) is called by the
        windows in `starts` (each from its start), less the second return value: the forecast is played again
        when the hall has changed and it is over `stale_s` old, or when it is FORECAST_FRESH_S old; in between
        the time gone by is subtracted."""
        key = (self.version, frozenset((w, s if s > now else None) for w, s in starts.items()),
               tuple(t.id for t in expected))
        if self._forecast is not None:
            old_key, at, calls = self._forecast
            age = (now - at).total_seconds()
            # (A reader that took its time before another one played the forecast asks a little in its past.)
            fresh = (stale_s > 0 and abs(age) <= stale_s) or (old_key[0] == key[0] and 0 <= age <= FORECAST_FRESH_S)
            if fresh and old_key[1:] == key[1:]:
                return calls, age
        pace = {c.id: self.pace(c.id) for c in self.config.categories}
        cs2 = {c.id: self.service_cs2(c.id) for c in self.config.categories}

        def profile(t: Ticket) -> tuple[float, float]:
            """A ticket's service: its matter's configured minutes at its category's live pace, and the spread."""
            return 60.0 * self._minutes(t) * pace.get(t.category_id, 1.0), cs2.get(t.category_id, 1.0)

        pool = []
        for w, start in starts.items():
            ws = self.windows[w]
            free_s, serving, lasted = (start - now).total_seconds(), None, 0.0
            if free_s <= 0 and ws.state == WindowState.PAUSED:
                free_s = max(PAUSE_S - _seconds(now, ws.since or now), 60.0)
            current = self.tickets.get(ws.ticket_id or "")
            if free_s <= 0 and current is not None:
                serving, lasted = current, _seconds(now, current.started_at or current.called_at or now)
            pool.append(PoolWindow(self.window_config(w), self.weights(w), ws.priority_streak, max(free_s, 0.0),
                                   serving, lasted))
        queues = {cat: q.copy() for cat, q in self.waiting.items()}
        ghosts = set()
        for svc_id in set(self._ghosts().values()):
            ghost = coming(svc_id, self.config.service(svc_id), now)
            queues.setdefault(ghost.category_id, CategoryQueue()).add(ghost)
            ghosts.add(ghost.id)
        calls = call_times(self.config, now, pool, queues, profile, ghosts, expected)
        self._forecast = (key, now, calls)
        return calls, 0.0

    def _minutes(self, t: Ticket) -> float:
        """The configured minutes of a ticket's matter (10 for a matter since removed from the configuration)."""
        svc = self.config.service(t.service_id)
        return svc.minutes if svc else 10.0

    def _ghosts(self) -> dict[str, str]:
        """Each matter -> the one whose ghost stands for it: matters of one category served by the same windows
        are called alike."""
        if self._ghost_of is None:
            first: dict[tuple[str, tuple[str, ...]], str] = {}
            self._ghost_of = {}
            for svc in self.config.services:
                probe = coming(svc.id, svc, _EPOCH)
                self._ghost_of[svc.id] = first.setdefault((svc.category_id, tuple(self.windows_serving(probe))), svc.id)
        return self._ghost_of

    def service_cs2(self, category_id: str) -> float:
        """Squared coefficient of variation of the category's recent services, each relative to its matter's
        configured minutes (1, as exponential, until five are known)."""
        recent = [a / c for a, c in self.recent_service_s.get(category_id, ())]
        if len(recent) < 5:
            return 1.0
        mean = sum(recent) / len(recent)
        var = sum((x - mean) ** 2 for x in recent) / (len(recent) - 1)
        return var / mean**2 if mean > 0 else 1.0

    def pace(self, category_id: str) -> float:
        """Recent services' actual ÷ configured length, shrunk towards 1 (PACE_PRIOR services' worth)."""
        recent = self.recent_service_s.get(category_id, ())
        minutes = [s.minutes for s in self.config.services if s.category_id == category_id] or [10.0]
        prior = PACE_PRIOR * 60.0 * sum(minutes) / len(minutes)
        return (sum(a for a, _ in recent) + prior) / (sum(c for _, c in recent) + prior)

    def view(self, ticket: Ticket, now: datetime | None = None, wait: bool = True,
             expected: Sequence[Ticket] = (), stale_s: float = 0.0) -> dict[str, Any]:
        """The ticket as clients see it: its fields plus its place in the queue and, with `wait`, the wait
        estimate (left out of events: it scans the waiting tickets, and is read when asked for)."""
        d = ticket.to_dict()
        for private in PRIVATE_FIELDS:
            del d[private]
        if wait:
            d.update(self.wait_estimate(ticket, now=now, expected=expected, stale_s=stale_s).to_dict())
        else:
            d["ahead"] = self.ahead(ticket)
        svc = self.config.service(ticket.service_id)
        d["service_name"] = svc.name if svc else ticket.service_id
        d["service_code"] = svc.code if svc and svc.code else None
        cat = self.config.category(ticket.category_id)
        d["category_name"] = cat.name if cat else ticket.category_id
        if ticket.window_id:
            w = self.config.window(ticket.window_id)
            d["window_number"] = w.number if w else None
            d["window_name"] = w.name if w else None
        return d

    # ----------------------------------------------------------------- commands

    def issue(
        self,
        service_id: str,
        channel: str,
        now: datetime,
        token: str,
        priority: str | None = None,
        request_id: str | None = None,
        holder: str | None = None,
        appointment_id: str | None = None,
        check_hours: bool = True,
        source: str | None = None,
    ) -> Decision:
        if request_id is not None and request_id in self.by_request:
            t = self.tickets[self.by_request[request_id]]
            if t.service_id != service_id:
                raise HallError("request_id_conflict", f"该请求编号已用于另一事项的号票 {t.number}，请使用新的请求编号。", 409)
            return Decision(result=t)
        svc = self.config.service(service_id)
        if svc is None:
            raise not_found("service", service_id)
        if channel not in Channel.__members__.values():
            raise HallError("invalid_channel", f"取号渠道无效：{channel}", 422)
        if priority is not None and self.config.priority(priority) is None:
            raise HallError("invalid_priority", f"优先类别无效：{priority}", 422)
        if check_hours:
            if not is_open_day(now.date(), self.config.hours):
                raise HallError("hall_closed", "今日为非工作日，大厅不办理业务，请在工作日前来或网上预约。")
            if not issuing_open(svc, self.config.hours, now):
                periods = describe_periods(periods_on(svc, self.config.hours, now.date())
                                           or issuing_periods(svc, self.config.hours))
                raise HallError("issuing_closed", f"“{svc.name}”当前不在取号时间，取号时间为{periods}。")
        day = now.date().isoformat()
        if svc.daily_cap is not None and self.issued_per_service.get((day, svc.id), 0) >= svc.daily_cap:
            raise HallError("daily_cap_reached", f"“{svc.name}”今日号源已取完（每日{svc.daily_cap}个），请明日再来或网上预约。")
        seq = self.counters.get((day, svc.prefix), 0) + 1
        number = f"{svc.prefix}{seq:03d}"
        ticket = Ticket(
            id=ticket_id_of(day, number),
            day=day,
            number=number,
            prefix=svc.prefix,
            seq=seq,
            service_id=svc.id,
            category_id=svc.category_id,
            channel=channel,
            priority=priority,
            issued_at=now,
            queue_at=now,
            token=token,
            request_id=request_id,
            holder=holder,
            appointment_id=appointment_id,
            source=source,
        )
        d = Decision(tickets=[ticket], counters={(day, svc.prefix): seq}, result=ticket)
        d.emit("ticket.issued", self._ticket_event(ticket))
        return d

    def call_next(self, window_id: str, now: datetime) -> Decision:
        ws = self._window_ready(window_id)
        if ws.state == WindowState.SERVING:
            raise HallError("window_busy", "本窗口当前号票尚未办结，请先办结、过号或转移。")
        if ws.state == WindowState.PAUSED:
            raise HallError("window_paused", "窗口处于暂停服务状态，请先恢复服务。")
        w = self.window_config(window_id)
        if not calls_allowed(w, self.config.hours, now):
            raise HallError("lunch_break", f"午间值班时段（{describe_periods((self.config.hours.lunch_duty,))}）仅值班窗口叫号；"
                                           "本窗口可办完当前业务，请暂停服务或签离。")
        choice = routing.choose(w, self.weights(window_id), ws.priority_streak, self.candidates(window_id), now,
                                self.config)
        if choice is None:
            return Decision()
        t = replace(
            choice.ticket,
            status=TicketStatus.CALLED,
            window_id=window_id,
            target_window_id=None,
            staff_id=ws.staff_id,
            called_at=now,
            started_at=None,
            recalls=0,
            calls=choice.ticket.calls + 1,
            call_reason=choice.reason,
        )
        nws = replace(ws, state=WindowState.SERVING, since=now, ticket_id=t.id, priority_streak=choice.streak)
        d = Decision(tickets=[t], windows=[nws], result=t)
        d.emit("ticket.called", self._ticket_event(t, reason=choice.reason, waited_s=_seconds(now, t.queue_at)))
        return d

    def recall(self, window_id: str, now: datetime) -> Decision:
        ws, t = self._held(window_id)
        if t.recalls >= self.config.queue.recall_limit:
            raise HallError("recall_limit", f"已重呼{t.recalls}次，达到上限，请过号或办理。")
        t = replace(t, recalls=t.recalls + 1)
        d = Decision(tickets=[t], result=t)
        d.emit("ticket.recalled", self._ticket_event(t))
        return d

    def start(self, window_id: str, now: datetime) -> Decision:
        ws, t = self._held(window_id)
        if t.status == TicketStatus.SERVING:
            return Decision(result=t)
        t = replace(t, status=TicketStatus.SERVING, started_at=now)
        d = Decision(tickets=[t], result=t)
        d.emit("ticket.started", self._ticket_event(t))
        return d

    def skip(self, window_id: str, now: datetime) -> Decision:
        ws, t = self._held(window_id)
        if t.status != TicketStatus.CALLED:
            raise HallError("ticket_serving", "该号票已在办理中，不能过号，请办结或转移。")
        t = replace(t, status=TicketStatus.NO_SHOW, skipped_at=now)
        d = Decision(tickets=[t], windows=[self._freed(ws, now)], result=t)
        d.emit("ticket.skipped", self._ticket_event(t))
        return d

    def finish(self, window_id: str, now: datetime, outcome: str | None = None) -> Decision:
        code = parse_outcome(outcome)
        if code is None:
            raise HallError("invalid_outcome", f"办结类型无效：{outcome}", 422)
        ws, t = self._held(window_id)
        started = t.started_at or t.called_at or now
        t = replace(t, status=TicketStatus.FINISHED, started_at=started, finished_at=now, outcome=code)
        d = Decision(tickets=[t], windows=[self._freed(ws, now)], result=t)
        d.emit(
            "ticket.finished",
            self._ticket_event(t, service_s=_seconds(now, started), wait_s=_seconds(t.called_at or now, t.issued_at)),
        )
        return d

    def transfer(
        self, window_id: str, now: datetime, category_id: str | None = None, target_window_id: str | None = None
    ) -> Decision:
        if (category_id is None) == (target_window_id is None):
            raise HallError("invalid_transfer", "转移需指定目标分类或目标窗口（二选一）。", 422)
        ws, t = self._held(window_id)
        if category_id is not None:
            if self.config.category(category_id) is None:
                raise not_found("category", category_id)
            moved = replace(t, category_id=category_id, target_window_id=None)
            if not self.windows_serving(moved):
                raise HallError("no_window_for_category", "没有可办理该分类的窗口。")
        else:
            if self.config.window(target_window_id) is None:
                raise not_found("window", target_window_id)
            if target_window_id == window_id:
                raise HallError("invalid_transfer", "不能转移到本窗口。", 422)
            why = self.cannot_take(target_window_id)
            if why is not None:
                raise HallError(why[0], why[1])
            moved = replace(t, target_window_id=target_window_id)
        # 首问负责: the citizen keeps their place (queue_at stays the original issue time).
        moved = replace(moved, status=TicketStatus.WAITING, transfers=t.transfers + 1, called_at=None, started_at=None, recalls=0)
        d = Decision(tickets=[moved], windows=[self._freed(ws, now)], result=moved)
        d.emit("ticket.transferred", self._ticket_event(moved, from_window_id=window_id, from_category_id=t.category_id))
        return d

    def cannot_take(self, window_id: str) -> tuple[str, str, str] | None:
        """Why a window cannot take a transferred ticket now (error code, message, a short why for the counter),
        or None: a ticket sent to a window nobody staffs would wait there for nobody."""
        return CANNOT_TAKE.get(self.windows[window_id].state)

    def transfer_targets(self, window_id: str) -> dict[str, list[dict[str, Any]]]:
        """Where the ticket held at `window_id` can be transferred now, and why not elsewhere: each category
        with a staffed window that serves it, each other window that can take it (`cannot_take`)."""
        ws, t = self._held(window_id)
        windows = []
        for w in sorted(self.config.windows, key=lambda w: w.number):
            if w.id != window_id:
                why = self.cannot_take(w.id)
                windows.append({"id": w.id, "number": w.number, "name": w.name, "ok": why is None,
                                "why": why[2] if why else None})
        categories = []
        for c in self.config.categories:
            serving = self.windows_serving(replace(t, category_id=c.id, target_window_id=None))
            staffed = [w for w in serving if self.cannot_take(w) is None]
            why = None if staffed else "没有办理该分类的窗口" if not serving else "暂无在岗窗口"
            categories.append({"id": c.id, "name": c.name, "ok": why is None, "why": why})
        return {"categories": categories, "windows": windows}

    def cancel(self, ticket_id: str, now: datetime, by: str) -> Decision:
        """Staff at the desk cancel a waiting ticket; `by` (their 工号) goes into the ledger."""
        t = self.ticket(ticket_id)
        if t.status != TicketStatus.WAITING:
            raise HallError("ticket_not_waiting", "只有等候中的号票可以取消。")
        t = replace(t, status=TicketStatus.CANCELLED, finished_at=now)
        d = Decision(tickets=[t], result=t)
        d.emit("ticket.cancelled", self._ticket_event(t, by=by))
        return d

    def rejoin(self, ticket_id: str, now: datetime, by: str) -> Decision:
        """A late no-show re-joins the queue `rejoin_places` places back, once, within the allowed time.

        "N places back" means N normal tickets of its queue go first; 0 puts it at the head. `by` is the staff
        member who let it back in."""
        t = self.ticket(ticket_id)
        rules = self.config.queue
        if t.status != TicketStatus.NO_SHOW or t.skipped_at is None:
            raise HallError("ticket_not_skipped", "只有已过号的号票可以重新排队。")
        if t.rejoined:
            raise HallError("rejoin_used", "该号票已重新排队过一次，请重新取号。")
        if _seconds(now, t.skipped_at) > rules.rejoin_within_minutes * 60:
            raise HallError("rejoin_expired", f"过号已超过{rules.rejoin_within_minutes:g}分钟，请重新取号。")
        queue = self.waiting[t.category_id].normals if t.category_id in self.waiting else []
        if rules.rejoin_places == 0 and queue:
            queue_at = queue[0].queue_at - timedelta(microseconds=1)
        elif len(queue) > rules.rejoin_places:
            anchor, after = queue[rules.rejoin_places - 1].queue_at, queue[rules.rejoin_places].queue_at
            queue_at = anchor + (after - anchor) / 2
        elif queue:
            queue_at = max(queue[-1].queue_at, now)
        else:
            queue_at = now
        t = replace(t, status=TicketStatus.WAITING, queue_at=queue_at, rejoined=True, window_id=None, called_at=None)
        d = Decision(tickets=[t], result=t)
        d.emit("ticket.rejoined", self._ticket_event(t, places_back=rules.rejoin_places, by=by))
        return d

    def sign_in(self, window_id: str, staff_id: str, now: datetime) -> Decision:
        w = self.window_config(window_id)
        staff = self.config.staff_member(staff_id)
        if staff is None:
            raise not_found("staff", staff_id)
        if staff.disabled:
            raise HallError("staff_disabled", f"{staff.name}（{staff.id}）的账号已停用，不能签到。", 403)
        ws = self.windows[window_id]
        if ws.state == WindowState.CLOSED:
            raise HallError("window_closed", "该窗口已关闭，请联系大厅管理人员开启。")
        standin = w.id not in staff.windows
        if standin and w.id not in staff.standin_windows:
            raise HallError("not_assigned", f"{staff.name}（{staff.id}）未被安排在{w.name}，不能签到。", 403)
        for other in self.windows.values():
            if other.staff_id == staff_id and other.id != window_id:
                raise HallError("staff_elsewhere", f"{staff.name}已在{self.window_config(other.id).name}签到，请先签离。")
        d = Decision()
        if ws.staff_id == staff_id:
            d.result = ws
            return d
        if ws.staff_id is not None:
            if not standin and ws.standin is False:
                raise HallError("window_occupied", f"{w.name}已有工作人员签到。")
            # AB岗: a stand-in (or the regular staff returning) takes the window over.
            d.emit("staff.signed_out", self._staff_event(ws, now, reason="takeover"))
        state = ws.state if ws.state in (WindowState.SERVING, WindowState.PAUSED) else WindowState.OPEN
        nws = replace(ws, state=state, since=now if state != ws.state else ws.since, staff_id=staff_id,
                      standin=standin, signed_in_at=now)
        d.windows.append(nws)
        d.result = nws
        staff = self.config.staff_member(staff_id)
        # The card the window's screens show (公开 at the window by rule): screens learn it here, not from a
        # hall-wide staff list.
        d.emit("staff.signed_in", {"window_id": window_id, "staff_id": staff_id, "standin": standin,
                                   "at": now.isoformat(), "window": self._window_event(nws),
                                   "staff": {"id": staff_id, "name": staff.name, "unit": staff.unit}
                                   if staff else None})
        return d

    def sign_out(self, window_id: str, now: datetime) -> Decision:
        ws = self.windows[self.window_config(window_id).id]
        if ws.staff_id is None:
            raise HallError("not_signed_in", "该窗口无人签到。")
        if ws.ticket_id is not None:
            raise HallError("window_busy", "请先办结、过号或转移当前号票再签离。")
        nws = replace(ws, state=WindowState.SIGNED_OUT, since=now, staff_id=None, standin=False,
                      signed_in_at=None, priority_streak=0, pause_reason=None)
        d = Decision(windows=[nws], result=nws)
        d.emit("staff.signed_out", self._staff_event(ws, now, reason="sign_out", window=nws))
        return d

    def pause(self, window_id: str, now: datetime, reason: str | None = None) -> Decision:
        ws = self._window_ready(window_id)
        if ws.state == WindowState.SERVING:
            raise HallError("window_busy", "请先办结、过号或转移当前号票再暂停服务。")
        if ws.state == WindowState.PAUSED:
            return Decision(result=ws)
        nws = replace(ws, state=WindowState.PAUSED, since=now, pause_reason=reason)
        d = Decision(windows=[nws], result=nws)
        d.emit("window.paused", self._window_event(nws))
        return d

    def resume(self, window_id: str, now: datetime) -> Decision:
        ws = self._window_ready(window_id)
        if ws.state != WindowState.PAUSED:
            raise HallError("window_not_paused", "窗口未处于暂停服务状态。")
        nws = replace(ws, state=WindowState.OPEN, since=now, pause_reason=None)
        d = Decision(windows=[nws], result=nws)
        d.emit("window.resumed", self._window_event(nws))
        return d

    def close_window(self, window_id: str, now: datetime, by: str) -> Decision:
        ws = self.windows[self.window_config(window_id).id]
        if ws.ticket_id is not None:
            raise HallError("window_busy", "该窗口正在办理，办结后才能关闭。")
        if ws.state == WindowState.CLOSED:
            return Decision(result=ws)
        d = Decision()
        if ws.staff_id is not None:
            d.emit("staff.signed_out", self._staff_event(ws, now, reason="window_closed"))
        nws = replace(ws, state=WindowState.CLOSED, since=now, staff_id=None, standin=False, signed_in_at=None,
                      priority_streak=0, pause_reason=None)
        d.windows.append(nws)
        d.result = nws
        d.emit("window.closed", {**self._window_event(nws), "by": by})
        return d

    def open_window(self, window_id: str, now: datetime, by: str) -> Decision:
        ws = self.windows[self.window_config(window_id).id]
        if ws.state != WindowState.CLOSED:
            return Decision(result=ws)
        nws = replace(ws, state=WindowState.SIGNED_OUT, since=now)
        d = Decision(windows=[nws], result=nws)
        d.emit("window.opened", {**self._window_event(nws), "by": by})
        return d

    def set_weights(self, window_id: str, weights: dict[str, float] | None, now: datetime, by: str) -> Decision:
        ws = self.windows[self.window_config(window_id).id]
        if weights is not None:
            if not weights:
                raise HallError("invalid_weights", "至少指定一个分类。", 422)
            for cat, weight in weights.items():
                if self.config.category(cat) is None:
                    raise not_found("category", cat)
                if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 < weight <= 100:
                    raise HallError("invalid_weights", f"分类“{cat}”的权重须在 0–100 之间。", 422)
            weights = {k: float(v) for k, v in weights.items()}
        nws = replace(ws, weights=weights)
        d = Decision(windows=[nws], result=nws)
        d.emit("window.categories_changed", {**self._window_event(nws), "by": by})
        return d

    # ----------------------------------------------------------------- apply

    def apply(self, d: Decision) -> None:
        """Take a committed decision into the in-memory state."""
        self.version += 1
        for key, value in d.counters.items():
            self.counters[key] = value
        for t in d.tickets:
            self._put(t)
        for ws in d.windows:
            old = self.windows.get(ws.id)
            if old is None or old.weights != ws.weights:
                self._weights.clear()
                self._serving.clear()
                self._ghost_of = None
            self.windows[ws.id] = ws

    def _put(self, t: Ticket) -> None:
        old = self.tickets.get(t.id)
        if old is None:
            self.issued_per_service[(t.day, t.service_id)] = self.issued_per_service.get((t.day, t.service_id), 0) + 1
            self.counters[(t.day, t.prefix)] = max(self.counters.get((t.day, t.prefix), 0), t.seq)
        else:
            if old.status == TicketStatus.WAITING:
                self.waiting[old.category_id].remove(old)
        self.tickets[t.id] = t
        self.by_token[t.token] = t
        if t.request_id is not None:
            self.by_request[t.request_id] = t.id
        if t.status == TicketStatus.WAITING:
            self.waiting.setdefault(t.category_id, CategoryQueue()).add(t)
        # The live pace is the window time a called ticket takes: a 过号 holds the window only for the
        # recalls, and counting it keeps the tickets ahead (of whom some will not show) from being overrated.
        held = None
        if t.status == TicketStatus.FINISHED and (old is None or old.status != TicketStatus.FINISHED):
            held = (t.started_at, t.finished_at)
        elif t.status == TicketStatus.NO_SHOW and (old is None or old.status != TicketStatus.NO_SHOW):
            held = (t.called_at, t.skipped_at)
        svc = self.config.service(t.service_id) if held else None
        if held and held[0] and held[1] and svc is not None:
            recent = self.recent_service_s.setdefault(t.category_id, deque(maxlen=RECENT_SERVICES))
            recent.append((_seconds(held[1], held[0]), svc.minutes * 60.0))

    def forget_before(self, day: str) -> None:
        """Drop finished business of earlier days from memory (the ledger keeps it)."""
        for tid in [tid for tid, t in self.tickets.items() if t.day < day and t.status in TERMINAL]:
            t = self.tickets.pop(tid)
            self.by_token.pop(t.token, None)
            if t.request_id is not None:
                self.by_request.pop(t.request_id, None)
        for key in [k for k in self.issued_per_service if k[0] < day]:
            del self.issued_per_service[key]

    # ----------------------------------------------------------------- helpers

    def _window_ready(self, window_id: str) -> WindowStatus:
        ws = self.windows[self.window_config(window_id).id]
        if ws.state == WindowState.CLOSED:
            raise HallError("window_closed", "该窗口已关闭。")
        if ws.staff_id is None:
            raise HallError("not_signed_in", "请先在该窗口签到。", 403)
        return ws

    def _held(self, window_id: str) -> tuple[WindowStatus, Ticket]:
        ws = self._window_ready(window_id)
        if ws.ticket_id is None:
            raise HallError("no_current_ticket", "本窗口当前没有号票。")
        t = self.tickets[ws.ticket_id]
        assert t.status in ACTIVE
        return ws, t

    def _freed(self, ws: WindowStatus, now: datetime) -> WindowStatus:
        return replace(ws, state=WindowState.OPEN, since=now, ticket_id=None)

    def _ticket_event(self, t: Ticket, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"ticket": self.view(t, wait=False)}
        if t.window_id:
            w = self.config.window(t.window_id)
            data["window_id"] = t.window_id
            data["window_number"] = w.number if w else None
        data.update(extra)
        return data

    def _window_event(self, ws: WindowStatus) -> dict[str, Any]:
        w = self.window_config(ws.id)
        return {"window_id": ws.id, "window_number": w.number, "window_name": w.name, "window": ws.to_dict()}

    def _staff_event(self, ws: WindowStatus, now: datetime, reason: str, window: WindowStatus | None = None) -> dict[str, Any]:
        return {"window_id": ws.id, "staff_id": ws.staff_id, "standin": ws.standin, "reason": reason,
                "signed_in_at": ws.signed_in_at.isoformat() if ws.signed_in_at else None, "at": now.isoformat(),
                "window": (window or ws).to_dict()}


def _order_key(config: HallConfig, t: Ticket) -> tuple:
    """The order routing calls waiting tickets in (at a window of weight 1, before ageing): with the head
    start, by queue time less H for a priority ticket; otherwise priority classes first."""
    rank = config.priority(t.priority).rank if t.priority and config.priority(t.priority) else 1_000
    if config.queue.fairness == "head_start":
        head = timedelta(minutes=config.queue.priority_head_start_minutes) if t.priority else timedelta(0)
        return (t.queue_at - head, rank, t.seq)
    return (rank, t.queue_at, t.seq)


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()
