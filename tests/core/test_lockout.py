"""Wrong PINs from many sources: the guesser waits, the staff member at their own counter does not (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hall_controller.core import lockout
from hall_controller.core.errors import HallError
from hall_controller.core.lockout import Lockout, known_key
from tests.factory import MONDAY_10

ACCOUNT = "staff:QH1001"


def fail(lock: Lockout, account: str, source: str, now) -> None:
    lock.check(account, source, now)
    lock.apply(lock.failure(account, source, now), {}, now)


def waits(lock: Lockout, account: str, source: str, now) -> bool:
    try:
        lock.check(account, source, now)
    except HallError as exc:
        assert exc.status == 429 and exc.code == "too_many_attempts"
        return True
    return False


def test_one_source_waits_after_three_and_the_wait_doubles_to_a_cap():
    lock, now = Lockout(), MONDAY_10
    for _ in range(3):
        fail(lock, ACCOUNT, "10.0.0.9", now)
    assert waits(lock, ACCOUNT, "10.0.0.9", now) and not waits(lock, ACCOUNT, "10.0.0.9", now + timedelta(seconds=2))
    for n in range(30):
        now += timedelta(minutes=15)
        fail(lock, ACCOUNT, "10.0.0.9", now)
    assert waits(lock, ACCOUNT, "10.0.0.9", now + timedelta(minutes=14))
    assert not waits(lock, ACCOUNT, "10.0.0.9", now + timedelta(seconds=lockout.MAX_DELAY_S))  # a wait, never a lock


def test_many_sources_at_one_account_hold_up_unknown_sources_only():
    lock, now = Lockout(), MONDAY_10
    lock.apply({}, {known_key(ACCOUNT, "counter-3"): now - timedelta(days=1)}, now)  # signed in there yesterday
    for n in range(5):  # five addresses, a guess each
        fail(lock, ACCOUNT, f"10.0.1.{n}", now)
    assert waits(lock, ACCOUNT, "10.0.1.5", now)  # the sixth address waits: the account is under attack
    assert not waits(lock, ACCOUNT, "counter-3", now)  # the staff member's own counter does not
    assert lock.sources(ACCOUNT, now) == 5
    assert not waits(lock, "staff:QH1002", "10.0.1.5", now)  # nor does anyone at another account


def test_spraying_many_accounts_from_one_source_waits():
    lock, now = Lockout(), MONDAY_10
    for n in range(lockout.SOURCE_FREE):
        fail(lock, f"staff:QH{1000 + n}", "10.0.0.66", now)
    assert waits(lock, "staff:QH1099", "10.0.0.66", now)  # a 工号 it never tried
    assert not waits(lock, "staff:QH1099", "10.0.0.67", now)


def test_counts_are_forgotten_after_the_window_and_memory_is_capped(monkeypatch):
    monkeypatch.setattr(lockout, "MAX_TRACKED", 30)
    lock, now = Lockout(), MONDAY_10
    for n in range(100):
        fail(lock, f"staff:X{n}", f"10.0.3.{n}", now)
    assert len(lock.counts) == 30
    later = now + timedelta(minutes=lockout.WINDOW_MINUTES + 1)
    fail(lock, "staff:Y", "10.0.4.1", later)
    assert set(lock.counts) == {"pair|staff:Y|10.0.4.1", "source|10.0.4.1", "account|staff:Y"}


@pytest.mark.parametrize("account", ["staff:S001", "staff:NOBODY"])
def test_load_keeps_current_counts_and_known_sources(account):
    now = MONDAY_10
    rows = [(f"pair|{account}|a", 4, now.isoformat()), (f"account|{account}", 4, now.isoformat()),
            ("source|a", 4, (now - timedelta(hours=2)).isoformat()), (known_key(account, "b"), 0, now.isoformat())]
    lock = Lockout.load(rows, now)
    assert set(lock.counts) == {f"pair|{account}|a", f"account|{account}"} and lock.is_known(account, "b", now)
