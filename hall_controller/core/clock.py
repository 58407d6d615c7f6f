"""Clocks, injected everywhere time matters, so nothing depends on the hour the code runs at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def __init__(self, tz: str):
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(self.tz)


class OffsetClock:
    """Real time shifted by a fixed offset: the demo hall runs 'in office hours' at any hour."""

    def __init__(self, tz: str, offset: timedelta):
        self.tz = ZoneInfo(tz)
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(self.tz) + self.offset


class ManualClock:
    """A clock that moves only when told: tests and the simulator."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when
