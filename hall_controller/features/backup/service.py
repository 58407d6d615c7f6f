"""Backups of the ledger while the hall is served, the nightly copy with its retention, `verify` and
`restore`.

A copy of a live WAL database's file is not a backup (the last commits may still be in the -wal file, and a
file copied mid-checkpoint is torn): copies are made with SQLite's online backup API, which reads one
consistent snapshot beside the writer, into a `.part` file that is checked, synced and then renamed."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from hall_controller.core.service import HallService
from hall_controller.features.backup import rules
from hall_controller.features.backup.settings import settings_of

log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup, verify or restore that cannot go on; the message says why (中文 first)."""


@dataclass
class Report:
    """What `verify` found: `problems` is empty for a sound ledger."""

    path: str
    events: int = 0
    last_seq: int = 0
    last_event_at: str | None = None
    tickets: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "events": self.events, "last_seq": self.last_seq,
                "last_event_at": self.last_event_at, "tickets": self.tickets, "problems": self.problems}


def backup(db: str | os.PathLike[str], to: str | os.PathLike[str]) -> Report:
    """An online copy of the ledger at `db` to `to` (replaced only once the copy is whole and verified)."""
    db, to = Path(db), Path(to)
    if not db.is_file():
        raise BackupError(f"台账不存在 no ledger at {db}")
    to.parent.mkdir(parents=True, exist_ok=True)
    part = to.with_name(to.name + ".part")
    part.unlink(missing_ok=True)
    src = _open_read_only(db)
    dst = sqlite3.connect(part)
    try:
        src.backup(dst)  # all pages in one step: one snapshot, the writer goes on meanwhile (WAL)
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    finally:
        src.close()
        dst.close()
    report = verify(part)
    if not report.ok:
        part.unlink(missing_ok=True)
        raise BackupError(f"备份校验失败 the copy failed verification: {'; '.join(report.problems[:5])}")
    _sync(part)
    os.replace(part, to)
    _sync(to.parent)
    report.path = str(to)
    return report


def verify(db: str | os.PathLike[str]) -> Report:
    """Integrity check, an event sequence with no gap, and the projections equal to a replay of the events."""
    db = Path(db)
    if not db.is_file():
        raise BackupError(f"台账不存在 no ledger at {db}")
    report = Report(str(db))
    conn = _open_read_only(db)
    try:
        check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            report.problems += [f"完整性检查 integrity_check: {c}" for c in check[:20]]
            return report
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"events", "tickets", "windows", "counters"} <= tables:
            report.problems.append("不是大厅台账 not a hall ledger (events, tickets, windows, counters missing)")
            return report
        with _snapshot(conn):
            _verify_events(conn, report)
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"无法读取 cannot read: {exc}")
    finally:
        conn.close()
    return report


def _verify_events(conn: sqlite3.Connection, report: Report) -> None:
    report.events, first, report.last_seq = conn.execute("SELECT COUNT(*), MIN(seq), COALESCE(MAX(seq), 0) FROM events").fetchone()
    report.problems += rules.sequence_problems(report.events, first, report.last_seq)
    last = conn.execute("SELECT at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    report.last_event_at = last[0] if last else None
    # Tickets: the ticket carried by each one's last event, beside its row, both in id order.
    replayed = conn.execute(
        "SELECT e.ticket_id, json_extract(e.data, '$.ticket'), e.seq FROM events e JOIN (SELECT ticket_id, "
        "MAX(seq) AS seq FROM events WHERE ticket_id IS NOT NULL AND json_type(data, '$.ticket') = 'object' "
        "GROUP BY ticket_id) l ON e.seq = l.seq ORDER BY e.ticket_id")
    moved = {tid: seq for seq, data in conn.execute(
        "SELECT seq, data FROM events WHERE type = 'config.changed' AND json_array_length(data, '$.moved') > 0")
        for tid in json.loads(data)["moved"]}
    rows = conn.execute("SELECT id, data FROM tickets ORDER BY id")
    for tid, ev, row in _merge(((t, (d, s)) for t, d, s in replayed), rows):
        report.tickets += row is not None
        report.problems += rules.ticket_problems(tid, ev and json.loads(ev[0]), row and json.loads(row),
                                                 moved=bool(ev) and moved.get(tid, 0) > ev[1])
    # Windows: folded over every event in order.
    windows = rules.WindowReplay()
    for type_, at, data in conn.execute("SELECT type, at, data FROM events ORDER BY seq"):
        if type_.startswith(("ticket.", "window.", "staff.", "manager.")):
            windows.apply(type_, at, json.loads(data))
    report.problems += windows.problems({wid: json.loads(d) for wid, d in conn.execute("SELECT id, data FROM windows")})
    issued = {(day, prefix): n for day, prefix, n in conn.execute(
        "SELECT json_extract(data, '$.ticket.day'), json_extract(data, '$.ticket.prefix'), "
        "MAX(json_extract(data, '$.ticket.seq')) FROM events WHERE type = 'ticket.issued' GROUP BY 1, 2")}
    counters = {(day, prefix): n for day, prefix, n in conn.execute("SELECT day, prefix, last FROM counters")}
    report.problems += rules.counter_problems(issued, counters)
    orphans = conn.execute("SELECT COUNT(*) FROM outbox WHERE seq NOT IN (SELECT seq FROM events)").fetchone()[0] \
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone() else 0
    if orphans:
        report.problems.append(f"待推送队列有 {orphans} 行没有对应事件 outbox rows without their event")


def _merge(left: Iterator[tuple], right: Iterator[tuple]) -> Iterator[tuple[str, Any, Any]]:
    """Two (key, value) streams sorted by key → (key, left value or None, right value or None)."""
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            yield a[0], a[1], None
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(right, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(left, None), next(right, None)


def restore(backup_path: str | os.PathLike[str], db: str | os.PathLike[str]) -> tuple[Report, Path | None]:
    """Put a verified backup in the ledger's place. The ledger it replaces is kept beside it
    (`hall.db.replaced-…`, with its -wal), never deleted. Refused while a controller serves the ledger."""
    backup_path, db = Path(backup_path), Path(db)
    report = verify(backup_path)
    if not report.ok:
        raise BackupError(f"备份校验失败，未恢复 the backup failed verification, nothing restored: "
                          f"{'; '.join(report.problems[:5])}")
    db.parent.mkdir(parents=True, exist_ok=True)
    with serving_lock(db):
        # Whatever is there goes aside together, a -wal left without its database too: SQLite would apply it
        # to the restored file and corrupt it.
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        kept = db.with_name(f"{db.name}.replaced-{stamp}")
        moved = False
        for suffix in ("", "-wal", "-shm", "-journal"):
            old = Path(f"{db}{suffix}")
            if old.exists():
                os.replace(old, f"{kept}{suffix}")
                moved = True
        kept = kept if moved else None
        part = db.with_name(db.name + ".part")
        src, dst = _open_read_only(backup_path), sqlite3.connect(part)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        _sync(part)
        os.replace(part, db)
        _sync(db.parent)
    report.path = str(db)
    return report, kept


@contextmanager
def serving_lock(db: str | os.PathLike[str]) -> Iterator[None]:
    """Held by a serving controller for its whole run and by `restore`: one owner of a ledger at a time."""
    path = Path(f"{db}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"台账 {db} 正由运行中的控制器使用，请先停止服务（systemctl stop hall-controller）。"
                              f" A controller is serving this ledger: stop it first.") from None
        yield
    finally:
        os.close(fd)


def _open_read_only(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every check sees the same committed state, whatever the writer does meanwhile."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT 1 FROM events LIMIT 1").fetchall()
        yield
    finally:
        conn.execute("ROLLBACK")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ the server: its lock and the nightly copy

def backup_dir(db: str, dir_: str) -> Path:
    return Path(dir_) if Path(dir_).is_absolute() else Path(db).resolve().parent / dir_


def nightly_once(service: HallService) -> Path | None:
    """Tonight's copy if it is owed, then retention; returns the new copy."""
    settings = settings_of(service.config)
    folder = backup_dir(service.ledger.path, settings.dir)
    folder.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in folder.iterdir()]
    now = service.clock.now()
    if not rules.due(now, settings.at, names):
        return None
    target = folder / rules.nightly_name(now)
    report = backup(service.ledger.path, target)
    log.info("夜间备份 nightly backup %s: %d events, last seq %d", target, report.events, report.last_seq)
    for name in rules.to_prune([p.name for p in folder.iterdir()], settings.keep):
        (folder / name).unlink(missing_ok=True)
        log.info("备份保留期满删除 pruned backup %s", name)
    return target


async def nightly(app: FastAPI) -> AsyncIterator[None]:
    """The server holds its ledger's lock while it runs, and makes the nightly copy when it is owed."""
    service: HallService = app.state.service
    state = app.state.backup = {"last_at": None, "last_path": None, "failures": 0}
    if service.ledger.path == ":memory:":
        yield
        return
    with serving_lock(service.ledger.path):

        async def check() -> None:
            try:
                made = await asyncio.to_thread(nightly_once, service)
            except (BackupError, OSError, sqlite3.Error):
                state["failures"] += 1
                log.exception("夜间备份失败 nightly backup failed; retried at the next check")
                return
            if made:
                state["last_at"], state["last_path"] = datetime.now().timestamp(), str(made)

        async def loop() -> None:
            while True:
                settings = settings_of(service.config)
                if settings.enabled:
                    await check()
                await asyncio.sleep(settings.check_seconds)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
