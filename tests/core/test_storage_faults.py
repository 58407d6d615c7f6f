"""A database that cannot take writes gives a clear 503, changes nothing, and recovers cleanly."""

from __future__ import annotations

import pytest

from hall_controller.core.errors import HallError
from tests.factory import KIOSK


def test_read_only_database(service, client):
    first = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"}).json()
    service.ledger.conn.execute("PRAGMA query_only = ON")
    r = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"})
    assert r.status_code == 503 and r.json()["error"] == "storage_unavailable" and "未生效" in r.json()["message"]
    assert len(service.hall.tickets) == 1  # memory did not move ahead of the ledger
    service.ledger.conn.execute("PRAGMA query_only = OFF")
    again = client.post("/api/tickets", headers=KIOSK, json={"service_id": "S1"}).json()
    assert (first["number"], again["number"]) == ("A001", "A002")  # no gap, no reuse
    seqs = [row[0] for row in service.ledger.query("SELECT seq FROM events ORDER BY seq")]
    assert seqs == [1, 2]
    assert service.ledger.query("PRAGMA integrity_check")[0][0] == "ok"


def test_full_disk(service):
    service.issue_ticket("S1", "kiosk")
    pages = service.ledger.query("PRAGMA page_count")[0][0]
    service.ledger.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(HallError) as e:
        for _ in range(500):  # fill the remaining free space of the last pages
            service.issue_ticket("S1", "kiosk", request_id=None)
    assert e.value.status == 503
    committed = service.ledger.query("SELECT COUNT(*) FROM tickets")[0][0]
    assert committed == len(service.hall.tickets)  # every ticket in memory is in the ledger, and only those
    assert service.ledger.query("PRAGMA integrity_check")[0][0] == "ok"
