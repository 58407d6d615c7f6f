"""Schema versions: an older ledger is migrated in place at open (one transaction, after a backup), a newer
one is refused, a new table needs no migration code, a changed table needs its migration."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from hall_controller.app import FEATURES, load_config, open_ledger
from hall_controller.cli import main
from hall_controller.core.clock import ManualClock
from hall_controller.core.feature import Migration, Table
from hall_controller.core.ledger import Ledger
from hall_controller.core.migrations import CORE, SchemaError, Component, versions
from hall_controller.core.service import HallService
from tests.conftest import DEMO_CONFIG

# A ledger written by the release before schema versions (tests/fixtures/make_release_ledger.py b110e87).
RELEASE_BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "ledger-b110e87.db"
MORNING = datetime.fromisoformat("2026-11-23T10:30:00+08:00")


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def old_ledger(tmp_path) -> Path:
    path = tmp_path / "hall.db"
    shutil.copy(RELEASE_BEFORE, path)
    return path


def test_the_release_before_is_migrated_and_the_day_goes_on(old_ledger):
    before = rows(old_ledger, "SELECT seq, type, data FROM events ORDER BY seq")
    assert "schema_versions" not in {r[0] for r in rows(old_ledger, "SELECT name FROM sqlite_master")}
    ledger = open_ledger(old_ledger)
    try:
        # The backup is the ledger as it was, taken before anything changed.
        backup = ledger.migration_backup
        assert backup is not None and backup.parent == old_ledger.parent
        assert rows(backup, "SELECT seq, type, data FROM events ORDER BY seq") == before
        assert rows(backup, "PRAGMA integrity_check") == [("ok",)]
        assert "schema_versions" not in {r[0] for r in rows(backup, "SELECT name FROM sqlite_master")}
        recorded = versions(ledger.conn)
        assert recorded == {CORE: 0, **{f.name: len(f.migrations) for f in FEATURES}}
        assert {t for t in ledger.tables} <= {r[0] for r in ledger.query("SELECT name FROM sqlite_master")}
        # The morning goes on: the same tickets in memory, numbers continue, nothing is issued twice.
        service = HallService(load_config(DEMO_CONFIG), ledger, ManualClock(MORNING))
        assert len(service.hall.tickets) == 24
        last_a = max(int(t.number[1:]) for t in service.hall.tickets.values() if t.number.startswith("A"))
        a_service = next(s.id for s in service.config.services if s.prefix == "A")
        ticket = service.issue_ticket(a_service, "kiosk")
        assert ticket["number"] == f"A{last_a + 1:03d}"
        assert [r[0] for r in ledger.query("SELECT seq FROM events ORDER BY seq")] == list(range(1, len(before) + 2))
    finally:
        ledger.close()
    # Opening it again changes nothing and takes no second backup.
    again = open_ledger(old_ledger)
    assert again.migration_backup is None
    again.close()
    assert len(list(old_ledger.parent.glob("*.bak"))) == 1


def test_a_ledger_from_a_newer_release_is_refused(tmp_path, capsys):
    path = tmp_path / "hall.db"
    open_ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_versions SET version = 7 WHERE component = 'ledger'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="newer release"):
        open_ledger(path)
    # The server says so and exits instead of starting.
    assert main(["serve", "--config", str(DEMO_CONFIG), "--db", str(path), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "更新的版本" in err and "never downgrade" in err
    # A feature this release does not know, that has already migrated, is newer too.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_versions SET version = 0 WHERE component = 'ledger'")
    conn.execute("INSERT INTO schema_versions VALUES ('queue_forecast', 2, '2027-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="queue_forecast"):
        open_ledger(path)


NOTES_V0 = Table("notes", {"id": str, "text": str}, "id")
NOTES_V1 = Table("notes", {"id": str, "text": str, "author": str}, "id")
ADD_AUTHOR = Migration("notes.author: who wrote the note",
                       lambda conn: conn.execute("ALTER TABLE notes ADD COLUMN author TEXT"))


def _release_1(path: Path) -> None:
    ledger = Ledger(path, components=[Component("notes", (NOTES_V0,))])
    with ledger.transaction():
        ledger.conn.execute("INSERT INTO notes (id, text) VALUES ('n1', '窗口3 打印机缺纸')")
    ledger.close()


def test_a_changed_table_is_migrated_by_its_step_in_one_transaction(tmp_path):
    path = tmp_path / "hall.db"
    _release_1(path)
    ledger = Ledger(path, components=[Component("notes", (NOTES_V1,), (ADD_AUTHOR,))])
    assert ledger.records("SELECT id, text, author FROM notes") == [{"id": "n1", "text": "窗口3 打印机缺纸", "author": None}]
    assert versions(ledger.conn)["notes"] == 1
    assert ledger.migration_backup is not None
    ledger.close()


def test_a_changed_table_without_its_migration_is_refused_at_open(tmp_path):
    path = tmp_path / "hall.db"
    _release_1(path)
    with pytest.raises(SchemaError, match="notes lacks column"):
        Ledger(path, components=[Component("notes", (NOTES_V1,))])
    assert [r[1] for r in rows(path, "PRAGMA table_info(notes)")] == ["id", "text"]


def test_a_failed_step_leaves_the_ledger_as_it_was(tmp_path):
    path = tmp_path / "hall.db"
    _release_1(path)
    broken = Migration("a step that fails half-way", lambda conn: conn.execute("ALTER TABLE nowhere ADD COLUMN x"))
    fourth = Table("tags", {"id": str}, "id")  # a new table in the same release is not created either
    with pytest.raises(SchemaError, match="the ledger was not changed"):
        Ledger(path, components=[Component("notes", (NOTES_V1,), (ADD_AUTHOR, broken)), Component("tags", (fourth,))])
    assert [r[1] for r in rows(path, "PRAGMA table_info(notes)")] == ["id", "text"]
    assert rows(path, "SELECT component, version FROM schema_versions WHERE component = 'notes'") == [("notes", 0)]
    assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'tags'") == []
    assert rows(path, "SELECT text FROM notes") == [("窗口3 打印机缺纸",)]


def test_a_feature_new_in_a_release_gets_its_tables_without_migration_code(tmp_path):
    path = tmp_path / "hall.db"
    _release_1(path)
    rota = Table("rota", {"day": str, "window_id": str, "staff_id": str}, "day, window_id", (("staff_id",),))
    # Its later migrations start from the shape it was created with: a new feature starts at its latest version.
    widen = Migration("rota.note", lambda conn: conn.execute("ALTER TABLE rota ADD COLUMN note TEXT"))
    rota_v1 = Table("rota", {**rota.columns, "note": str}, rota.pk, rota.indexes)
    ledger = Ledger(path, components=[Component("notes", (NOTES_V0,)), Component("rota", (rota_v1,), (widen,))])
    assert versions(ledger.conn)["rota"] == 1
    assert [r[1] for r in ledger.query("PRAGMA table_info(rota)")] == ["day", "window_id", "staff_id", "note"]
    ledger.close()
