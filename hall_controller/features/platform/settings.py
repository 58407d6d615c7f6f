"""The `[platform]` section: where and how the hall pushes to the upstream platform (一体化政务服务平台)."""

from __future__ import annotations

from hall_controller import config_loader as config
from hall_controller.core.settings import HallConfig
from hall_controller.features.platform.rules import SCALES, PlatformSettings

_KEYS = ("enabled", "url", "hall_code", "token", "timeout_s", "retry_base_s", "retry_max_s", "batch_size", "scale",
         "keep_days")


def parse(table: config.Table, core: HallConfig) -> PlatformSettings:
    t = config.Table(table.source, table.path, table.data, _KEYS)
    enabled = t.flag("enabled", False)
    url = t.text("url", "", empty=not enabled)
    if url and not url.startswith(("http://", "https://")):
        t.fail("url", f'must start with http:// or https://, got "{url}"')
    scale = t.text("scale", "gbt39046")
    if scale not in SCALES:
        t.fail("scale", f'must be one of {", ".join(SCALES)}, got "{scale}"')
    base = t.number("retry_base_s", 1.0, positive=True, high=3600)
    top = t.number("retry_max_s", 300.0, positive=True, high=86400)
    if top < base:
        t.fail("retry_max_s", f"must be at least retry_base_s ({base:g})")
    return PlatformSettings(
        enabled=enabled, url=url, hall_code=t.text("hall_code", "hall"), token=t.text("token", "", empty=True),
        timeout_s=t.number("timeout_s", 5.0, positive=True, high=300), retry_base_s=base, retry_max_s=top,
        batch_size=t.integer("batch_size", 50, low=1, high=1000), scale=scale,
        keep_days=t.integer("keep_days", 30, low=1, high=3660),
    )




def settings(cfg: HallConfig) -> PlatformSettings:
    return cfg.sections.get("platform") or PlatformSettings()
