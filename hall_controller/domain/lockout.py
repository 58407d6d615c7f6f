"""Wrong PINs and passwords slow down and then lock (pure: the caller passes `now`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .errors import HallError

FREE_ATTEMPTS = 3  # wrong tries before any delay
LOCK_AFTER = 6  # wrong tries before the account locks
LOCK_MINUTES = 15


@dataclass
class _Record:
    failures: int = 0
    last: datetime | None = None


@dataclass
class Lockout:
    records: dict[str, _Record] = field(default_factory=dict)

    def check(self, key: str, now: datetime) -> None:
        """Raise 429 while `key` must wait; the wait doubles with each wrong try past the free ones."""
        r = self.records.get(key)
        if r is None or r.last is None or r.failures < FREE_ATTEMPTS:
            return
        if r.failures >= LOCK_AFTER:
            until = r.last + timedelta(minutes=LOCK_MINUTES)
            if now < until:
                minutes = int((until - now).total_seconds() // 60) + 1
                raise HallError("locked", f"密码错误次数过多，账号已锁定，请{minutes}分钟后再试或联系管理员。", 429)
            del self.records[key]
            return
        until = r.last + timedelta(seconds=2 ** (r.failures - FREE_ATTEMPTS + 1))
        if now < until:
            seconds = int((until - now).total_seconds()) + 1
            raise HallError("too_many_attempts", f"密码错误次数较多，请{seconds}秒后再试。", 429)

    def failed(self, key: str, now: datetime) -> None:
        r = self.records.setdefault(key, _Record())
        r.failures += 1
        r.last = now

    def succeeded(self, key: str) -> None:
        self.records.pop(key, None)
