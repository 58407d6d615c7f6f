"""The `[manager]` section: the thresholds of the live board's alerts."""

from __future__ import annotations

from hall_controller.config_loader import Table
from hall_controller.core.service import HallService
from hall_controller.core.settings import HallConfig
from hall_controller.features.manager.rules import ALLOWED_KEYS, ManagerSettings


def parse(table: Table, core: HallConfig) -> ManagerSettings:
    t = Table(table.source, table.path, table.data, ALLOWED_KEYS)
    d = ManagerSettings()
    return ManagerSettings(
        queue_alert=t.integer("queue_alert", d.queue_alert, low=1, high=10_000),
        idle_alert_minutes=t.number("idle_alert_minutes", d.idle_alert_minutes, positive=False, high=480),
        pause_alert_minutes=t.number("pause_alert_minutes", d.pause_alert_minutes, positive=False, high=480),
        refresh_seconds=t.integer("refresh_seconds", d.refresh_seconds, low=1, high=300),
        issuing_burst=t.integer("issuing_burst", d.issuing_burst, low=0, high=1000),
        person_daily_tickets=t.integer("person_daily_tickets", d.person_daily_tickets, low=0, high=1000),
    )


def settings_of(service: HallService) -> ManagerSettings:
    return service.config.sections.get("manager") or ManagerSettings()
