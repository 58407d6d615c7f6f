"""The ledger (台账): SQLite in WAL mode with durable commits.

The one writer (`HallService`'s writer thread) writes a group of decisions in one transaction: their events
(append-only, gap-free sequence numbers) and the current-state rows they touch, then one COMMIT. Nothing is
acknowledged, printed or published before that COMMIT returns. Everyone else reads through a connection of
their own, which WAL shows only committed data.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from hall_controller.core.decision import Decision
from hall_controller.core.feature import OutboxSelector, Table
from hall_controller.core.migrations import CORE, CORE_MIGRATIONS, Component, prepare
from hall_controller.core.model import ACTIVE, Ticket, TicketStatus, WindowStatus

TICKET_COLUMNS = {
    "id": str, "day": str, "number": str, "service_id": str, "category_id": str, "channel": str,
    "priority": str, "status": str, "issued_at": str, "called_at": str, "finished_at": str,
    "window_id": str, "staff_id": str, "outcome": str, "request_id": str, "token": str, "data": str,
}

# The core's tables beside events, tickets, windows and counters: sign-in sessions, wrong-secret counts of
# real accounts (a restart must not unlock them), and the outbox of events owed to other systems.
CORE_TABLES = (
    Table("sessions", {"token_hash": str, "kind": str, "subject": str, "window_id": str, "signed_in_at": str,
                       "expires_at": str}, "token_hash"),
    Table("lockouts", {"key": str, "failures": int, "last": str}, "key"),
    Table("outbox", {"seq": int, "delivered_at": str}, "seq", (("delivered_at", "seq"),)),
)


class StorageError(Exception):
    """The database cannot take writes (disk full, read-only, corrupt): nothing was committed."""


class Ledger:
    def __init__(self, path: str | Path, tables: Iterable[Table] = (), outbox: Iterable[OutboxSelector] = (),
                 components: Iterable[Component] = ()):
        """`components`: the features' tables and migrations, brought to this release's schema with the core's
        (core/migrations.py; `tables`: more tables of no component, created where absent); `outbox`: selectors
        of the events another system must receive, queued in `outbox` in the transaction that records them."""
        self.path = str(path)
        self.components = (Component(CORE, (*CORE_TABLES, *tables), CORE_MIGRATIONS), *components)
        self.tables = {t.name: t for c in self.components for t in c.tables}
        self.selectors = tuple(outbox)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # The writer's connection: every write, and the writer's own reads while its transaction is open.
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")  # an acknowledged command survives power loss too
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.db = sqlite_utils.Database(self.conn)
            # A newer ledger is refused here; an older one is migrated (after a backup beside it, kept in
            # `migration_backup`).
            self.migration_backup = prepare(self.conn, self.path, self.components, _create_core)
            self._probe_write()
        except (sqlite3.Error, OSError) as exc:
            # At start, not at the first citizen's ticket: the hall must not open on a ledger it cannot write.
            raise StorageError(f"cannot write the ledger {self.path}: {exc} — check that the file and its "
                               "directory are writable (the -wal and -shm files are made beside it) and the disk "
                               "has space") from exc
        self._lock = threading.Lock()
        # Every other thread's reads: never inside the writer's open transaction. One in-memory database
        # cannot be opened twice, so there the two share the connection.
        self._reader = self.conn if self.path == ":memory:" else sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA busy_timeout=5000")
        self._read_lock = threading.Lock()
        self._writing: int | None = None  # the thread whose transaction is open
        self._seq = 0  # the last sequence number written in the open transaction
        self.last_seq: int = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        self._upserts: dict[tuple[str, tuple[str, ...]], str] = {}
        self.outbox = bool(self.selectors)  # a feature may turn it off: a hall that does not push keeps no backlog
        # Test hook: every COMMIT first stalls this long, as on a disk whose fsync is slow (tests/core/test_writer.py;
        # a server started with HALL_TEST_COMMIT_STALL_MS set). Never set in a hall.
        self.commit_delay_s = float(os.environ.get("HALL_TEST_COMMIT_STALL_MS", "0")) / 1000

    def _probe_write(self) -> None:
        """Fail now if the database takes no writes: a read-only file opens, and answers reads, without complaint."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute('CREATE TABLE "_write_probe" (x)')
        finally:
            self.conn.execute("ROLLBACK")

    # ------------------------------------------------------------------ writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction and one COMMIT for the decisions `write` puts into it. If the block raises, or the
        database does, nothing is committed; a database error comes out as StorageError. Meanwhile reads on
        this thread see the transaction, other threads' do not."""
        with self._lock:
            self._seq = self.last_seq
            self._writing = threading.get_ident()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                yield
                if self.commit_delay_s:
                    time.sleep(self.commit_delay_s)
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StorageError(str(exc)) from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._writing = None
            self.last_seq = self._seq

    def writing(self) -> bool:
        """Whether this thread has the transaction open."""
        return self._writing == threading.get_ident()

    def write(self, d: Decision, at: datetime) -> list[dict[str, Any]]:
        """Write a decision into the open transaction; returns its events, numbered on from the last."""
        events = []
        for type_, data in d.events:
            self._seq += 1
            event = {"seq": self._seq, "type": type_, "at": at.isoformat(), "data": data}
            ticket_id = data.get("ticket", {}).get("id") if isinstance(data.get("ticket"), dict) else data.get("ticket_id")
            self.conn.execute(
                "INSERT INTO events (seq, type, at, ticket_id, data) VALUES (?, ?, ?, ?, ?)",
                (self._seq, type_, event["at"], ticket_id, json.dumps(data, ensure_ascii=False)),
            )
            events.append(event)
            if self.outbox and any(select(event) for select in self.selectors):
                self.conn.execute("INSERT INTO outbox (seq) VALUES (?)", (self._seq,))
        for t in d.tickets:
            self._upsert("tickets", _ticket_row(t), "id")
        for ws in d.windows:
            self._upsert("windows", {"id": ws.id, "data": json.dumps(ws.to_dict(), ensure_ascii=False)}, "id")
        for (day, prefix), last in d.counters.items():
            self._upsert("counters", {"day": day, "prefix": prefix, "last": last}, "day, prefix")
        for table, row in d.rows:
            self._upsert(table, row, self.tables[table].pk)
        return events

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _upsert(self, table: str, row: dict[str, Any], pk: str) -> None:
        cols = tuple(row)
        sql = self._upserts.get((table, cols))
        if sql is None:
            names = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" for _ in cols)
            keys = {k.strip() for k in pk.split(",")}
            updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in keys)
            sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT({pk}) DO ' + (
                f"UPDATE SET {updates}" if updates else "NOTHING"
            )
            self._upserts[(table, cols)] = sql
        self.conn.execute(sql, [_sql_value(row[c]) for c in cols])

    # ------------------------------------------------------------------ reads

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for a read on this thread: the writer's inside its open transaction (a decision
        reads what the ones before it in the group wrote), else the read connection, one reader at a time."""
        if self.writing():
            yield self.conn
            return
        with self._read_lock:
            yield self._reader

    def load_state(self, day: str) -> tuple[list[Ticket], list[WindowStatus], dict[tuple[str, str], int]]:
        """What the hall needs in memory: today's tickets, any still active, windows and counters."""
        active = tuple(s.value for s in (TicketStatus.WAITING, *ACTIVE))
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT data FROM tickets WHERE day = ? OR status IN ({','.join('?' * len(active))})", (day, *active)
            ).fetchall()
            windows = [WindowStatus.from_dict(json.loads(r[0])) for r in conn.execute("SELECT data FROM windows")]
            counters = {(d, p): n for d, p, n in conn.execute("SELECT day, prefix, last FROM counters")}
        return [Ticket.from_dict(json.loads(r[0])) for r in rows], windows, counters

    def events_since(self, seq: int, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.query("SELECT seq, type, at, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [_event(r) for r in rows]

    def ticket_history(self, ticket_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT seq, type, at, data FROM events WHERE ticket_id = ? ORDER BY seq", (ticket_id,))
        return [_event(r) for r in rows]

    def ticket_by_token(self, token: str) -> str | None:
        rows = self.query("SELECT id FROM tickets WHERE token = ?", (token,))
        return rows[0][0] if rows else None

    def session(self, token: str) -> dict[str, Any] | None:
        rows = self.records(
            "SELECT kind, subject, window_id, signed_in_at, expires_at FROM sessions WHERE token_hash = ?",
            (token_hash(token),))
        return rows[0] if rows else None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._reading() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def records(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows as column name -> value."""
        with self._reading() as conn:
            cur = conn.execute(sql, tuple(params))
            names = [c[0] for c in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def prune_outbox(self, before: str) -> int:
        """Drop outbox rows delivered before `before`: a delivery queue, not the record (the events stay)."""
        with self._lock:
            try:
                return self.conn.execute(
                    "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (before,)).rowcount
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc

    def close(self) -> None:
        self._reader.close()
        self.conn.close()


def _create_core(db: sqlite_utils.Database) -> None:
    """The core's event log and projections, where absent."""
    db["events"].create({"seq": int, "type": str, "at": str, "ticket_id": str, "data": str}, pk="seq",
                        if_not_exists=True)
    db["events"].create_index(["ticket_id"], if_not_exists=True)
    db["events"].create_index(["type", "at"], if_not_exists=True)
    db["tickets"].create(TICKET_COLUMNS, pk="id", if_not_exists=True)
    db["tickets"].create_index(["request_id"], unique=True, if_not_exists=True)
    db["tickets"].create_index(["token"], unique=True, if_not_exists=True)
    db["tickets"].create_index(["day", "status"], if_not_exists=True)
    db["windows"].create({"id": str, "data": str}, pk="id", if_not_exists=True)
    db["counters"].create({"day": str, "prefix": str, "last": int}, pk=("day", "prefix"), if_not_exists=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ticket_row(t: Ticket) -> dict[str, Any]:
    d = t.to_dict()
    row = {k: d.get(k) for k in TICKET_COLUMNS if k != "data"}
    row["data"] = json.dumps(d, ensure_ascii=False)
    return row


def _sql_value(v: Any) -> Any:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _event(row: tuple) -> dict[str, Any]:
    seq, type_, at, data = row
    return {"seq": seq, "type": type_, "at": at, "data": json.loads(data)}
