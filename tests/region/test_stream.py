"""The hall's stream to the region, over the region's real HTTP app and PostgreSQL: exactly once through lost
answers, a region down for a while, a region restored from an older backup, and a wrong key."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hall_controller.app import parse_config
from hall_controller.config_loader import ConfigError
from hall_controller.features.region.rules import RegionSettings
from hall_controller.features.region.service import RegionError, Streamer
from region.app import create_region_app
from tests.conftest import DEMO_CONFIG
from tests.region.hall_day import hall_service, morning


class Link(httpx.AsyncBaseTransport):
    """The wide-area link to the region: up, down, or losing the region's answers after it committed."""

    def __init__(self, app):
        self.inner = httpx.ASGITransport(app=app)
        self.down = False
        self.lose_answers = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("link down", request=request)
        response = await self.inner.handle_async_request(request)
        if self.lose_answers:
            self.lose_answers -= 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
def region(store):
    key = store.add_hall("h1", "一号大厅")
    link = Link(create_region_app(store))
    return store, key, link


def streamer(service, key, batch=5, hall_id="h1") -> Streamer:
    return Streamer(service, RegionSettings(url="http://region", hall_id=hall_id, key=key, batch_size=batch))


async def drain(s: Streamer, client: httpx.AsyncClient, rounds: int = 100) -> None:
    for _ in range(rounds):
        if not s.behind():
            return
        await s.round(client)
    raise AssertionError("stream did not catch up")


def test_a_hall_catches_up_exactly_once_through_lost_answers_and_a_link_down(tmp_path, region):
    store, key, link = region
    service = hall_service(tmp_path / "hall.db")
    morning(service, served=6)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=link) as client:
            s = streamer(service, key)
            await s.round(client)
            assert s.cursor() == 5
            link.lose_answers = 2  # the region commits twice, the hall hears nothing
            for _ in range(2):
                with pytest.raises(RegionError):
                    await s.round(client)
            assert s.cursor() == 5 and store.counts() == {"h1": 10}  # the second post re-sent 6–10: dropped
            link.down = True  # a day offline: the hall goes on working and its ledger grows
            with pytest.raises(RegionError):
                await s.round(client)
            morning(service, served=3)
            link.down = False
            await drain(s, client)

    asyncio.run(scenario())
    assert store.counts() == {"h1": service.ledger.last_seq}
    assert service.ledger.query("SELECT seq FROM region_cursor WHERE hall_id = 'h1'")[0][0] == service.ledger.last_seq
    hall = store.overview(service.clock.now())[0]
    assert (hall["issued_today"], hall["served_today"], hall["behind"]) == (13, 9, 0)
    service.ledger.close()


def test_a_region_restored_from_an_older_backup_gets_the_rest_again(tmp_path, region):
    store, key, link = region
    service = hall_service(tmp_path / "hall.db")
    morning(service)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=link) as client:
            s = streamer(service, key, batch=100)
            await drain(s, client)
            assert s.cursor() == service.ledger.last_seq
            store.records("DELETE FROM events WHERE seq > 10 RETURNING seq")
            store.records("UPDATE halls SET last_seq = 10 RETURNING last_seq")
            await s.round(client)  # the region answers 10: the hall moves back and sends 11… again
            assert s.cursor() == 10
            await drain(s, client)

    asyncio.run(scenario())
    assert store.counts() == {"h1": service.ledger.last_seq}
    service.ledger.close()


def test_a_wrong_key_or_hall_id_moves_nothing(tmp_path, region):
    store, key, link = region
    service = hall_service(tmp_path / "hall.db")
    morning(service)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=link) as client:
            for s in (streamer(service, "x" * 43), streamer(service, key, hall_id="h9")):
                with pytest.raises(RegionError, match="HTTP 401"):
                    await s.round(client)
                assert s.cursor() == 0

    asyncio.run(scenario())
    assert store.counts() == {}
    service.ledger.close()


def test_the_region_section_is_checked():
    base = DEMO_CONFIG.read_text(encoding="utf-8")
    cfg = parse_config(base + '\n[region]\nurl = "http://127.0.0.1:9000/"\nhall_id = "chengguan"\nkey = "' + "k" * 43 + '"\n')
    s = cfg.sections["region"]
    assert (s.url, s.hall_id, s.enabled, s.batch_size) == ("http://127.0.0.1:9000", "chengguan", True, 500)
    assert not parse_config(base).sections["region"].enabled
    for bad, where in (('url = "ftp://x"', "region.url"), ('hall_id = "城关"', "region.hall_id"),
                       ('key = "short"', "region.key"), ('batchsize = 5', "region.batchsize")):
        values = {"url": 'url = "http://127.0.0.1:9000"', "hall_id": 'hall_id = "h1"', "key": f'key = "{"k" * 20}"'}
        values[bad.split(" ")[0]] = bad
        with pytest.raises(ConfigError) as err:
            parse_config(base + "\n[region]\n" + "\n".join(values.values()) + "\n")
        assert err.value.key == where
