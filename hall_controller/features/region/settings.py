"""The `[region] url / hall_id / key` section: where this hall streams its ledger (docs/region.md)."""

from __future__ import annotations

import re

from hall_controller import config_loader as config
from hall_controller.core.settings import HallConfig
from hall_controller.features.region.rules import RegionSettings

_KEYS = ("url", "hall_id", "key", "batch_size", "timeout_s", "retry_base_s", "retry_max_s", "heartbeat_s")
_HALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def parse(table: config.Table, core: HallConfig) -> RegionSettings:
    t = config.Table(table.source, table.path, table.data, _KEYS)
    if not t.data:
        return RegionSettings()
    url = t.text("url").rstrip("/")
    if not url.startswith(("http://", "https://")):
        t.fail("url", f'must start with http:// or https://, got "{url}"')
    hall_id = t.text("hall_id")
    if not _HALL_ID.fullmatch(hall_id):
        t.fail("hall_id", f'"{hall_id}" is not a valid id: use 1-40 ASCII letters, digits, "_" or "-"')
    key = t.text("key")
    if len(key) < 16:
        t.fail("key", "must be the key the region issued for this hall (at least 16 characters)")
    d = RegionSettings()
    base = t.number("retry_base_s", d.retry_base_s, positive=True, high=3600)
    top = t.number("retry_max_s", d.retry_max_s, positive=True, high=86400)
    if top < base:
        t.fail("retry_max_s", f"must be at least retry_base_s ({base:g})")
    return RegionSettings(
        url=url, hall_id=hall_id, key=key, batch_size=t.integer("batch_size", d.batch_size, low=1, high=5000),
        timeout_s=t.number("timeout_s", d.timeout_s, positive=True, high=300), retry_base_s=base, retry_max_s=top,
        heartbeat_s=t.number("heartbeat_s", d.heartbeat_s, positive=True, high=3600),
    )


def settings(cfg: HallConfig) -> RegionSettings:
    return cfg.sections.get("region") or RegionSettings()
