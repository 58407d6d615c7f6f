"""The region's HTTP surface over a real PostgreSQL: ingest with a key per hall, the overview API, clear
4xx errors, and the Chinese pages with their drill-downs and the monthly return's CSV."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from hall_controller.features.region.rules import to_region
from region.app import create_region_app
from tests.region.hall_day import hall_service, morning

PASSWORD = "区域监管-2026"


@pytest.fixture
def region(tmp_path, store):
    service = hall_service(tmp_path / "hall.db")
    morning(service)
    key = store.add_hall("h1", "城关镇便民服务中心")
    store.add_hall("h2", "经开区分中心")
    store.add_user("jianguan", "监管办王科长", PASSWORD)
    now = service.clock.now()
    with TestClient(create_region_app(store, clock=lambda: now)) as client:
        client.post("/sign-in", data={"user_id": "jianguan", "password": PASSWORD}).raise_for_status()
        yield client, service, key
    service.ledger.close()


def post(client, key, events, hall_id="h1"):
    return client.post("/api/region/ingest", json={"hall_id": hall_id, "events": events, "last_seq": 99},
                       headers={"Authorization": f"Bearer {key}"})


def test_ingest_and_overview(region):
    client, service, key = region
    sent = [to_region(e) for e in service.ledger.events_since(0, 1000)]
    assert post(client, key, sent).json() == {"acked": len(sent)}
    assert post(client, key, sent).json() == {"acked": len(sent)}  # a retry
    assert post(client, key, []).json() == {"acked": len(sent)}  # a heartbeat
    halls = client.get("/api/region/overview").json()["halls"]
    h1 = halls[0]
    assert [h["hall_id"] for h in halls] == ["h1", "h2"]
    assert {k: h1[k] for k in ("name", "issued_today", "served_today", "waiting", "windows_open", "behind")} == {
        "name": "城关镇便民服务中心", "issued_today": 6, "served_today": 4, "waiting": 2, "windows_open": 2,
        "behind": 99 - len(sent)}
    assert client.get("/api/region/halls/h1").json()["windows"][0]["window_id"] == "1"
    r = client.get("/api/region/reports", params={"hall_id": "h1", "window_id": "1"}).json()
    assert (r["level"], r["rows"][0]["key"]) == ("staff", "S001")
    assert client.get("/api/region/returns/2026-11").json()["rows"][0]["served"] == 4
    assert len(client.get("/api/region/supervision").json()["cases"]) == 1


@pytest.mark.parametrize("case", ["wrong key", "no key", "unknown hall", "bad event", "not json", "too many",
                                  "nul character", "duplicate seq", "not a list"])
def test_bad_posts_get_a_clear_error(region, case):
    client, service, key = region
    event = to_region(service.ledger.events_since(0, 1)[0])
    r = {
        "wrong key": lambda: post(client, "x" * 43, [event]),
        "no key": lambda: client.post("/api/region/ingest", json={"hall_id": "h1", "events": [event]}),
        "unknown hall": lambda: post(client, key, [event], hall_id="nowhere"),
        "bad event": lambda: post(client, key, [{**event, "at": "yesterday"}]),
        "not json": lambda: client.post("/api/region/ingest", content=b"{", headers={"Authorization": f"Bearer {key}",
                                                                                     "Content-Type": "application/json"}),
        "too many": lambda: post(client, key, [event] * 5001),
        "nul character": lambda: post(client, key, [{**event, "data": {"x": "a\u0000b"}}]),
        "duplicate seq": lambda: post(client, key, [event, event]),
        "not a list": lambda: client.post("/api/region/ingest", json={"hall_id": "h1", "events": {"seq": 1}},
                                          headers={"Authorization": f"Bearer {key}"}),
    }[case]()
    expected = {"wrong key": 401, "no key": 401, "unknown hall": 401}.get(case, 422)
    assert r.status_code == expected
    assert set(r.json()) == {"error", "message"} and re.search(r"[\u4e00-\u9fff]", r.json()["message"])
    assert client.get("/api/region/overview").json()["halls"][0]["events"] == 0


def test_bad_queries_get_a_clear_error(region):
    client, _, _ = region
    assert client.get("/api/region/returns/2026-13").json()["error"] == "invalid_month"
    assert client.get("/api/region/reports", params={"start": "2026-11-30", "end": "2026-11-01"}).status_code == 422
    assert client.get("/api/region/reports", params={"window_id": "1"}).status_code == 422
    assert client.get("/api/region/halls/nowhere").status_code == 404
    assert client.get("/halls/nowhere").json()["error"] == "not_found"


def test_pages_in_chinese_with_drill_down_and_no_network_assets(region):
    client, service, key = region
    post(client, key, [to_region(e) for e in service.ledger.events_since(0, 1000)])
    board = client.get("/").text
    assert "区域看板" in board and "城关镇便民服务中心" in board and 'href="/halls/h1"' in board
    assert "从未连接" in board  # h2
    hall = client.get("/halls/h1").text
    assert "1号综合窗口" in hall and "/reports?hall_id=h1&amp;window_id=1" in hall
    day = service.clock.now().date()
    by_hall = client.get("/reports", params={"start": day.isoformat(), "end": day.isoformat()}).text
    assert "按大厅" in by_hall and "hall_id=h1" in by_hall
    by_window = client.get("/reports", params={"start": day.isoformat(), "end": day.isoformat(), "hall_id": "h1"}).text
    assert "按窗口" in by_window and "window_id=1" in by_window
    by_staff = client.get("/reports", params={"hall_id": "h1", "window_id": "1", "start": day.isoformat()}).text
    assert "按工作人员" in by_staff and "S001" in by_staff
    supervision = client.get("/supervision").text
    assert "待核实" in supervision and "窗口现场" in supervision
    returns = client.get("/returns", params={"month": "2026-11"}).text
    assert "效能月报" in returns and "即办件" in returns
    csv = client.get("/returns/2026-11.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("月份,大厅编号,大厅") and lines[1].startswith("2026-11,h1,城关镇便民服务中心")
    for page in (board, hall, by_hall, supervision, returns):
        for url in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert url.startswith(("/", "#")), url
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, url


def test_overdue_work_is_flagged(region):
    client, service, key = region
    post(client, key, [to_region(e) for e in service.ledger.events_since(0, 1000)])
    later = service.clock.now() + timedelta(days=5)
    app = client.app
    app.state.now = lambda: later
    client.post("/sign-in", data={"user_id": "jianguan", "password": PASSWORD})  # five days on: a new sign-in
    page = client.get("/supervision", params={"overdue": "true"}).text
    assert page.count("（已超期）") == 2
    assert "差评整改超期 1 件" in client.get("/").text
