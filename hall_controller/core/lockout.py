"""Wrong PINs and passwords slow down and then lock (pure: the caller passes `now`, and commits before it applies).

Failures count within `LOCK_MINUTES` of the last one: an older count is forgotten, which is also how a lock
ends. Real accounts' counts are the caller's to persist (they must survive a restart) and are bounded by
the config; ids no account has are tracked too — or the lock would tell which 工号 exist — but only in
memory, pruned and capped, so random ids cannot grow it for ever.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hall_controller.core.errors import HallError

FREE_ATTEMPTS = 3  # wrong tries before any delay
LOCK_AFTER = 6  # wrong tries before the account locks
LOCK_MINUTES = 15
MAX_STRANGERS = 10_000  # unknown ids remembered at most (least recently failed dropped first)


@dataclass(frozen=True)
class Attempts:
    failures: int
    last: datetime

    def current(self, now: datetime) -> bool:
        return now - self.last <= timedelta(minutes=LOCK_MINUTES)


@dataclass
class Lockout:
    accounts: dict[str, Attempts] = field(default_factory=dict)
    strangers: OrderedDict[str, Attempts] = field(default_factory=OrderedDict)

    def attempts(self, key: str, now: datetime) -> Attempts | None:
        r = self.accounts.get(key) or self.strangers.get(key)
        return r if r is not None and r.current(now) else None

    def check(self, key: str, now: datetime) -> None:
        """Raise 429 while `key` must wait; the wait doubles with each wrong try past the free ones."""
        r = self.attempts(key, now)
        if r is None or r.failures < FREE_ATTEMPTS:
            return
        if r.failures >= LOCK_AFTER:
            until = r.last + timedelta(minutes=LOCK_MINUTES)
            minutes = int((until - now).total_seconds() // 60) + 1
            raise HallError("locked", f"密码错误次数过多，账号已锁定，请{minutes}分钟后再试或联系管理员。", 429)
        until = r.last + timedelta(seconds=2 ** (r.failures - FREE_ATTEMPTS + 1))
        if now < until:
            seconds = int((until - now).total_seconds()) + 1
            raise HallError("too_many_attempts", f"密码错误次数较多，请{seconds}秒后再试。", 429)

    def failure(self, key: str, now: datetime) -> Attempts:
        """The count after one more wrong try (not yet applied)."""
        r = self.attempts(key, now)
        return Attempts((r.failures if r else 0) + 1, now)

    def apply(self, key: str, attempts: Attempts | None, account: bool, now: datetime) -> None:
        """Take a committed count (None: cleared by a right one) and drop what no longer counts."""
        if account:
            if attempts is None:
                self.accounts.pop(key, None)
            else:
                self.accounts[key] = attempts
            return
        self.strangers.pop(key, None)
        if attempts is not None:
            self.strangers[key] = attempts  # failures come in time order: the oldest stay at the front
        while self.strangers and (len(self.strangers) > MAX_STRANGERS
                                  or not next(iter(self.strangers.values())).current(now)):
            self.strangers.popitem(last=False)
