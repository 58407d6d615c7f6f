"""The one place state changes: decide (pure hall) → write (ledger) → apply (memory) → COMMIT → publish (bus).

Every entry point — HTTP, keypads, pads, the kiosk — goes through `HallService.execute`, which hands the
command to the ledger's one writer thread (`Writer`, below) and waits for its COMMIT. The writer commits
the commands queued meanwhile as one group: one transaction, one fsync for them all. The event loop's
callers use `HallService.call`, so the loop keeps serving while a COMMIT waits for the disk.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread

from hall_controller.core.clock import Clock
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.events import Event, EventBus
from hall_controller.core.hall import Hall
from hall_controller.core.ledger import Ledger, StorageError, token_hash
from hall_controller.core.lockout import ALERT_AFTER, Lockout, account_key, known_key, pair_key
from hall_controller.core.model import Ticket, WindowStatus
from hall_controller.core.passwords import hash_secret, verify_secret
from hall_controller.core.settings import HallConfig

log = logging.getLogger(__name__)

SESSION_HOURS = 12  # a window sign-in lasts a working day at most
# Screens may read a wait forecast this old though the hall changed since: under a burst of tickets the
# forecast (core/forecast.py) is played once per this, not once per ticket; a new ticket reads its matter's ghost.
FORECAST_STALE_S = 2.0
# What a PIN tried at an id no account has is verified against: the same work, so the same answer time.
_NO_ACCOUNT = hash_secret(secrets.token_urlsafe(16))

Rider = Callable[[Decision], None]
# A feature's addition to a window command's decision, in its transaction: (decision, now, details) where
# details are what the command carried for that feature (a finish's 办件编号 and outcomes: features/applications).
Extension = Callable[[Decision, datetime, dict[str, Any]], None]
# Additions to the next command executed in this context (`HallService.riding`): a device event's id and
# verdict commit in the same transaction as the action the event caused.
_riders: ContextVar[list[Rider] | None] = ContextVar("riders", default=None)


def session_live(expires_at: str, now: datetime) -> bool:
    """A sign-in (staff, keypad or manager) is valid until, not at, its end: a sign-out that sets the end to
    now ends it at once."""
    return now.isoformat() < expires_at


def client_key(request_id: str | None) -> str | None:
    """A client's idempotency key in the namespace kept apart from the hall's own keys."""
    return None if request_id is None else f"client:{request_id}"


# ------------------------------------------------------------------ the writer
# Commands queue while the writer is busy committing; when it comes round it takes them all at once, so one
# COMMIT — one fsync — answers every caller that was waiting. What a group does is `HallService._commit`'s;
# this is the queue and the thread. The thread starts with the first command and ends when idle for a while,
# so a service nobody closes (tests, tools) leaves no thread behind.

IDLE_S = 5.0  # an idle writer thread ends after this; the next command starts another

@dataclass(eq=False)
class Command:
    """A command for the writer: how to decide it, the riders its caller's context adds (`HallService.riding`),
    and the future its caller waits on."""

    decide: Callable[[datetime], Decision]
    riders: list[Rider] | None
    future: Future[Any] = field(default_factory=Future)


class Writer:
    def __init__(self, commit: Callable[[list[Command]], None]):
        self._commit = commit
        self._queue: list[Command] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, command: Command) -> None:
        with self._wake:
            self._queue.append(command)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="ledger-writer", daemon=True)
                self._thread.start()
            else:
                self._wake.notify()

    def on_thread(self) -> bool:
        """Whether this is the writer's thread (which must never wait for itself)."""
        return threading.current_thread() is self._thread

    def _serve(self) -> None:
        while True:
            with self._wake:
                if not self._queue:
                    self._wake.wait(IDLE_S)
                if not self._queue:
                    self._thread = None
                    return
                group, self._queue = self._queue, []
            try:
                self._commit(group)
            except BaseException as exc:  # a bug: no caller may wait for ever, and the writer must go on
                log.exception("ledger writer failed on a group of %d commands", len(group))
                for command in group:
                    if not command.future.done():
                        command.future.set_exception(exc)


class HallService:
    def __init__(self, config: HallConfig, ledger: Ledger, clock: Clock, bus: EventBus | None = None):
        self.config = config
        self.ledger = ledger
        self.clock = clock
        self.bus = bus or EventBus()
        self.lockout = Lockout.load(ledger.query("SELECT key, failures, last FROM lockouts"), clock.now())
        # Memory (`hall`): the writer holds it while it decides and applies a command, never across a COMMIT;
        # another thread holds it to walk memory or change it. Never execute while holding it.
        self.lock = threading.RLock()
        self._secrets = threading.Lock()  # one PIN or password check at a time, as when all ran on the loop
        self._writer = Writer(self._commit)
        # window action (and "sign-in", "rating") -> features' additions (install time)
        self.extensions: dict[str, list[Extension]] = {}
        # Tickets features know will come today (booked appointments), which wait estimates let go first
        # (install time; core/forecast.py).
        self.expected: list[Callable[[datetime], Sequence[Ticket]]] = []
        self._expected: tuple[datetime | None, list[Ticket]] = (None, [])
        self.day = clock.now().date().isoformat()
        tickets, windows, counters = ledger.load_state(self.day)
        self.hall = Hall(config, tickets, windows, counters)

    # ------------------------------------------------------------------ the one write path

    def execute(self, decide: Callable[[datetime], Decision]) -> Any:
        """Decide, commit and apply one command; returns its result once its COMMIT returned, or raises its
        HallError (503 `storage_unavailable` when the ledger cannot take it). Blocks the calling thread: the
        event loop uses `call`. The riders of the caller's context (`riding`) go with this command only."""
        command = Command(decide, _riders.get())
        if not self._writer.on_thread():
            self._writer.submit(command)
        elif self.ledger.writing():
            raise RuntimeError("a decision cannot execute another command")
        else:  # a listener the writer runs (no event loop attached): it cannot wait for itself
            self._commit([command])
        return command.future.result()

    async def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a service command (anything that executes) from the event loop and await its result, returned once
        committed. The event loop's callers (device coordinators, HTTP routes) use this rather than calling the
        command directly: it runs on a worker thread, so the loop keeps serving while the command waits for its
        COMMIT. The thread runs in a copy of the caller's context: its riders go with the command."""
        return await to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    def _commit(self, group: list[Command]) -> None:
        """The writer's turn at a group: each command decided against memory as the ones before it left it,
        written and applied in order — so the group does exactly what the commands one after another would —
        then one COMMIT. Only then are the events delivered and the callers answered: all with 503 if the
        COMMIT failed, and memory read again from the ledger, which never saw the group."""
        events: list[Event] = []
        written: list[Command] = []
        config = self.config
        try:
            with self.ledger.transaction():
                outcomes = [self._step(command, events, written) for command in group]
        except Exception as exc:
            with self.lock:
                self.config = config  # a new version in the failed group was never committed
                self.hall = Hall(self.config, *self.ledger.load_state(self.day))
            if not isinstance(exc, StorageError):
                raise  # a bug: the writer fails the group with it
            log.error("ledger write failed: %s", exc)
            for command in group:
                error = HallError("storage_unavailable", "系统存储暂时不可用，本次操作未生效，请稍后重试或联系管理员。", 503)
                error.__cause__ = exc
                command.future.set_exception(error)
            return
        if events:
            self.bus.deliver(events)  # before the callers resume: on the loop, they find them published
        for command in written:
            if command.riders:
                command.riders.clear()
        for command, (ok, value) in zip(group, outcomes):
            if ok:
                command.future.set_result(value)
            else:
                command.future.set_exception(value)

    def _step(self, command: Command, events: list[Event], written: list[Command]) -> tuple[bool, Any]:
        """Decide one command of a group, write it into the open transaction and apply it to memory. A decide
        that raises fails its own command only (deciding changes nothing); a write or apply that raises fails
        the group."""
        with self.lock:
            now = self.clock.now()
            self._roll_day(now)
            try:
                d = command.decide(now)
                for add in command.riders or ():
                    add(d)
            except Exception as exc:  # noqa: BLE001 — its caller's, raised there
                return False, exc
            if not d.empty:
                events += self.ledger.write(d, now)
                self.hall.apply(d)
                if d.config is not None:
                    self.config = d.config
                    self.hall = self.hall.reconfigured(d.config)
                written.append(command)
        return True, d.result

    @contextmanager
    def riding(self, *add: Rider) -> Iterator[list[Rider]]:
        """Within the block, the next command that commits also gets what `add` puts into its decision. Yields
        the riders, still there if nothing committed them; `riding()` with none shields a command."""
        riders = list(add)
        token = _riders.set(riders)
        try:
            yield riders
        finally:
            _riders.reset(token)

    def write_rows(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Rows with no event and no hall state (sessions): still one transaction through the ledger."""
        self.execute(lambda now: Decision(rows=rows))

    def _roll_day(self, now: datetime) -> None:  # under `lock`
        day = now.date().isoformat()
        if day != self.day:
            self.day = day
            self.hall.forget_before(day)

    # ------------------------------------------------------------------ tickets

    def issue_ticket(self, service_id: str, channel: str, priority: str | None = None,
                     request_id: str | None = None, *, key: str | None = None, source: str | None = None,
                     **extra: Any) -> dict[str, Any]:
        """Issue a ticket, once per idempotency key: a replay returns the same ticket.

        `request_id` is a client's key (kiosk, API); `key` is the hall's own for a ticket it issues for
        someone (an appointment's check-in: `appointment:<id>`). Client keys are stored as `client:<id>`,
        so no client can name, and so claim, a ticket the hall issued for someone else.

        The token (which follows and rates the ticket) is disclosed once, to the device that took it: the
        view has `token` on the first issue and on a replay from the same `source`, never to anyone else.
        """
        idem = key if key is not None else client_key(request_id)
        token = secrets.token_urlsafe(12)

        def decide(now: datetime) -> Decision:
            if idem is not None and idem not in self.hall.by_request:
                # Memory holds today's keys and those of tickets still active; an older finished one is only
                # in the ledger, whose unique index would refuse it: a key names one ticket for good.
                used = self.ledger.query("SELECT day, number FROM tickets WHERE request_id = ?", (idem,))
                if used:
                    raise HallError("request_id_used", f"该请求编号已用于 {used[0][0]} 的号票 {used[0][1]}，"
                                                       "请使用新的请求编号重新取号。", 409)
            return self.hall.issue(service_id, channel, now, token, priority=priority, request_id=idem,
                                   source=source, **extra)

        t: Ticket = self.execute(decide)
        view = self.view(t)
        if t.token == token or (source is not None and t.source == source):
            view["token"] = t.token
        return view

    def is_replay(self, request_id: str) -> bool:
        """Whether a client's `request_id` already names a ticket in memory (a retried or double-tapped issue)."""
        return client_key(request_id) in self.hall.by_request

    def view(self, ticket: Ticket) -> dict[str, Any]:
        """The ticket as clients see it, with its place in the queue now (safe from any thread)."""
        now = self.clock.now()
        expected = self.expected_tickets(now)
        with self.lock:
            return self.hall.view(ticket, now, expected=expected, stale_s=FORECAST_STALE_S)

    def expected_tickets(self, now: datetime) -> list[Ticket]:
        """The features' expected tickets, asked again once the list is FORECAST_STALE_S old (a query each)."""
        at, tickets = self._expected
        if at is None or not 0 <= (now - at).total_seconds() <= FORECAST_STALE_S:
            tickets = [t for source in self.expected for t in source(now)]
            self._expected = (now, tickets)
        return tickets

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.view(self.find_ticket(ticket_id))

    def ticket_by_token(self, token: str) -> dict[str, Any]:
        t = self.hall.by_token.get(token)
        if t is not None:
            return self.view(t)
        ticket_id = self.ledger.ticket_by_token(token)
        if ticket_id is None:
            raise HallError("unknown_ticket", "未找到该号票。", 404)
        return self.ticket(ticket_id)

    def find_ticket(self, ticket_id: str) -> Ticket:
        """A ticket from memory, or from the ledger for an earlier day's finished business."""
        t = self.hall.tickets.get(ticket_id)
        if t is not None:
            return t
        rows = self.ledger.query("SELECT data FROM tickets WHERE id = ?", (ticket_id,))
        if not rows:
            raise HallError("unknown_ticket", f"未找到号票：{ticket_id}", 404)
        return Ticket.from_dict(json.loads(rows[0][0]))

    def cancel(self, ticket_id: str, by: str) -> dict[str, Any]:
        return self.view(self.execute(lambda now: self.hall.cancel(ticket_id, now, by)))

    def rejoin(self, ticket_id: str, by: str) -> dict[str, Any]:
        return self.view(self.execute(lambda now: self.hall.rejoin(ticket_id, now, by)))

    # ------------------------------------------------------------------ windows

    def check_secret(self, account: str, source: str, secret: str, hashed: str | None,
                     failed_event: tuple[str, dict[str, Any]] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Verify a PIN or password tried at `account` from `source` (an address, a keypad), with the waits of
        repeated wrong tries (core/lockout.py).

        A wrong one is committed at once, with `failed_event` for a real account and `lockout.alert` when the
        account's failures reach the alert line; an id no account has is verified against a stand-in hash and
        counted and stored the same way, so nothing tells the two apart. A right one returns the rows that
        mark the source known to the account and clear its count, for the caller to commit with its own
        decision and then `cleared(account, source)`. Tries from several threads take turns."""
        with self._secrets:
            now = self.clock.now()
            self.lockout.check(account, source, now)
            right = verify_secret(secret, hashed or _NO_ACCOUNT)
            if hashed is None or not right:
                counts = self.lockout.failure(account, source, now)
                events = [failed_event] if failed_event and hashed is not None else []
                failures = counts[account_key(account)].failures
                if failures == ALERT_AFTER:
                    sources = self.lockout.sources(account, now) + (self.lockout.attempts(pair_key(account, source), now) is None)
                    events.append(("lockout.alert", {"account": account, "failures": failures, "sources": sources}))
                with self.riding():  # the wrong try is its own command, not the one a device event waits for
                    self.execute(lambda now: Decision(rows=[
                        ("lockouts", {"key": key, "failures": a.failures, "last": a.last.isoformat()})
                        for key, a in counts.items()], events=events))
                self.lockout.apply(counts, {}, now)
                raise HallError("bad_credentials", "工号或密码错误。", 401)
            rows = [("lockouts", {"key": known_key(account, source), "failures": 0, "last": now.isoformat()})]
            if self.lockout.attempts(pair_key(account, source), now) is not None:
                rows.append(("lockouts", {"key": pair_key(account, source), "failures": 0, "last": now.isoformat()}))
            return rows

    def cleared(self, account: str, source: str) -> None:
        """A right PIN or password was committed: the source is known to the account, its wrong tries forgotten."""
        with self._secrets:
            now = self.clock.now()
            self.lockout.apply({pair_key(account, source): None}, {known_key(account, source): now}, now)

    def clear_lockout(self, account: str, by: str) -> int:
        """A manager clears every wait on `account` (the staff member is at a new PC, or it was an attack), as
        the event `lockout.cleared` with `by`. Returns how many counts were cleared."""
        with self._secrets:
            keys = self.lockout.of_account(account)
            self.execute(lambda now: Decision(
                rows=[("lockouts", {"key": key, "failures": 0, "last": now.isoformat()}) for key in keys],
                events=[("lockout.cleared", {"account": account, "by": by, "cleared": len(keys)})]))
            self.lockout.apply({key: None for key in keys}, {}, self.clock.now())
            return len(keys)

    def sign_in(self, window_id: str, staff_id: str, pin: str, source: str = "?") -> dict[str, Any]:
        staff = self.config.staff_member(staff_id)
        key = f"staff:{staff_id}"
        # A disabled (停用) account answers as an unknown one: its PIN no longer opens a window.
        clear = self.check_secret(key, source, pin, staff.pin_hash if staff and not staff.disabled else None)
        token = secrets.token_urlsafe(24)

        def decide(now: datetime) -> Decision:
            d = self.hall.sign_in(window_id, staff_id, now)
            for extend in self.extensions.get("sign-in", ()):  # may refuse it (the rota's B岗 limits)
                extend(d, now, {})
            ws: WindowStatus = d.result
            d.rows.extend(clear)
            d.rows.append(("sessions", {
                "token_hash": token_hash(token), "kind": "staff", "subject": staff_id, "window_id": window_id,
                "signed_in_at": ws.signed_in_at.isoformat() if ws.signed_in_at else None,
                "expires_at": (now + timedelta(hours=SESSION_HOURS)).isoformat(),
            }))
            return d

        ws = self.execute(decide)
        self.cleared(key, source)
        return {"token": token, "window": self.window_view(ws.id), "expires_in_s": SESSION_HOURS * 3600}

    def authorise(self, token: str | None, window_id: str) -> str:
        """The staff id a bearer token speaks for at this window; 401/403 otherwise."""
        if not token:
            raise HallError("unauthorised", "请先在窗口签到。", 401)
        s = self.ledger.session(token)
        if s is None or s["kind"] != "staff":
            raise HallError("unauthorised", "登录凭证无效，请重新签到。", 401)
        if s["window_id"] != window_id:
            raise HallError("forbidden", "该凭证不属于此窗口。", 403)
        return self.check_sign_in(s["subject"], s["signed_in_at"], s["expires_at"], window_id)

    def check_sign_in(self, staff_id: str, signed_in_at: str | None, expires_at: str, window_id: str) -> str:
        """The one rule of a staff sign-in (a bearer token's or a keypad's): still live, and the window's
        current sign-in by that same staff member — not one they signed out of or a stand-in took over."""
        if not session_live(expires_at, self.clock.now()):
            raise HallError("session_expired", "登录已过期，请重新签到。", 401)
        ws = self.hall.windows.get(window_id)
        current = ws.signed_in_at.isoformat() if ws and ws.signed_in_at else None
        if ws is None or ws.staff_id != staff_id or current != signed_in_at:
            raise HallError("unauthorised", "您已签离或被替岗，请重新签到。", 401)
        return staff_id

    def authorise_any_staff(self, token: str | None) -> str:
        """Desk actions (cancel, late re-join) need a signed-in staff member at any window."""
        s = self.ledger.session(token) if token else None
        if s is None or s["kind"] != "staff":
            raise HallError("unauthorised", "请工作人员签到后操作。", 401)
        return self.authorise(token, s["window_id"])

    def window_view(self, window_id: str) -> dict[str, Any]:
        with self.lock:
            w = self.hall.window_config(window_id)
            ws = self.hall.windows[window_id]
            staff = self.config.staff_member(ws.staff_id) if ws.staff_id else None
            current = self.hall.tickets.get(ws.ticket_id) if ws.ticket_id else None
            return {
                "id": w.id, "number": w.number, "name": w.name, "mode": w.mode, "label": w.label,
                "state": ws.state.value, "since": ws.since.isoformat() if ws.since else None,
                "pause_reason": ws.pause_reason,
                "staff": {"id": staff.id, "name": staff.name, "unit": staff.unit, "photo": staff.photo,
                          "standin": ws.standin} if staff else None,
                "categories": self.hall.weights(w.id), "services": list(w.services),
                "ticket": self.hall.view(current) if current else None,
                # the counter's 转移 dialog: what can take the held ticket now, and why not the others
                "transfer_targets": self.hall.transfer_targets(w.id) if current else None,
            }

    def window_command(self, window_id: str, action: str, *, token: str | None = None,
                       details: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A window's command. With a bearer `token`, its sign-in is checked again as the command is decided: a
        sign-out or take-over committed just before refuses it, as when commands ran one after another.
        `details` go to the features extending the action (`extensions`), decided in the same transaction."""
        extensions = self.extensions.get(action, ())
        if details and not extensions:
            raise HallError("details_unsupported", "本大厅未启用办件登记，不能提交办件信息。", 422)
        name = {
            "call-next": "call_next", "recall": "recall", "start": "start", "skip": "skip", "finish": "finish",
            "transfer": "transfer", "pause": "pause", "resume": "resume", "sign-out": "sign_out",
        }[action]

        def decide(now: datetime) -> Decision:
            if token is not None:
                self.authorise(token, window_id)
            # Looked up here: memory read again after a failed COMMIT is a new Hall.
            d = getattr(self.hall, name)(window_id, now, **kwargs)
            for extend in extensions:
                extend(d, now, details or {})
            return d

        return self.execute(decide)

    # ------------------------------------------------------------------ hall snapshot

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        with self.lock:
            seq = self.ledger.last_seq
            hall = self.hall
            queues = []
            for c in self.config.categories:
                queue = hall.waiting.get(c.id)
                oldest = queue.oldest() if queue else None
                longest = (now - oldest.queue_at).total_seconds() if oldest else 0
                queues.append({"category_id": c.id, "name": c.name, "waiting": len(queue) if queue else 0,
                               "longest_wait_s": int(longest)})
            today = [t for t in hall.tickets.values() if t.day == self.day]
            counts: dict[str, int] = {"issued": len(today)}
            for t in today:
                counts[t.status.value] = counts.get(t.status.value, 0) + 1
            windows = [self.window_view(w.id) for w in self.config.windows]
        return {
            "hall": self.config.name, "at": now.isoformat(), "day": self.day, "seq": seq,
            "windows": windows, "queues": queues, "counts": counts,
        }
