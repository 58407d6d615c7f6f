"""Personal data (个人信息) retention, pure: how long each table keeps its personal fields."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hall_controller.core.feature import PersonalData

TICKETS = "tickets"
# The core's own entry: the ticket holder's hash, kept inside the ticket record.
TICKET_HOLDERS = PersonalData(TICKETS, ("holder",), "issued_at")


@dataclass(frozen=True)
class RetentionSettings:
    days: int = 180  # default retention period of personal data
    tables: dict[str, int] = field(default_factory=dict)  # per-table periods overriding `days`
    check_minutes: int = 60


def cutoffs(now: datetime, settings: RetentionSettings, tables: Iterable[str]) -> dict[str, str]:
    """Per table, the age before which its personal fields go."""
    return {name: (now - timedelta(days=settings.tables.get(name, settings.days))).isoformat() for name in tables}
