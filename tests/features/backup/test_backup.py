"""Backups: an online copy while the hall is served, verify (integrity, gap-free sequence, projections ==
replay), the nightly copy with retention, and a restore drill on the real server."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hall_controller.app import FEATURES, open_ledger, parse_config
from hall_controller.config_loader import ConfigError
from hall_controller.core.clock import ManualClock
from hall_controller.core.service import HallService
from hall_controller.features.backup import rules
from hall_controller.features.backup.rules import BackupSettings
from hall_controller.features.backup.service import BackupError, restore, verify
from hall_controller.http.app import create_app
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ROOT, ServerProcess, demo_staff
from tests.factory import MONDAY_10, small_hall

FIXTURE = ROOT / "tests" / "fixtures" / "ledger-b110e87.db"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hall_controller.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)




# ------------------------------------------------------------------ verify


@pytest.fixture
def ledger_copy(tmp_path) -> Path:
    path = tmp_path / "hall.db"
    shutil.copy(FIXTURE, path)
    return path


def tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_verify_passes_a_sound_ledger_and_names_what_is_wrong(ledger_copy):
    report = verify(ledger_copy)
    assert report.ok, report.problems
    assert (report.events, report.last_seq, report.tickets) == (73, 73, 24)

    tamper(ledger_copy, "UPDATE tickets SET data = json_set(data, '$.status', 'finished') "
                        "WHERE json_extract(data, '$.status') = 'waiting' AND id = (SELECT MIN(id) FROM tickets "
                        "WHERE json_extract(data, '$.status') = 'waiting')")
    tamper(ledger_copy, "UPDATE counters SET last = last + 1 WHERE prefix = 'B'")
    tamper(ledger_copy, "UPDATE windows SET data = json_set(data, '$.ticket_id', NULL) "
                        "WHERE json_extract(data, '$.state') = 'serving'")
    tamper(ledger_copy, "DELETE FROM events WHERE seq = 40")
    problems = verify(ledger_copy).problems
    assert any("status" in p and "号票" in p for p in problems), problems
    assert any("计数器" in p and " B:" in p for p in problems), problems
    assert any("窗口" in p and "ticket_id" in p for p in problems), problems
    assert any("序号不连续" in p for p in problems), problems
    out = cli("verify", "--db", str(ledger_copy))
    assert out.returncode == 1 and "FAILED" in out.stdout and "序号不连续" in out.stdout


def test_replay_rules():
    row = {"id": "T1", "status": "waiting", "service_id": "b", "category_id": "y", "token": "secret"}
    replayed = {"id": "T1", "status": "waiting", "service_id": "a", "category_id": "x", "ahead": 3}
    assert rules.ticket_problems("T1", replayed, row)[0].endswith("differs from the replay")
    assert "category_id, service_id" in rules.ticket_problems("T1", replayed, row)[0]
    # A config change moved it to another service after its last event: those two fields are the config's.
    assert rules.ticket_problems("T1", replayed, row, moved=True) == []
    windows = rules.WindowReplay()
    signed_in = {"id": "3", "state": "open", "staff_id": "QH1", "ticket_id": None, "priority_streak": 0}
    windows.apply("staff.signed_in", "t0", {"window": {"window_id": "3", "window": signed_in}})
    windows.apply("ticket.called", "t1", {"ticket": {"id": "T1", "window_id": "3"}})
    assert windows.problems({"3": {**signed_in, "state": "serving", "ticket_id": "T1", "since": "t1",
                                   "priority_streak": 1}}) == []
    assert windows.problems({"3": {**signed_in, "state": "open", "since": "t1"}})


def test_verify_finds_a_damaged_file(ledger_copy):
    data = bytearray(ledger_copy.read_bytes())
    page = 4096
    for i in range(page * 3, min(len(data), page * 12)):
        data[i] = 0x5A
    ledger_copy.write_bytes(bytes(data))
    report = verify(ledger_copy)
    assert not report.ok and report.problems


def test_a_migrated_ledger_verifies(ledger_copy):
    open_ledger(ledger_copy).close()
    assert verify(ledger_copy).ok


# ------------------------------------------------------------------ settings and the nightly copy


def test_backup_section_is_checked():
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    assert parse_config(text).sections["backup"] == BackupSettings(dir="backups", at=clock_time(2, 30), keep=14)
    with pytest.raises(ConfigError, match=r"backup\.at.*HH:MM"):
        parse_config(text.replace('at = "02:30"', 'at = "25:70"'))
    with pytest.raises(ConfigError, match=r"backup\.kep.*keep"):
        parse_config(text.replace("keep = 14", "kep = 14"))


def test_nightly_rules():
    names = ["hall-20261121-023000.db", "hall-20261122-023000.db", "hall-20261123-023001.db", "notes.txt",
             "hall-20261120-023000.db"]
    assert not rules.due(datetime(2026, 11, 23, 2, 29), clock_time(2, 30), [])
    assert rules.due(datetime(2026, 11, 23, 2, 30), clock_time(2, 30), names[:2])
    assert not rules.due(datetime(2026, 11, 23, 9, 0), clock_time(2, 30), names)  # already made today
    assert rules.to_prune(names, 2) == ["hall-20261121-023000.db", "hall-20261120-023000.db"]


def test_the_nightly_copy_is_made_on_the_hall_clock_and_old_ones_pruned(tmp_path):
    cfg = small_hall()
    cfg.sections["backup"] = BackupSettings(dir="copies", at=clock_time(2, 30), keep=2, check_seconds=1)
    clock = ManualClock(MONDAY_10)
    svc = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    svc.issue_ticket("S1", "kiosk")
    tuesday = MONDAY_10 + timedelta(days=1)
    clock.set(tuesday.replace(hour=2, minute=0))
    folder = tmp_path / "copies"
    folder.mkdir()
    for day in (19, 20, 21):
        (folder / f"hall-202611{day}-023000.db").write_bytes(b"an older copy")
    backup_feature = next(f for f in FEATURES if f.name == "backup")
    with TestClient(create_app(svc, [backup_feature])) as client:
        time.sleep(1.5)
        assert sorted(p.name for p in folder.iterdir())[-1] == "hall-20261121-023000.db"  # not due before 02:30
        clock.set(tuesday.replace(hour=2, minute=31))
        deadline = time.monotonic() + 120
        while not list(folder.glob("hall-20261124-*.db")) and time.monotonic() < deadline:
            time.sleep(0.1)
        made = list(folder.glob("hall-20261124-*.db"))
        assert [p.name for p in made] == ["hall-20261124-023100.db"]
        assert verify(made[0]).ok and verify(made[0]).events == 1
        deadline = time.monotonic() + 120
        while len(list(folder.iterdir())) > 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(p.name for p in folder.iterdir()) == ["hall-20261121-023000.db", "hall-20261124-023100.db"]
        assert client.app.state.backup["last_path"] == str(made[0])
        # One owner of a ledger: restoring over it while it is served is refused.
        with pytest.raises(BackupError, match="正由运行中的控制器使用"):
            restore(made[0], tmp_path / "hall.db")
    svc.ledger.close()


# ------------------------------------------------------------------ the restore drill, on the real server


@pytest.mark.timeout(1200)  # two server starts and three CLI runs: minutes each on a loaded machine
def test_restore_drill(tmp_path):
    """Back up while kiosks issue and windows call; lose the ledger; restore the copy; the hall serves on from
    it, verified, with every ticket the copy holds and numbering continuing after them."""
    db = tmp_path / "hall.db"
    srv = ServerProcess(db).start(timeout=600)  # until it answers: minutes on a loaded machine
    url = srv.url
    stop = threading.Event()
    acked: list[dict] = []
    services = [s["id"] for s in httpx.get(f"{url}/api/services").json()["services"] if s["issuing_open"]][:4]
    staff = demo_staff()
    window = next(iter(staff))
    token = httpx.post(f"{url}/api/windows/{window}/sign-in",
                       json={"staff_id": staff[window][0], "pin": staff[window][1]}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    def traffic() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            i = 0
            while not stop.is_set():
                try:
                    r = c.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": services[i % len(services)]})
                    if r.status_code == 201:
                        acked.append(r.json())
                    if i % 3 == 0 and c.post(f"/api/windows/{window}/call-next", headers=auth).status_code == 200:
                        c.post(f"/api/windows/{window}/finish", headers=auth, json={})
                except httpx.TimeoutException:
                    pass  # not acknowledged: not counted
                i += 1

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        while len(acked) < 30:
            time.sleep(0.05)
        before = len(acked)
        copy = tmp_path / "offsite" / "hall-copy.db"
        out = cli("backup", "--db", str(db), "--to", str(copy))
        assert out.returncode == 0, out.stderr
        while len(acked) < before + 20:  # the hall went on during and after the copy
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
        srv.stop()
    report = verify(copy)
    assert report.ok, report.problems
    in_copy = {r[0] for r in sqlite3.connect(copy).execute("SELECT id FROM tickets")}
    assert {t["id"] for t in acked[:before]} <= in_copy  # acknowledged before the copy began: in it

    # The disaster: the ledger is gone. Restore the copy and serve again.
    db.unlink()
    out = cli("restore", "--from", str(copy), "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "已恢复" in out.stdout
    assert verify(db).ok
    srv = ServerProcess(db, clock_start="2026-11-23T11:00:00").start(timeout=600)
    try:
        assert httpx.get(f"{srv.url}/healthz").json()["seq"] >= report.last_seq
        numbers = {t["number"] for t in acked if t["id"] in in_copy}
        issued = [httpx.post(f"{srv.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": s}) for s in services]
        issued = [r.json()["number"] for r in issued if r.status_code == 201]  # some reached their daily cap
        assert issued and not numbers & set(issued)
    finally:
        srv.stop()
    assert verify(db).ok
    events = "SELECT seq, type, data FROM events WHERE seq <= ? ORDER BY seq"
    assert sqlite3.connect(db).execute(events, (report.last_seq,)).fetchall() == \
        sqlite3.connect(copy).execute(events, (report.last_seq,)).fetchall()
