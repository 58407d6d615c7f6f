"""The region's fixtures: one real PostgreSQL cluster for the session, a fresh database for each test."""

from __future__ import annotations

import itertools
from zoneinfo import ZoneInfo

import pytest

from region.store import Store
from tests.pg import Cluster

TZ = ZoneInfo("Asia/Shanghai")
_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Cluster:
    cluster = Cluster().init().start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def region_dsn(pg_cluster) -> str:
    return pg_cluster.create_database(f"region_{next(_names)}")


@pytest.fixture
def store(region_dsn) -> Store:
    s = Store(region_dsn, TZ, min_size=1, max_size=4).open()
    yield s
    s.close()
