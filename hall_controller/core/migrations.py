"""Schema versions of the ledger, and the one way an older ledger is brought up to this release.

Each component — the core (`ledger`) and every feature — has a schema version: the number of its
`Migration`s a ledger has been through, kept in `schema_versions`. At open:

- a new ledger gets every table as declared and every component at its latest version;
- a table declared now but absent (a feature new in this release, or a table a feature added) is created
  as declared: nobody writes migration code for a new table;
- a component behind its latest version runs its missing migrations in order — the explicit steps, for a
  column added to or changed in a table that exists — and a declared column still missing afterwards is
  refused, so a changed table without its migration is found at the first start, not at the first write;
- all of it in ONE transaction, after an online backup of the ledger beside it, so a failed step leaves
  the ledger exactly as it was and the copy shows what it was;
- a ledger from a newer release (a component ahead of this release, or one this release does not know that
  has migrated) is refused with a message saying so: an older release must never write to it.

A ledger from before schema versions has no `schema_versions` table: every component of it is at 0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from hall_controller.core.feature import Migration, Table

CORE = "ledger"  # the core's component name in schema_versions
# The core's own steps, oldest first. Append; never edit or reorder a released one.
CORE_MIGRATIONS: tuple[Migration, ...] = ()


@dataclass(frozen=True)
class Component:
    """What owns tables and a schema version: the core, or a feature."""

    name: str
    tables: tuple[Table, ...] = ()
    migrations: tuple[Migration, ...] = ()


class SchemaError(Exception):
    """The ledger cannot be opened by this release: it is newer, or a step failed (nothing was changed)."""


def prepare(conn: sqlite3.Connection, path: str, components: Sequence[Component],
            create_core: Callable[[sqlite_utils.Database], None]) -> Path | None:
    """Bring the ledger on `conn` (autocommit) to this release's schema: `create_core` makes the core's own
    tables (events, tickets …) if absent, every component's tables as declared, every component at its latest
    version. Returns the backup written before a change to an existing ledger, if one was."""
    db = sqlite_utils.Database(conn)
    existing = set(db.table_names())
    fresh = "events" not in existing
    stored = _stored_versions(conn) if "schema_versions" in existing else {}
    known = {c.name: len(c.migrations) for c in components}
    for name, version in stored.items():
        if version > known.get(name, 0):
            raise SchemaError(
                f"台账 {path} 来自更新的版本（{name} 结构版本 {version}，本程序最高 {known.get(name, 0)}）：请使用该版本"
                f"或更新的程序，不要降级运行。 The ledger was written by a newer release ({name} schema {version}, "
                f"this release knows {known.get(name, 0)}); run that release or a newer one — never downgrade.")
    start: dict[str, int] = {}  # component -> the version its migrations start from
    for c in components:
        if c.name in stored:
            start[c.name] = stored[c.name]
        elif fresh or (c.tables and not any(t.name in existing for t in c.tables)):
            start[c.name] = len(c.migrations)  # its tables are new here: created as declared
        else:
            start[c.name] = 0  # tables from before schema versions
    tables = [t for c in components for t in c.tables]
    missing = [t for t in tables if t.name not in existing]
    behind = [c for c in components if start[c.name] < len(c.migrations)]
    record = [c for c in components if stored.get(c.name) != len(c.migrations)]
    if not (fresh or missing or behind or record):
        _check_columns(db, tables)
        return None
    backup = None
    if not fresh and (missing or behind or not stored) and path != ":memory:":
        backup = _backup_before(conn, path)
    conn.execute("BEGIN IMMEDIATE")
    try:
        db["schema_versions"].create({"component": str, "version": int, "at": str}, pk="component",
                                     if_not_exists=True)
        create_core(db)
        for c in behind:
            for migration in c.migrations[start[c.name]:]:
                try:
                    migration.apply(conn)
                except sqlite3.Error as exc:
                    raise SchemaError(f"{c.name} 迁移失败 migration failed: {migration.description}: {exc}"
                                      f"（台账未改动 the ledger was not changed）") from exc
        create_tables(db, tables)
        _check_columns(db, tables)
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        for c in record:
            conn.execute("INSERT INTO schema_versions (component, version, at) VALUES (?, ?, ?) "
                         "ON CONFLICT(component) DO UPDATE SET version = excluded.version, at = excluded.at",
                         (c.name, len(c.migrations), now))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return backup


def create_tables(db: sqlite_utils.Database, tables: Iterable[Table]) -> None:
    """Every table and index as declared, where absent."""
    for t in tables:
        pk = tuple(k.strip() for k in t.pk.split(","))
        db[t.name].create(t.columns, pk=pk[0] if len(pk) == 1 else pk, if_not_exists=True)
        for index in t.indexes:
            db[t.name].create_index(list(index), if_not_exists=True)


def versions(conn: sqlite3.Connection) -> dict[str, int]:
    """component -> schema version recorded in the ledger (empty for a ledger from before versions)."""
    try:
        return _stored_versions(conn)
    except sqlite3.OperationalError:
        return {}


def _stored_versions(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: v for name, v in conn.execute("SELECT component, version FROM schema_versions")}


def _check_columns(db: sqlite_utils.Database, tables: Iterable[Table]) -> None:
    for t in tables:
        have = set(db[t.name].columns_dict)
        lacking = [c for c in t.columns if c not in have]
        if lacking:
            raise SchemaError(
                f"台账表 {t.name} 缺少列 {', '.join(lacking)}：已有表的列变更需要一个迁移步骤（Feature.migrations）。"
                f" Table {t.name} lacks column(s) {', '.join(lacking)}: a column added to an existing table needs an "
                f"explicit migration (Feature.migrations); nothing was changed.")


def _backup_before(conn: sqlite3.Connection, path: str) -> Path:
    """An online backup of the ledger beside it, before its schema changes."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = Path(f"{path}.before-migration-{stamp}.bak")
    n = 1
    while target.exists():
        n += 1
        target = Path(f"{path}.before-migration-{stamp}-{n}.bak")
    with sqlite3.connect(target) as copy:
        conn.backup(copy)
    copy.close()
    return target
