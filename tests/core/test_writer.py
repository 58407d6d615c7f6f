"""The ledger's one writer with every COMMIT stalled 150 ms (`Ledger.commit_delay_s`, the test hook): the event loop
runs on, earlier events are delivered while a later group is held, commands from many threads share one COMMIT,
a failed COMMIT fails its whole group and leaves memory as the ledger has it, and a group does what the same
commands one after another do.

Nothing here depends on the machine's speed: groups are formed by holding the writer in a decision until the
commands meant to follow are queued, and time is only used to see the loop tick during a stalled COMMIT.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.app import open_ledger
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.hall import Hall
from hall_controller.core.service import Command, HallService
from tests.factory import MONDAY_10, small_hall

STALL = 0.15  # s: every COMMIT of these tests waits this long, as on a disk whose fsync is slow


@pytest.fixture
def stalled(service: HallService) -> HallService:
    service.ledger.commit_delay_s = STALL
    return service


class Queued:
    """Counts the commands handed to the writer, so a test can hold the writer until its group is queued."""

    def __init__(self, service: HallService, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        self._changed = threading.Condition()
        submit = service._writer.submit

        def counting(command: Command) -> None:
            submit(command)
            with self._changed:
                self.count += 1
                self._changed.notify_all()

        monkeypatch.setattr(service._writer, "submit", counting)

    def wait_for(self, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count >= n, timeout=10), f"{n} commands never queued"


def commits(service: HallService) -> list[str]:
    """The COMMITs the writer's connection runs from now on."""
    seen: list[str] = []
    service.ledger.conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def memory(hall: Hall) -> tuple:
    """A copy of what the hall holds in memory."""
    return (dict(hall.tickets), dict(hall.windows), dict(hall.counters), dict(hall.by_request),
            dict(hall.issued_per_service), {c: list(q) for c, q in hall.waiting.items() if len(q)})


def test_the_loop_runs_on_and_earlier_events_arrive_while_a_later_group_is_held(stalled, monkeypatch):
    queued = Queued(stalled, monkeypatch)
    deciding_a, held, release = threading.Event(), threading.Event(), threading.Event()

    def a(now: datetime) -> Decision:  # alone in its group: the next two queue behind it
        deciding_a.set()
        queued.wait_for(4)
        return stalled.hall.issue("S1", "kiosk", now, "token-a")

    def b2(now: datetime) -> Decision:  # holds the group open, B1's ticket written in it, until the loop has looked
        held.set()
        assert release.wait(10)
        return stalled.hall.issue("S1", "kiosk", now, "token-b2")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        stalled.bus.attach(loop)
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.02)

        ticking = asyncio.create_task(ticker())
        try:
            with stalled.bus.subscribe() as sub:
                # One command: the loop ticks while its COMMIT stalls, and its event is there when it returns.
                t0 = time.monotonic()
                first = await stalled.call(stalled.issue_ticket, "S1", "kiosk")
                t1 = time.monotonic()
                assert t1 - t0 >= STALL and any(t0 < t < t1 for t in ticks)
                assert sub.queue.get_nowait()[0]["data"]["ticket"]["id"] == first["id"]

                # A commits alone; B1 and B2 are the next group, held open by B2's decision.
                a_done = asyncio.create_task(stalled.call(stalled.execute, a))
                await asyncio.to_thread(deciding_a.wait, 10)
                b1_done = asyncio.create_task(stalled.call(stalled.issue_ticket, "S1", "kiosk"))
                await asyncio.to_thread(queued.wait_for, 3)
                b2_done = asyncio.create_task(stalled.call(stalled.execute, b2))
                event, _ = await asyncio.wait_for(sub.get(), 10)  # A's, though the writer is busy with B's group
                assert event["data"]["ticket"]["number"] == "A002" and (await a_done).number == "A002"
                await asyncio.to_thread(held.wait, 10)
                # B1's ticket is written in the open transaction: no reader sees it, nothing is published.
                committed = stalled.ledger.last_seq
                assert [e["seq"] for e in stalled.ledger.events_since(0)] == [1, 2] and committed == 2
                assert stalled.ledger.query("SELECT COUNT(*) FROM tickets")[0][0] == 2
                assert sub.queue.empty() and not b1_done.done()
                before = len(ticks)
                await asyncio.sleep(0.1)
                assert len(ticks) > before  # the loop is not waiting for the writer
                release.set()
                assert (await b1_done)["number"] == "A003" and (await b2_done).number == "A004"
                later = [(await asyncio.wait_for(sub.get(), 10))[0] for _ in range(2)]
                assert [(e["seq"], e["data"]["ticket"]["number"]) for e in later] == [(3, "A003"), (4, "A004")]
        finally:
            ticking.cancel()
            release.set()
            stalled.bus.detach(loop)

    asyncio.run(scenario())


def test_commands_from_many_threads_share_one_commit_and_each_gets_its_own_result(stalled, monkeypatch):
    n = 8
    queued = Queued(stalled, monkeypatch)
    holding = threading.Event()
    seen = commits(stalled)

    def hold(now: datetime) -> Decision:  # keeps the writer until all n are queued behind it
        holding.set()
        queued.wait_for(n + 1)
        return Decision()

    with ThreadPoolExecutor(n + 1) as pool:
        opener = pool.submit(stalled.execute, hold)
        assert holding.wait(10)
        issued = [pool.submit(stalled.issue_ticket, "S1", "kiosk", request_id=f"r{i}") for i in range(n)]
        opener.result()
        views = [f.result() for f in issued]

    assert len(seen) == 2  # the opener's group, then all n in one
    assert sorted(v["number"] for v in views) == [f"A{i:03d}" for i in range(1, n + 1)]
    for i, view in enumerate(views):  # each caller got its own ticket
        assert stalled.ledger.query("SELECT request_id FROM tickets WHERE id = ?", (view["id"],))[0][0] == f"client:r{i}"
    assert [r[0] for r in stalled.ledger.query("SELECT seq FROM events ORDER BY seq")] == list(range(1, n + 1))
    assert stalled.ledger.last_seq == n


def test_a_refused_decision_fails_only_its_own_command(stalled, monkeypatch):
    queued = Queued(stalled, monkeypatch)
    holding = threading.Event()

    def hold(now: datetime) -> Decision:
        holding.set()
        queued.wait_for(4)
        return Decision()

    with ThreadPoolExecutor(4) as pool:
        opener = pool.submit(stalled.execute, hold)
        assert holding.wait(10)
        first = pool.submit(stalled.issue_ticket, "S1", "kiosk")
        queued.wait_for(2)
        refused = pool.submit(stalled.window_command, "1", "call-next")  # nobody signed in at window 1
        queued.wait_for(3)
        second = pool.submit(stalled.issue_ticket, "S1", "kiosk")
        opener.result()
        with pytest.raises(HallError) as e:
            refused.result()
        assert e.value.code == "not_signed_in"
        assert (first.result()["number"], second.result()["number"]) == ("A001", "A002")


class FailingCommit:
    """The writer's connection, whose COMMIT fails once `armed` (a disk that fills up as the group is written)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.armed = conn, False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_failed_commit_fails_its_whole_group_and_memory_is_read_again(stalled, monkeypatch):
    stalled.issue_ticket("S1", "kiosk")
    stalled.sign_in("1", "S001", "1234")
    before, seq = memory(stalled.hall), stalled.ledger.last_seq
    published: list[dict[str, Any]] = []
    stalled.bus.listen(published.append)
    disk = FailingCommit(stalled.ledger.conn)
    stalled.ledger.conn = disk
    queued = Queued(stalled, monkeypatch)
    holding = threading.Event()

    def hold(now: datetime) -> Decision:
        holding.set()
        queued.wait_for(4)
        return Decision()

    def call_and_fill_the_disk(now: datetime) -> Decision:
        disk.armed = True
        return stalled.hall.call_next("1", now)

    with ThreadPoolExecutor(4) as pool:
        opener = pool.submit(stalled.execute, hold)
        assert holding.wait(10)
        group = [pool.submit(stalled.issue_ticket, "S1", "kiosk")]
        queued.wait_for(2)
        group.append(pool.submit(stalled.execute, call_and_fill_the_disk))
        queued.wait_for(3)
        group.append(pool.submit(stalled.issue_ticket, "S2", "kiosk"))
        opener.result()
        for f in group:
            with pytest.raises(HallError) as e:
                f.result()
            assert e.value.status == 503 and e.value.code == "storage_unavailable"

    assert published == [] and stalled.ledger.last_seq == seq
    assert memory(stalled.hall) == before == memory(Hall(stalled.config, *stalled.ledger.load_state(stalled.day)))
    again = stalled.issue_ticket("S1", "kiosk")
    assert again["number"] == "A002" and stalled.ledger.last_seq == seq + 1  # no gap, no number reused


def test_riders_go_with_their_own_callers_command_in_a_group(stalled, monkeypatch):
    queued = Queued(stalled, monkeypatch)
    holding = threading.Event()

    def hold(now: datetime) -> Decision:
        holding.set()
        queued.wait_for(3)
        return Decision()

    def issue_riding() -> tuple[dict[str, Any], list]:
        with stalled.riding(lambda d: d.emit("test.rider", {})) as riders:
            return stalled.issue_ticket("S1", "kiosk"), riders

    with ThreadPoolExecutor(3) as pool:
        opener = pool.submit(stalled.execute, hold)
        assert holding.wait(10)
        plain = pool.submit(stalled.issue_ticket, "S2", "kiosk")
        queued.wait_for(2)
        riding = pool.submit(issue_riding)
        opener.result()
        (rode, riders), other = riding.result(), plain.result()
    assert riders == []  # committed with its command
    by_seq = [(e["type"], e["data"].get("ticket", {}).get("id")) for e in stalled.ledger.events_since(0)]
    assert by_seq == [("ticket.issued", other["id"]), ("ticket.issued", rode["id"]), ("test.rider", None)]

    async def from_the_loop() -> list:
        with stalled.riding(lambda d: d.emit("test.rider", {})) as riders:
            await stalled.call(stalled.issue_ticket, "S1", "kiosk")  # the worker thread runs in this context
            return riders

    assert asyncio.run(from_the_loop()) == []
    assert [e["type"] for e in stalled.ledger.events_since(3)] == ["ticket.issued", "test.rider"]


def test_a_decision_cannot_execute_another_but_a_listener_on_the_writer_can(service):
    def nested(now: datetime) -> Decision:
        service.execute(lambda now: Decision(events=[("test.inner", {})]))
        return Decision()

    with pytest.raises(RuntimeError):
        service.execute(nested)
    # No loop attached: events are published on the writer, and a listener's command commits there, inline.
    service.bus.listen(lambda e: e["type"] == "test.outer" and service.execute(
        lambda now: Decision(events=[("test.echo", {})])))
    service.execute(lambda now: Decision(events=[("test.outer", {})]))
    assert [e["type"] for e in service.ledger.events_since(0)] == ["test.outer", "test.echo"]


# ------------------------------------------------------------------------- a group == one after another

class SteppingClock:
    """Each reading one second on: both runs below read it once per command, so they see the same times."""

    def __init__(self) -> None:
        self.current = MONDAY_10

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


STAFF = {"1": "S001", "2": "S002", "3": "S003", "4": "S004", "9": "S009"}
windows = st.sampled_from(sorted(STAFF))
commands = st.lists(st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(["S1", "S2", "B1", "O1", "P1"]), st.sampled_from([None, "green"])),
    st.tuples(st.just("sign_in"), windows, st.sampled_from(["S001", "S002", "S003", "S004", "S009"])),
    st.tuples(st.sampled_from(["call_next", "recall", "start", "skip", "finish", "pause", "resume", "sign_out"]), windows),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("count")),
), max_size=30)


def decision(svc: HallService, i: int, command: tuple) -> Any:
    kind, *args = command

    def decide(now: datetime) -> Decision:
        hall = svc.hall
        if kind == "issue":
            return hall.issue(args[0], "kiosk", now, f"token-{i}", priority=args[1])
        if kind == "sign_in":
            return hall.sign_in(args[0], args[1], now)
        if kind == "count":  # reads the ledger: in a group, what the commands before it wrote
            n = svc.ledger.query("SELECT COUNT(*) FROM tickets")[0][0]
            return Decision(events=[("test.counted", {"tickets": n})], result=n)
        if kind == "cancel":
            waiting = sorted(hall.waiting_tickets(), key=lambda t: t.id)
            return hall.cancel(waiting[args[0] % len(waiting)].id, now, "S001") if waiting else Decision()
        return getattr(hall, kind)(args[0], now)

    return decide


def settled(future: Any) -> tuple[str, Any]:
    try:
        return "ok", future.result()
    except HallError as e:
        return "refused", e.code


def state(svc: HallService) -> tuple:
    tables = [svc.ledger.query(f"SELECT * FROM {t} ORDER BY 1") for t in ("events", "tickets", "windows", "counters")]
    return memory(svc.hall), tables, svc.ledger.last_seq


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(cmds=commands)
def test_a_group_does_what_the_same_commands_one_after_another_do(cmds):
    with tempfile.TemporaryDirectory() as tmp:
        one_by_one = HallService(small_hall(), open_ledger(Path(tmp) / "a.db"), SteppingClock())
        grouped = HallService(small_hall(), open_ledger(Path(tmp) / "b.db"), SteppingClock())
        try:
            sequential = []
            for i, c in enumerate(cmds):
                try:
                    sequential.append(("ok", one_by_one.execute(decision(one_by_one, i, c))))
                except HallError as e:
                    sequential.append(("refused", e.code))
            group = [Command(decision(grouped, i, c), None) for i, c in enumerate(cmds)]
            grouped._commit(group)  # the writer's turn at one group of them all
            assert [settled(c.future) for c in group] == sequential
            assert state(grouped) == state(one_by_one)
        finally:
            one_by_one.ledger.close()
            grouped.ledger.close()
