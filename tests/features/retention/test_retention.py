"""Personal data retention: masking, keyed hashes, and the recorded purge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hall_controller.app import FEATURES, open_ledger
from hall_controller.config_loader import ConfigError, Table
from hall_controller.core.clock import ManualClock
from hall_controller.core.feature import Feature, PersonalData
from hall_controller.core.feature import Table as LedgerTable
from hall_controller.core.ledger import Ledger
from hall_controller.core.service import HallService
from hall_controller.features.appointments import service as appointments
from hall_controller.features.appointments.rules import (
    AppointmentSettings,
    BookingRequest,
)
from hall_controller.features.retention import service as retention
from hall_controller.features.retention.rules import TICKET_HOLDERS, RetentionSettings
from tests.factory import MONDAY_10, small_hall

# A feature of the test's own: its table and personal columns, declared as any feature declares them.
PROBE = Feature(
    name="probe",
    tables=(LedgerTable("retention_probe", {"id": str, "name": str, "phone": str, "created_at": str}, "id"),),
    personal_data=(PersonalData("retention_probe", ("name", "phone"), "created_at"),),
)
REGISTRY = {"tickets": TICKET_HOLDERS, "retention_probe": PROBE.personal_data[0]}
HALL_RETENTION = next(f for f in FEATURES if f.name == "retention")
HALL_REGISTRY = {p.table: p for p in (TICKET_HOLDERS, *(p for f in FEATURES for p in f.personal_data))}


def parse(table: Table, core):
    return HALL_RETENTION.section.parse(table, core)


def test_purge_clears_old_personal_fields_and_records_counts(tmp_path):
    cfg = small_hall()
    cfg.sections["retention"] = RetentionSettings(days=30, tables={"retention_probe": 10})
    clock = ManualClock(MONDAY_10)
    svc = HallService(cfg, Ledger(tmp_path / "hall.db", PROBE.tables), clock)
    old = svc.issue_ticket("S1", "kiosk", holder="hash-of-someone")
    svc.cancel(old["id"], by="S001")
    svc.write_rows([("retention_probe", {"id": "p1", "name": "张三", "phone": "13812345678",
                                         "created_at": MONDAY_10.isoformat()}),
                    ("retention_probe", {"id": "p2", "name": "李四", "phone": "13900000000",
                                         "created_at": (MONDAY_10 + timedelta(days=25)).isoformat()})])
    clock.advance(days=31)
    counts = retention.purge(svc, REGISTRY)
    assert counts["tickets"] == 1 and counts["retention_probe"] == 1
    assert svc.ledger.query("SELECT name, phone FROM retention_probe ORDER BY id") == [(None, None), ("李四", "13900000000")]
    assert svc.ledger.query("SELECT json_extract(data, '$.holder') FROM tickets")[0][0] is None
    purged = [e for e in svc.ledger.events_since(0) if e["type"] == "retention.purged"]
    assert purged[-1]["data"]["counts"] == counts and purged[-1]["data"]["by"] is None
    assert not any(retention.purge(svc, REGISTRY).values())  # nothing left: no new event
    assert len([e for e in svc.ledger.events_since(0) if e["type"] == "retention.purged"]) == 1
    assert old["id"] not in svc.hall.tickets  # the purged ticket did not stay in memory


def test_unknown_table_in_section_is_named():
    with pytest.raises(ConfigError) as exc:
        parse(Table("hall.toml", "retention", {"tables": {"nope": 3}}, (), check=False), small_hall())
    assert exc.value.key == "retention.tables.nope"


def test_appointments_are_registered_and_their_personal_fields_purged(tmp_path):
    parsed = parse(Table("hall.toml", "retention", {"tables": {"appointments": 90}}, (), check=False),
                             small_hall())
    assert parsed.tables == {"appointments": 90}  # the documented example is accepted
    cfg = small_hall()
    cfg.sections["retention"] = RetentionSettings(days=180, tables={"appointments": 90})
    cfg.sections["appointments"] = AppointmentSettings(identity_key="k", days_ahead=30)
    clock = ManualClock(MONDAY_10)
    svc = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    book = appointments.Appointments(svc)
    old = book.book(BookingRequest("S1", "2026-11-23", "14:00", "张三", "13812345678", "online", "platform",
                                   "110101195003010029"))
    later = book.book(BookingRequest("S1", "2026-12-21", "09:00", "李四", "13912345678", "online", "platform"))
    clock.advance(days=91)  # the 11-23 booking is past its 90 days, the 12-21 one is not
    counts = retention.purge(svc, HALL_REGISTRY)
    assert counts["appointments"] == 1
    cols = "name_masked, phone_masked, phone_hash, id_hash, id_masked"
    assert svc.ledger.query(f"SELECT {cols} FROM appointments WHERE id = ?", (old.id,)) == [(None,) * 5]
    kept = svc.ledger.query(f"SELECT {cols} FROM appointments WHERE id = ?", (later.id,))[0]
    assert kept[0] == "李*" and kept[2] == later.phone_hash
    # the booking itself stays for the statistics, without anyone in it
    assert book.by_code(old.code).status.value == "booked" and book.by_code(old.code).name_masked is None
    purged = [e for e in svc.ledger.events_since(0) if e["type"] == "retention.purged"]
    assert purged[-1]["data"]["counts"]["appointments"] == 1
    assert retention.purge(svc, HALL_REGISTRY)["appointments"] == 0
