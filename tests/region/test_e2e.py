"""End to end: a real hall server streams to a real `hall-controller region serve` on PostgreSQL; the region
is killed mid-day, the hall goes on issuing, and the region catches up to exactly the hall's ledger."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ROOT, ServerProcess
from tests.region.servers import RegionProcess, wait_for

pytestmark = pytest.mark.slow


def test_a_hall_streams_to_the_region_and_catches_up_after_the_region_died(tmp_path, region_dsn):
    added = subprocess.run([sys.executable, "-m", "hall_controller.cli", "region", "add-hall", "--dsn", region_dsn,
                            "--hall-id", "chengguan", "--name", "城关镇便民服务中心"], cwd=ROOT, capture_output=True,
                           text=True, check=True)
    key = added.stdout.split('key = "')[1].split('"')[0]
    subprocess.run([sys.executable, "-m", "hall_controller.cli", "region", "add-user", "--dsn", region_dsn,
                    "--user-id", "jianguan", "--name", "监管办王科长"], input="区域监管-2026\n", cwd=ROOT,
                   capture_output=True, text=True, check=True)
    region = RegionProcess(region_dsn, tmp_path / "region.log").start()
    signed_in = httpx.post(f"{region.url}/api/region/sign-in", json={"user_id": "jianguan", "password": "区域监管-2026"})
    reader = {"Authorization": f"Bearer {signed_in.json()['token']}"}  # a sign-in outlives a restart of the region
    config = tmp_path / "hall.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + f'\n[region]\nurl = "{region.url}"\n'
                      f'hall_id = "chengguan"\nkey = "{key}"\nretry_base_s = 0.2\nretry_max_s = 0.5\n'
                      f'heartbeat_s = 1\n', encoding="utf-8")
    hall = ServerProcess(tmp_path / "hall.db", config=config).start()
    try:
        def held() -> int:
            return httpx.get(f"{region.url}/api/region/halls/chengguan", headers=reader, timeout=2).json()["events"]

        def ledger() -> int:
            return httpx.get(f"{hall.url}/healthz").json()["seq"]

        for i in range(5):
            assert httpx.post(f"{hall.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move"}).status_code == 201
        wait_for(lambda: held() == ledger(), "the region to hold the hall's events")

        region.kill()
        for i in range(3):  # the hall does not notice
            assert httpx.post(f"{hall.url}/api/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move"}).status_code == 201
        region.start()
        wait_for(lambda: held() == ledger(), "the region to catch up")
        day = "2026-11-23"
        rows = httpx.get(f"{region.url}/api/region/reports", params={"start": day, "end": day}, headers=reader).json()["rows"]
        assert [(r["key"], r["issued"]) for r in rows] == [("chengguan", 8)]
        board = httpx.get(f"{region.url}/api/region/overview", headers=reader).json()["halls"][0]
        assert board["behind"] == 0 and board["alerts"] == []
    finally:
        hall.stop()
        region.kill()
