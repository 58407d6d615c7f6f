"""Staffing advice: GET /api/staffing for managers, figures from Erlang C with the Allen–Cunneen factor."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from hall_controller import demand, theory
from hall_controller.api import staffing as staffing_api
from hall_controller.api.app import create_app
from hall_controller.cli import main
from hall_controller.clock import ManualClock
from hall_controller.config import Manager
from hall_controller.passwords import hash_secret
from hall_controller.service import HallService
from hall_controller.store import Ledger

from .factory import MONDAY_10, small_hall

TARGET = 15.0
CS2 = 1.5 ** 2  # default service CV without a [simulation] section


@pytest.fixture
def hall(tmp_path):
    cfg = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", hash_secret("pw-1", iterations=1000)),))
    clock = ManualClock(MONDAY_10.replace(hour=9, minute=0))
    service = HallService(cfg, Ledger(tmp_path / "hall.db"), clock)
    app = create_app(service)
    staffing_api.install(app)
    with TestClient(app) as client:
        yield client, service, clock
    service.ledger.close()


def manager_headers(client: TestClient) -> dict[str, str]:
    r = client.post("/api/manager/sign-in", json={"manager_id": "boss", "password": "pw-1"})
    assert r.status_code == 200
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_staffing_needs_a_manager(hall):
    client, service, _ = hall
    assert client.get("/api/staffing").status_code == 401
    assert client.get("/api/staffing", headers={"Authorization": "Bearer nope"}).status_code == 401
    staff = client.post("/api/windows/1/sign-in", json={"staff_id": "S001", "pin": "1234"}).json()["token"]
    r = client.get("/api/staffing", headers={"Authorization": f"Bearer {staff}"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_past_slots_count_todays_tickets_and_match_erlang_c(hall):
    client, service, clock = hall
    for n in range(12):  # 12 social tickets between 09:00 and 09:30: 24 an hour
        service.issue_ticket("S1" if n % 2 else "S2", "kiosk")
        clock.advance(minutes=2)
    service.sign_in("1", "S001", "1234")
    service.sign_in("3", "S003", "1234")
    clock.set(MONDAY_10.replace(minute=10))
    body = client.get("/api/staffing", headers=manager_headers(client)).json()
    assert set(body) == {"generated_at", "target_wait_minutes", "themes", "advice", "one_more_window"}
    assert body["target_wait_minutes"] == TARGET
    social = next(t for t in body["themes"] if t["category_id"] == "social")
    assert social["name"] == "社会事务"
    assert [t["category_id"] for t in body["themes"]] == ["social", "business", "other"]  # general themes only
    row = next(r for r in social["rows"] if r["slot"] == "09:00")
    assert row["arrivals_per_hour"] == 24
    # S1 (8 min) and S2 (6 min) weigh alike without a mix: 7-minute mean; target tightened by (1 + Cs²)/2.
    assert row["windows_needed"] == theory.windows_needed(24 / 60, 1 / 7, target_wq=TARGET * 2 / (1 + CS2))
    assert row["windows_open"] == 0  # nobody called in that half-hour
    now = next(r for r in social["rows"] if r["slot"] == "10:00")
    assert now["windows_open"] == 2  # windows 1 (comprehensive) and 3 (social) are signed in
    expected = now["arrivals_per_hour"]
    assert now["windows_needed"] == (theory.windows_needed(expected / 60, 1 / 7, target_wq=TARGET * 2 / (1 + CS2))
                                     if expected else 0)
    one = body["one_more_window"]
    assert set(one) == {"category_id", "current_wq_min", "with_one_more_wq_min"}
    assert one["with_one_more_wq_min"] is not None
    assert one["current_wq_min"] is None or one["with_one_more_wq_min"] <= one["current_wq_min"]
    assert all(isinstance(a, str) and a for a in body["advice"])


def test_a_busy_morning_raises_the_forecast(hall):
    client, service, clock = hall
    headers = manager_headers(client)
    quiet = client.get("/api/staffing", headers=headers).json()
    for _ in range(60):
        service.issue_ticket("S2", "kiosk")
        clock.advance(seconds=20)
    busy = client.get("/api/staffing", headers=headers).json()

    def rate(body, slot):
        social = next(t for t in body["themes"] if t["category_id"] == "social")
        return next(r for r in social["rows"] if r["slot"] == slot)

    assert rate(busy, "15:00")["arrivals_per_hour"] > rate(quiet, "15:00")["arrivals_per_hour"]
    assert rate(busy, "15:00")["windows_needed"] >= rate(quiet, "15:00")["windows_needed"]
    assert any("建议增开" in a for a in busy["advice"])


def test_default_profile_peaks_at_ten_at_1_3_times_the_mean():
    profile = demand.default_profile(small_hall())
    mean = sum(profile.values()) / len(profile)
    assert max(profile, key=profile.get) == 600
    assert profile[600] / mean == pytest.approx(1.3)
    rates = demand.arrivals_per_hour(small_hall(), demand.SimulationSettings(tickets_per_day=500))
    assert sum(rates.values()) / 2 == pytest.approx(500)


def test_cli_prints_the_advice(capsys):
    assert main(["staffing", "--at", "2026-11-23T10:10:00"]) == 0
    out = capsys.readouterr().out
    assert "人手测算" in out and "社会事务" in out and "按常规客流测算" in out
    assert main(["staffing", "--at", "2026-11-23T10:10:00", "--json"]) == 0
    assert '"one_more_window"' in capsys.readouterr().out
