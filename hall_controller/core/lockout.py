"""Wrong PINs and passwords slow the guesser down, never lock the staff out (pure: the caller passes `now`, and
commits before it applies).

Failures are counted three ways, each within `WINDOW_MINUTES` of its last failure:
- per account and source (the address or device the try came from): `FREE_ATTEMPTS` free, then waits that
  double up to `MAX_DELAY_S` — the guesser at one address waits, nobody else does;
- per source, over all accounts: trying many 工号 from one address (spraying) waits after `SOURCE_FREE`;
- per account, over all sources: after `ACCOUNT_FREE` every source *unknown* to the account waits too (many
  addresses sharing a guess at one PIN), while a source where the account signed in before (the staff member's
  own counter) is not held up; at `ALERT_AFTER` the managers' board alerts, and a manager may clear it all.
A wait, not a lock: no count of failures refuses the right PIN from a known source, so no one can lock the
staff out. Ids no account has are counted and stored exactly like real ones, so the answers, their timing
and what survives a restart tell nobody which 工号 exist.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hall_controller.core.errors import HallError

FREE_ATTEMPTS = 3  # wrong tries from one source at one account before any wait
SOURCE_FREE = 10  # wrong tries from one source at any accounts before it waits
ACCOUNT_FREE = 5  # wrong tries at one account from all sources before unknown sources wait
ALERT_AFTER = ACCOUNT_FREE  # wrong tries at one account: the managers' board alerts (unknown sources now wait)
MAX_DELAY_S = 15 * 60  # waits double up to this
WINDOW_MINUTES = 60  # failures count within this of the last one: longer than the longest wait
KNOWN_DAYS = 30  # a source where the account signed in within this long is known to it
MAX_TRACKED = 100_000  # counts remembered at most (least recently failed dropped first, real or not alike)


@dataclass(frozen=True)
class Attempts:
    failures: int
    last: datetime

    def current(self, now: datetime) -> bool:
        return now - self.last <= timedelta(minutes=WINDOW_MINUTES)

    def wait_until(self, free: int) -> datetime | None:
        if self.failures < free:
            return None
        return self.last + timedelta(seconds=min(MAX_DELAY_S, 2 ** (self.failures - free + 1)))


def pair_key(account: str, source: str) -> str:
    return f"pair|{account}|{source}"


def account_key(account: str) -> str:
    return f"account|{account}"


def source_key(source: str) -> str:
    return f"source|{source}"


def known_key(account: str, source: str) -> str:
    return f"known|{account}|{source}"


@dataclass
class Lockout:
    counts: OrderedDict[str, Attempts] = field(default_factory=OrderedDict)  # in the order they last failed
    known: dict[str, datetime] = field(default_factory=dict)  # known_key -> last right secret from there

    @classmethod
    def load(cls, rows: list[tuple[str, int, str | None]], now: datetime) -> Lockout:
        """From the ledger's `lockouts` rows (key, failures, last)."""
        lockout = cls()
        for key, failures, last in sorted(rows, key=lambda r: r[2] or ""):
            if last is None:
                continue
            at = datetime.fromisoformat(last)
            if key.startswith("known|"):
                lockout.known[key] = at
            elif failures > 0 and Attempts(failures, at).current(now):
                lockout.counts[key] = Attempts(failures, at)
        return lockout

    def attempts(self, key: str, now: datetime) -> Attempts | None:
        r = self.counts.get(key)
        return r if r is not None and r.current(now) else None

    def is_known(self, account: str, source: str, now: datetime) -> bool:
        at = self.known.get(known_key(account, source))
        return at is not None and now - at <= timedelta(days=KNOWN_DAYS)

    def check(self, account: str, source: str, now: datetime) -> None:
        """Raise 429 while a try at `account` from `source` must wait."""
        limits = [(pair_key(account, source), FREE_ATTEMPTS), (source_key(source), SOURCE_FREE)]
        if not self.is_known(account, source, now):
            limits.append((account_key(account), ACCOUNT_FREE))
        waits = [until for key, free in limits
                 if (r := self.attempts(key, now)) is not None and (until := r.wait_until(free)) is not None]
        until = max(waits, default=None)
        if until is not None and now < until:
            seconds = int((until - now).total_seconds()) + 1
            wait = f"{seconds // 60 + 1}分钟" if seconds > 90 else f"{seconds}秒"
            raise HallError("too_many_attempts", f"密码错误次数较多，请{wait}后再试；如需立即登录请联系大厅管理员。", 429)

    def failure(self, account: str, source: str, now: datetime) -> dict[str, Attempts]:
        """The counts after one more wrong try (not yet applied)."""
        out = {}
        for key in (pair_key(account, source), source_key(source), account_key(account)):
            r = self.attempts(key, now)
            out[key] = Attempts((r.failures if r else 0) + 1, now)
        return out

    def sources(self, account: str, now: datetime) -> int:
        """How many sources failed at `account` lately."""
        prefix = f"pair|{account}|"
        return sum(1 for key, r in self.counts.items() if key.startswith(prefix) and r.current(now))

    def of_account(self, account: str) -> list[str]:
        """Every count about `account` (what a manager's clearing resets)."""
        return [key for key in self.counts if key == account_key(account) or key.startswith(f"pair|{account}|")]

    def apply(self, counts: dict[str, Attempts | None], known: dict[str, datetime], now: datetime) -> None:
        """Take committed counts (None: cleared) and known sources, and drop what no longer counts."""
        for key, attempts in counts.items():
            self.counts.pop(key, None)
            if attempts is not None:
                self.counts[key] = attempts  # failures come in time order: the oldest stay at the front
        self.known.update(known)
        while self.counts and (len(self.counts) > MAX_TRACKED or not next(iter(self.counts.values())).current(now)):
            self.counts.popitem(last=False)
