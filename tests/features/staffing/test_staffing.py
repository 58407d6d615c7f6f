"""Staffing advice: GET /api/staffing for managers, figures from Erlang C with the Allen–Cunneen factor."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hall_controller.app import load_config, open_ledger
from hall_controller.cli import main
from hall_controller.core.clock import ManualClock
from hall_controller.core.hall import Hall
from hall_controller.core.passwords import hash_secret
from hall_controller.core.service import HallService
from hall_controller.core.settings import HallConfig, Manager
from hall_controller.features.simulation import demand
from hall_controller.features.simulation.simulate import sim_config
from hall_controller.features.staffing import rules
from hall_controller.features.staffing import service as staffing
from hall_controller.features.staffing import theory
from hall_controller.features.staffing.feature import feature as staffing_f
from hall_controller.http.app import create_app
from tests.factory import MONDAY_10, small_hall

TARGET = 15.0
CS2 = 1.5 ** 2  # default service CV without a [simulation] section


@pytest.fixture
def hall(tmp_path):
    cfg = replace(small_hall(), managers=(Manager("boss", "值班主任", "manager", hash_secret("pw-1", iterations=1000)),))
    clock = ManualClock(MONDAY_10.replace(hour=9, minute=0))
    service = HallService(cfg, open_ledger(tmp_path / "hall.db"), clock)
    app = create_app(service, [staffing_f])
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
    assert set(body) == {"generated_at", "target_wait_minutes", "target", "themes", "slots", "advice", "one_more_window",
                         "people"}
    # The standing arrangement (no rota published): all five staff rostered, two signed in, three to open with.
    assert (body["people"]["rostered"], body["people"]["signed_in"], len(body["people"]["available"])) == (5, 2, 3)
    assert body["target_wait_minutes"] == TARGET
    social = next(t for t in body["themes"] if t["category_id"] == "social")
    assert social["name"] == "社会事务"
    # Every theme with matters, the special 统一出件 included.
    assert [(t["category_id"], t["general"]) for t in body["themes"]] == [
        ("social", True), ("business", True), ("other", True), ("pickup", False)]
    row = next(r for r in social["rows"] if r["slot"] == "09:00")
    assert row["arrivals_per_hour"] == 24
    # S1 (8 min) and S2 (6 min) weigh alike without a mix: 7-minute mean, 2.8 windows' worth of work.
    assert row["load"] == 2.8
    d = staffing.theme_demand(service.config, demand.settings_of(service.config), "social",
                              demand.service_rates(service.config, demand.settings_of(service.config)))
    assert d.mean_min == 7 and d.cs2 > CS2  # two lengths of matter add to the spread
    slot9 = next(s for s in body["slots"] if s["slot"] == "09:00")
    # Only 社会事务 came: the pool needs what Erlang C with the Allen–Cunneen factor says for it alone.
    assert slot9["windows_needed"] == theory.windows_needed(24 / 60, 1 / 7, target_wq=TARGET * 2 / (1 + d.cs2))
    assert row["windows_open"] == 0 and slot9["windows_open"] == 0  # nobody called in that half-hour
    now = next(r for r in social["rows"] if r["slot"] == "10:00")
    assert now["windows_may_serve"] == 2  # windows 1 (comprehensive) and 3 (social) are signed in ...
    shared = [next(r for r in t["rows"] if r["slot"] == "10:00")["windows_open"] for t in body["themes"]]
    assert sum(shared) == 2  # ... and count once between the themes, not once per theme
    total = next(s for s in body["slots"] if s["slot"] == "10:00")
    assert total["windows_open"] == 2
    assert total["windows_needed"] == 2 + total["short"] - total["spare"]
    assert len(total["open_windows"]) + len(total["new_windows"]) == total["short"]
    one = body["one_more_window"]
    assert one["windows"] == 2 and one["backlog"] == 12  # nobody called yet: the morning's 12 still wait
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
    assert rate(busy, "15:00")["load"] > rate(quiet, "15:00")["load"]
    assert any("需增开" in a for a in busy["advice"])


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


# --- the windows are one pool: the audit's scenario on the demo hall ------------------------------------------

DEMO = Path(__file__).resolve().parents[3] / "config" / "demo-hall.toml"


def demo_hall_at_ten(windows: list[str] | None = None) -> tuple[HallConfig, Hall, datetime]:
    cfg = sim_config(load_config(DEMO))
    now = MONDAY_10.replace(minute=10)
    hall = Hall(cfg)
    for w in cfg.windows:
        if windows is None or w.id in windows:
            hall.apply(hall.sign_in(w.id, f"sim-{w.id}", now))
    return cfg, hall, now


def at(report: dict, slot: str) -> dict[str, dict]:
    return {t["category_id"]: next(r for r in t["rows"] if r["slot"] == slot) for t in report["themes"]}


def test_seven_comprehensive_windows_are_one_pool_short_of_what_the_pool_needs():
    """Audit: 7 comprehensive windows showed 7 open for every theme against needs 6, 5, 3, 4 and 'meets target'."""
    cfg, hall, now = demo_hall_at_ten([w.id for w in load_config(DEMO).windows if w.mode == "comprehensive"])
    report = staffing.advise(cfg, hall, now)
    rows = at(report, "10:00")
    assert {c: r["windows_may_serve"] for c, r in rows.items() if r["windows_may_serve"]} == {
        "social": 7, "business": 7, "construction": 7, "other": 7}
    assert sum(r["windows_open"] for r in rows.values()) == 7  # the seven windows, shared out once
    total = next(s for s in report["slots"] if s["slot"] == "10:00")
    assert total["windows_open"] == 7 and total["short"] > 0
    assert total["windows_needed"] == 7 + total["short"]
    assert all(rows[c]["short"] for c in ("social", "business", "construction", "other", "pickup", "consult",
                                          "assist", "crossregion"))
    # The closed windows are named: the categorised ones for the general pool, the special ones for theirs.
    assert {17, 19} <= set(total["open_windows"]) or {18, 20} & set(total["open_windows"])
    text = "\n".join(report["advice"])
    assert "可满足" not in text and "可释放" not in text
    assert f"10:00–10:30 需增开{total['short']}个窗口" in text and "开启" in text
    one = report["one_more_window"]
    assert one["windows"] == 7 and not one["stable"] and one["current_wq_min"] is None
    add = one["windows_for_stability"] - 7
    assert add > 1 and "综合窗口池不足" in text and f"需至少增开{add}个" in text  # said, never dropped


def test_the_general_pool_is_sized_as_one_queue_not_theme_by_theme():
    """Audit: the demo hall at 10:00 was advised 18 general windows where one pooled queue needs 14."""
    cfg, hall, now = demo_hall_at_ten([w.id for w in load_config(DEMO).windows if w.mode == "comprehensive"])
    report = staffing.advise(cfg, hall, now)
    general = [t["category_id"] for t in report["themes"] if t["general"]]
    settings = demand.settings_of(cfg)
    usual = demand.service_rates(cfg, settings)
    loads = [(at(report, "10:00")[c]["arrivals_per_hour"], staffing.theme_demand(cfg, settings, c, usual))
             for c in general]
    target = staffing.target_of(cfg)
    pooled = rules.pooled_windows(loads, target)
    separate = sum(rules.pooled_windows([x], target) for x in loads)
    assert pooled < separate  # pooling's gain
    # Windows serving general themes after the advice: the pooled need (one more where the special windows'
    # themes join the pool), far from the per-theme sum.
    total = next(s for s in report["slots"] if s["slot"] == "10:00")
    general_windows = {w.number for w in cfg.windows if serves_general(cfg, hall, w.id)}
    opened = [n for n in total["open_windows"] if n in general_windows]
    assert pooled <= 7 + len(opened) <= pooled + 1 < separate


def serves_general(cfg, hall, window_id):
    return bool(staffing.serves(cfg, hall, window_id) & {c.id for c in cfg.categories if c.general})


def test_spare_windows_are_released_when_fewer_meet_the_target():
    """Every window signed in on a quiet afternoon: the advice says how many can go, and which."""
    cfg, hall, now = demo_hall_at_ten()
    quiet = replace(cfg, sections={**cfg.sections, "simulation": replace(
        demand.settings_of(cfg), tickets_per_day=150)})
    report = staffing.advise(quiet, hall, now.replace(hour=16))
    total = next(s for s in report["slots"] if s["slot"] == "16:00")
    assert total["short"] == 0 and total["spare"] > 0
    assert total["windows_needed"] == total["windows_open"] - total["spare"]
    assert len(total["release_windows"]) == total["spare"]
    line = next(a for a in report["advice"] if "可释放" in a)
    assert f"可释放{total['spare']}个窗口" in line
    # Released windows keep every theme served: each theme still has a window after the release.
    left = set(hall.windows) - {w.id for w in cfg.windows if w.number in total["release_windows"]}
    for t in report["themes"]:
        if any(r["arrivals_per_hour"] > 0 for r in t["rows"][-4:]):
            assert any(t["category_id"] in staffing.serves(cfg, hall, w) for w in left)


def test_a_service_level_target_can_ask_for_more_than_the_mean_wait():
    """80 % within 10 minutes (the demo's) or 95 % within 5 minutes: more windows than the mean alone."""
    cfg, hall, now = demo_hall_at_ten()
    mean_only = replace(cfg, queue=replace(cfg.queue, service_level_percent=None, service_level_minutes=None))
    strict = replace(cfg, queue=replace(cfg.queue, service_level_percent=95, service_level_minutes=5))

    def need(c):
        r = staffing.advise(c, hall, now)
        return next(s for s in r["slots"] if s["slot"] == "10:00")["windows_needed"], r

    (a, _), (b, _), (c, r) = need(mean_only), need(cfg), need(strict)
    assert a <= b <= c and a < c
    assert r["target"]["text"] == "平均等候不超过15分钟、95%的群众5分钟内叫号"


def test_a_special_window_busy_with_general_matters_is_flagged():
    """docs/routing.md: 跨省通办's one window also serves 社会事务 matters, so its citizens wait long."""
    cfg, hall, now = demo_hall_at_ten()
    report = staffing.advise(cfg, hall, now)
    rows = at(report, "10:30")
    for cat in ("crossregion", "assist"):
        assert rows[cat]["windows_open"] == 1 and rows[cat]["short"]
        assert rows[cat]["shared_wq_min"] is None or rows[cat]["shared_wq_min"] > TARGET
    assert "pickup" in rows and "shared_wq_min" not in rows["pickup"]  # 统一出件 lists only its own matters
    assert any("跨省通办的专窗也办理综合类事项" in a for a in report["advice"])


def test_one_more_window_accounts_for_the_people_already_waiting(hall):
    client, service, clock = hall
    clock.set(MONDAY_10)
    service.sign_in("1", "S001", "1234")
    for _ in range(20):
        service.issue_ticket("S2", "kiosk")
    body = client.get("/api/staffing", headers=manager_headers(client)).json()
    one = body["one_more_window"]
    assert one["windows"] == 1 and one["backlog"] == 20
    mean = 60 * one["windows"] / one["capacity_per_hour"]
    if one["stable"]:
        assert one["clear_backlog_min"] == pytest.approx(20 / (1 / mean - one["arrivals_per_hour"] / 60), rel=0.02)
    assert one["next_wait_min"] == pytest.approx(21 * mean, rel=0.01)  # 20 ahead, one window
    assert one["next_wait_with_one_more_min"] == pytest.approx(21 * mean / 2, rel=0.01)
    assert any("现排队20人" in a for a in body["advice"])


def test_allocation_is_a_maximum_matching():
    # x first would take window a and leave y without one; an augmenting path moves x to c instead.
    windows = {"a": {"x", "y"}, "b": {"y", "z"}, "c": {"x"}}
    assert staffing.allocate({"x": 1, "y": 1, "z": 1}, windows, {}) == {"x": 1, "y": 1, "z": 1}
    # Short overall: counts still add up to the windows, and only the uncoverable need is short.
    got = staffing.allocate({"x": 3, "y": 1}, {"a": {"x", "y"}, "b": {"x"}}, {"x": 1.0, "y": 1.0})
    assert sum(got.values()) == 2 and got["y"] == 1 and got["x"] == 1
    # Short everywhere: shared windows go where the shortfall is relatively largest, no theme is starved.
    pool = {f"c{i}": {"s", "b"} for i in range(5)} | {"w7": {"s"}, "w8": {"s", "b"}, "w9": {"b"}, "w10": {"b"}}
    got = staffing.allocate({"s": 11, "b": 8}, pool, {"s": 70.0, "b": 22.0})
    assert got == {"s": 5, "b": 4}  # 6/11 and 4/8 short, rather than 10/11 and 1/8
    assert staffing.allocate({"x": 10, "y": 10}, {f"c{i}": {"x", "y"} for i in range(10)}, {}) == {"x": 5, "y": 5}
    # Spare windows go to the busiest theme per window.
    assert staffing.allocate({"x": 0, "y": 0}, {"a": {"x", "y"}}, {"x": 1.0, "y": 5.0}) == {"x": 0, "y": 1}


def test_a_theme_s_variability_is_that_of_its_mix_of_matters():
    """Cs² of a mix from its second moment: matters of different lengths add variability of their own."""
    mixed = staffing.mixture([(0.5, 5.0, 1.0), (0.5, 15.0, 1.0)])  # two exponential matters, 5 and 15 minutes
    assert mixed.mean_min == 10.0
    assert mixed.cs2 == pytest.approx((0.5 * 25 * 2 + 0.5 * 225 * 2) / 100 - 1)  # 1.5, not the average 1.0
    cfg = load_config(Path(__file__).resolve().parents[3] / "config" / "demo-hall.toml")
    settings = demand.settings_of(cfg)
    other = staffing.theme_demand(cfg, settings, "other", demand.service_rates(cfg, settings))
    assert other.cs2 == pytest.approx(3.39, abs=0.01)  # 其他事务 (the average of the matters' Cs² was 2.56)


@pytest.mark.parametrize("day", ["2026-11-22", "2026-10-01"])  # a Sunday, 国庆
def test_nothing_is_advised_for_a_closed_day(day):
    cfg = load_config(Path(__file__).resolve().parents[3] / "config" / "demo-hall.toml")
    at = datetime.fromisoformat(f"{day}T10:00+08:00")
    report = staffing.advise(cfg, Hall(cfg), at)
    assert all(t["windows_needed"] == 0 and t["short"] == 0 for t in report["slots"])
    assert report["advice"] == ["今日大厅不开放（休息日或法定节假日），无需安排窗口。"]  # nothing to open or release
