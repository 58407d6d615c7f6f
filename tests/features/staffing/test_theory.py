"""Tests for hall_controller.theory against published values, each re-derived here independently."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.features.staffing.theory import (
    allen_cunneen_wq,
    erlang_a,
    erlang_b,
    erlang_c,
    halfin_whitt_p_wait,
    lq,
    priority_wq,
    service_level,
    square_root_staffing,
    utilisation,
    windows_needed,
    wq,
)

# --- independent references -------------------------------------------------------------------------


def b_exact(c: int, a: Fraction) -> Fraction:
    """Erlang B by the direct formula (a^c/c!) / Σ_{k≤c} a^k/k!, in exact arithmetic."""
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def c_exact(c: int, a: Fraction) -> Fraction:
    """Erlang C by the direct formula, in exact arithmetic (needs a < c)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def log_sum_exp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def b_lgamma(c: int, a: float) -> float:
    """Erlang B in log space via lgamma, for large c."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c + 1)]
    return math.exp(logs[-1] - log_sum_exp(logs))


def c_lgamma(c: int, a: float) -> float:
    """Erlang C in log space via lgamma, for large c (a < c)."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    return math.exp(top - log_sum_exp([*logs, top]))


def erlang_a_brute(lam: float, mu: float, c: int, theta: float, n_max: int) -> tuple[float, float, float]:
    """Erlang A from a plainly truncated chain 0..n_max: (P(wait), P(abandon), Wq)."""
    logs = [0.0]
    for n in range(1, n_max + 1):
        logs.append(logs[-1] + math.log(lam / (min(n, c) * mu + max(n - c, 0) * theta)))
    m = max(logs)
    w = [math.exp(x - m) for x in logs]
    total = sum(w)
    p = [x / total for x in w]
    queue = sum((n - c) * p[n] for n in range(c, n_max + 1))
    served = mu * sum(min(n, c) * p[n] for n in range(n_max + 1))
    p_abandon = theta * queue / lam
    assert served == pytest.approx(lam * (1 - p_abandon), rel=1e-9)  # flow balance of the chain itself
    return sum(p[c:]), p_abandon, queue / lam


# --- the staffing check values (per minute: λ = 2, μ = 1/6): 15 pooled windows vs three queues of 5 --------
# Erlang C as in Gross & Harris, Fundamentals of Queueing Theory, §2.3 (M/M/c); each value is re-derived here
# in exact rational arithmetic (`c_exact`), not taken from the code under test.

MU = 1 / 6


def test_pooled_hall_check_values():
    lam, c = 2.0, 15
    assert wq(lam, MU, c) == pytest.approx(0.638, abs=5e-4)
    assert erlang_c(c, lam / MU) == pytest.approx(0.319, abs=5e-4)
    assert service_level(lam, MU, c, 10) == pytest.approx(0.998, abs=5e-4)
    assert lq(lam, MU, c) == pytest.approx(lam * wq(lam, MU, c))
    assert utilisation(lam, MU, c) == pytest.approx(0.8)
    assert erlang_c(c, lam / MU) == pytest.approx(float(c_exact(c, Fraction(12))), rel=1e-12)


def test_separate_queues_check_values():
    lam, c = 2 / 3, 5
    assert wq(lam, MU, c) == pytest.approx(3.325, abs=5e-4)
    assert erlang_c(c, lam / MU) == pytest.approx(0.554, abs=5e-4)
    assert service_level(lam, MU, c, 10) == pytest.approx(0.895, abs=5e-4)
    assert erlang_c(c, 4.0) == pytest.approx(float(c_exact(c, Fraction(4))), rel=1e-12)  # 64/115.5


# --- textbook Erlang tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c", "a", "table"),
    [
        (10, "10", 0.2146),
        (5, "2", 0.0367),
        (10, "4.46", 0.0100),  # 1 % grade-of-service rows of the Erlang B table
        (20, "12.03", 0.0100),
        (50, "37.9", 0.0100),
        (100, "84.06", 0.0100),
    ],
)
def test_erlang_b_table(c, a, table):
    exact = float(b_exact(c, Fraction(a)))
    assert exact == pytest.approx(table, abs=5e-5)
    assert erlang_b(c, float(a)) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(
    ("c", "a", "table"),
    [(11, "10", 0.6821), (3, "2", 4 / 9), (2, "1", 1 / 3), (1, "0.7", 0.7)],
)
def test_erlang_c_table(c, a, table):
    exact = float(c_exact(c, Fraction(a)))
    assert exact == pytest.approx(table, abs=5e-5)
    assert erlang_c(c, float(a)) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(("c", "a"), [(300, 250.0), (500, 450.0), (500, 480.0), (500, 499.5), (500, 10.0)])
def test_large_c_is_stable(c, a):
    assert erlang_b(c, a) == pytest.approx(b_lgamma(c, a), rel=1e-10)
    assert erlang_c(c, a) == pytest.approx(c_lgamma(c, a), rel=1e-10)


def test_tiny_blocking_underflows_gracefully():
    assert erlang_b(500, 1.0) == 0.0  # 1/500! is below the float range
    assert erlang_c(500, 1.0) == 0.0
    assert wq(1.0, 1.0, 500) == 0.0
    assert service_level(1.0, 1.0, 500, 0) == 1.0


def test_mm1_and_mm2_closed_forms():
    for rho in (0.1, 0.5, 0.9, 0.99):
        assert erlang_c(1, rho) == pytest.approx(rho)
        assert wq(rho, 1.0, 1) == pytest.approx(rho / (1 - rho))
        assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))


def test_zero_arrivals():
    assert erlang_b(3, 0.0) == 0.0
    assert erlang_c(3, 0.0) == 0.0
    assert wq(0.0, 1.0, 1) == 0.0
    assert lq(0.0, 1.0, 1) == 0.0
    assert service_level(0.0, 1.0, 1, 0) == 1.0
    assert windows_needed(0.0, 1.0, target_wq=1.0) == 1
    assert erlang_a(0.0, 1.0, 2, 0.5) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(("lam", "c"), [(2.0, 12), (2.5, 12), (2.0, 11)])
def test_unstable_systems(lam, c):
    assert erlang_c(c, lam / MU) == 1.0
    assert wq(lam, MU, c) == math.inf
    assert lq(lam, MU, c) == math.inf
    assert service_level(lam, MU, c, 10) == 0.0
    assert utilisation(lam, MU, c) >= 1
    assert allen_cunneen_wq(lam, MU, c, 0.0, 0.0) == math.inf
    assert erlang_a(lam, MU, c, 0.0) == (1.0, 0.0, math.inf)


# --- staffing -----------------------------------------------------------------------------------------


def test_windows_needed_on_hall_numbers():
    assert windows_needed(2.0, MU, target_wq=15) == 13  # the county's "average wait ≤ 15 min"
    assert windows_needed(2.0, MU, target_wq=0.638) == 16  # 15 windows give 0.6384 > 0.638
    assert windows_needed(2.0, MU, target_wq=0.639) == 15
    assert windows_needed(2.0, MU, target_sl=0.8, t=1) == 15
    assert windows_needed(2.0, MU, target_wq=15, target_sl=0.8, t=1) == 15


def test_halfin_whitt_published_values():
    assert halfin_whitt_p_wait(0.5) == pytest.approx(0.50, abs=0.005)
    assert halfin_whitt_p_wait(1.0) == pytest.approx(0.22, abs=0.005)
    assert halfin_whitt_p_wait(1.5) == pytest.approx(0.085, abs=0.001)
    assert halfin_whitt_p_wait(0.0) == 1.0
    assert halfin_whitt_p_wait(50.0) == 0.0


def test_square_root_staffing():
    assert square_root_staffing(400, 1.0) == 420
    assert square_root_staffing(100, 0.5) == 105
    assert square_root_staffing(12, 1.0) == 16  # 12 + 3.46
    assert square_root_staffing(0.0, 1.0) == 1
    assert square_root_staffing(4, -5.0) == 1


@pytest.mark.parametrize("beta", [0.5, 1.0, 1.5])
def test_halfin_whitt_approaches_erlang_c_for_large_a(beta):
    errors = []
    for a in (100, 400, 2500, 10_000):
        err = abs(erlang_c(square_root_staffing(a, beta), a) - halfin_whitt_p_wait(beta))
        assert err < 0.2 / math.sqrt(a)
        errors.append(err)
    assert errors == sorted(errors, reverse=True)


# --- Erlang A -----------------------------------------------------------------------------------------


def test_erlang_a_reduces_to_erlang_c():
    p_wait, p_abandon, w = erlang_a(2.0, MU, 15, 1e-9)
    assert p_wait == pytest.approx(erlang_c(15, 12.0), rel=1e-6)
    assert w == pytest.approx(wq(2.0, MU, 15), rel=1e-6)
    assert p_abandon < 1e-8
    assert erlang_a(2.0, MU, 15, 0.0) == (erlang_c(15, 12.0), 0.0, wq(2.0, MU, 15))


def test_erlang_a_with_patience_equal_to_service_is_poisson():
    lam, mu, c = 2.0, MU, 15  # θ = μ: death rate nμ for every n, so N ~ Poisson(a)
    a = lam / mu
    pmf = [math.exp(-a + n * math.log(a) - math.lgamma(n + 1)) for n in range(300)]
    queue = sum((n - c) * p for n, p in enumerate(pmf) if n > c)
    p_wait, p_abandon, w = erlang_a(lam, mu, c, mu)
    assert p_wait == pytest.approx(sum(pmf[c:]), rel=1e-10)
    assert p_abandon == pytest.approx(mu * queue / lam, rel=1e-10)
    assert w == pytest.approx(queue / lam, rel=1e-10)


@pytest.mark.parametrize(
    ("lam", "mu", "c", "theta"),
    [
        (2.0, MU, 15, 1 / 20),
        (2.0, MU, 12, 1 / 10),
        (3.0, MU, 12, 1 / 10),
        (1.0, 1.0, 1, 0.05),
        (50.0, 0.5, 90, 0.2),
    ],
)
def test_erlang_a_matches_truncated_chain(lam, mu, c, theta):
    expected = erlang_a_brute(lam, mu, c, theta, n_max=c + 5000)
    assert erlang_a(lam, mu, c, theta) == pytest.approx(expected, rel=1e-9)


def test_erlang_a_is_sensible():
    base = erlang_c(15, 12.0), 0.0, wq(2.0, MU, 15)
    previous = base
    for theta in (0.01, 0.05, 0.2, 1.0):
        result = erlang_a(2.0, MU, 15, theta)
        assert result.p_wait < previous[0]
        assert result.p_abandon > previous[1]
        assert result.wq < previous[2]
        assert result.p_abandon < result.p_wait
        previous = result


def test_erlang_a_overloaded_hall_stays_finite():
    lam, mu, c = 3.0, MU, 12  # a = 18 > c: only impatience keeps the queue finite
    result = erlang_a(lam, mu, c, 1 / 10)
    assert result.p_abandon >= (lam - c * mu) / lam  # at most cμ can be served
    assert math.isfinite(result.wq)
    slow = erlang_a(lam, mu, c, 1e-5)
    assert slow.p_abandon == pytest.approx((lam - c * mu) / lam, rel=1e-4)


# --- Allen–Cunneen and priority --------------------------------------------------------------------------


def test_allen_cunneen():
    assert allen_cunneen_wq(2.0, MU, 15, 1.0, 1.0) == wq(2.0, MU, 15)
    assert allen_cunneen_wq(2.0, MU, 15, 1.0, 0.0) == pytest.approx(wq(2.0, MU, 15) / 2)
    lam, mu = 0.8, 1.0
    for cs2 in (0.0, 1.0, 1.96, 4.0):  # M/G/1: exact Pollaczek–Khinchine, λE[S²] / (2(1 − ρ))
        pk = lam * (1 + cs2) / mu**2 / (2 * (1 - lam / mu))
        assert allen_cunneen_wq(lam, mu, 1, 1.0, cs2) == pytest.approx(pk)


def test_priority_two_classes_by_hand():
    lam1, lam2, c = 0.5, 1.5, 15
    top = erlang_c(c, 12.0) / (c * MU)
    s1, s2 = lam1 / (c * MU), (lam1 + lam2) / (c * MU)
    assert priority_wq([lam1, lam2], MU, c) == pytest.approx([top / (1 - s1), top / ((1 - s1) * (1 - s2))])


def test_priority_matches_a_published_two_class_example():
    """A published worked example of the M/M/1 head-of-the-line (non-preemptive) queue with two classes
    ("M/M/1 Queue with Two Priority Classes": high and low priority lots at one machine, formula quoted from
    Prabhu (1981), Table 4.4; reproduced in the nvidia/Nemotron-CC-Math-v1 web corpus): λ_H = 1/h, λ_L = 9/h,
    μ = 12/h for both; ν = Σλ/μ² = 0.06944 h; time in system 9.545 min (high) and 32.27 min (low), weighted
    mean 30 min. The formula is Cobham's (A. Cobham, "Priority assignment in waiting line problems",
    J. Operations Research Society of America 2(1), 1954, 70–76): W_p = W0 / ((1 − σ_{p−1})(1 − σ_p)).

    Re-derived independently: W0 = ν = 10/144 h; Wq_H = ν / (1 − 1/12) = 1/13.2 h = 4.545 min; Wq_L =
    ν / ((11/12)(1/6)) = 5/11 h = 27.27 min; + 5 min service each; FCFS M/M/1 W = 1/(μ − λ) = 30 min.
    """
    per_hour = priority_wq([1.0, 9.0], 12.0, 1)
    exact = [Fraction(10, 144) / Fraction(11, 12), Fraction(10, 144) / (Fraction(11, 12) * Fraction(1, 6))]
    assert per_hour == pytest.approx([float(x) for x in exact], rel=1e-12)
    in_system_min = [60 * (w + 1 / 12) for w in per_hour]
    assert in_system_min == pytest.approx([9.545, 32.27], abs=0.005)  # the published figures
    assert (1 * in_system_min[0] + 9 * in_system_min[1]) / 10 == pytest.approx(30.0)  # = FCFS 1/(μ − λ)


def test_priority_single_class_is_fcfs_and_order_helps():
    assert priority_wq([2.0], MU, 15) == pytest.approx([wq(2.0, MU, 15)])
    waits = priority_wq([0.3, 0.5, 1.2], MU, 15)
    assert waits == sorted(waits)


def test_priority_overloaded_hall_starves_only_low_classes():
    c = 12  # total load 18 > 12, but class 1 alone is 6
    waits = priority_wq([1.0, 2.0], MU, c)
    assert waits[0] == pytest.approx(1 / (c * MU) / (1 - 1.0 / (c * MU)))
    assert waits[1] == math.inf


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_b(0, 1.0),
        lambda: erlang_b(2.0, 1.0),
        lambda: erlang_b(True, 1.0),
        lambda: erlang_c(3, -1.0),
        lambda: erlang_c(3, math.nan),
        lambda: wq(-1.0, 1.0, 2),
        lambda: wq(1.0, 0.0, 2),
        lambda: wq(1.0, math.inf, 2),
        lambda: service_level(1.0, 1.0, 2, -1.0),
        lambda: utilisation(1.0, 1.0, 0),
        lambda: windows_needed(1.0, 1.0),
        lambda: windows_needed(1.0, 1.0, target_wq=0.0),
        lambda: windows_needed(1.0, 1.0, target_sl=0.8),
        lambda: windows_needed(1.0, 1.0, target_wq=1.0, t=1.0),
        lambda: windows_needed(1.0, 1.0, target_sl=1.0, t=1.0),
        lambda: windows_needed(1.0, 1.0, target_sl=0.0, t=1.0),
        lambda: square_root_staffing(-1.0, 1.0),
        lambda: square_root_staffing(1.0, math.nan),
        lambda: halfin_whitt_p_wait(-0.5),
        lambda: erlang_a(1.0, 1.0, 1, -0.1),
        lambda: erlang_a(2.0, 1.0, 1, 1e-12),
        lambda: allen_cunneen_wq(1.0, 1.0, 2, -1.0, 1.0),
        lambda: priority_wq([], 1.0, 2),
        lambda: priority_wq([1.0, -1.0], 1.0, 2),
        lambda: priority_wq([1.0], 1.0, 0),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_error_message_names_the_argument():
    with pytest.raises(ValueError, match=r"lam must be a finite number >= 0"):
        wq(-2.0, 1.0, 3)
    with pytest.raises(ValueError, match=r"c \(number of windows\) must be an integer >= 1"):
        wq(2.0, 1.0, 0)


# --- properties -----------------------------------------------------------------------------------------

loads = st.floats(min_value=0.0, max_value=400.0, allow_nan=False)
windows = st.integers(min_value=1, max_value=300)


@given(windows, loads)
def test_erlang_c_bounds(c, a):
    b, p = erlang_b(c, a), erlang_c(c, a)
    assert 0.0 <= b <= 1.0
    assert 0.0 <= p <= 1.0
    assert p >= b


@given(windows, loads)
def test_monotone_decreasing_in_c(c, a):
    assert erlang_b(c + 1, a) <= erlang_b(c, a)
    assert erlang_c(c + 1, a) <= erlang_c(c, a)


@given(st.integers(1, 30), st.integers(0, 600), st.integers(1, 20))
def test_matches_exact_formula(c, num, den):
    a = Fraction(num, den)
    assert erlang_b(c, float(a)) == pytest.approx(float(b_exact(c, a)), rel=1e-12, abs=1e-300)
    if a < c:
        assert erlang_c(c, float(a)) == pytest.approx(float(c_exact(c, a)), rel=1e-11, abs=1e-300)


@settings(deadline=None)
@given(
    st.floats(0.01, 200.0),
    st.floats(0.01, 10.0),
    st.one_of(st.none(), st.floats(0.001, 10.0)),
    st.one_of(st.none(), st.tuples(st.floats(0.001, 0.999), st.floats(0.0, 5.0))),
)
def test_windows_needed_is_smallest(a, mu, wq_in_services, sl):
    lam = a * mu
    target_wq = None if wq_in_services is None else wq_in_services / mu
    target_sl, t = (None, None) if sl is None else (sl[0], sl[1] / mu)
    if target_wq is None and target_sl is None:
        target_wq = 1.0 / mu

    def meets(c: int) -> bool:
        return (target_wq is None or wq(lam, mu, c) <= target_wq) and (
            target_sl is None or service_level(lam, mu, c, t) >= target_sl
        )

    c = windows_needed(lam, mu, target_wq=target_wq, target_sl=target_sl, t=t)
    assert c > lam / mu
    assert meets(c)
    assert c == 1 or not meets(c - 1)


@given(
    st.lists(st.floats(0.0, 5.0), min_size=1, max_size=5),
    st.floats(0.05, 5.0),
    st.integers(1, 50),
)
def test_priority_conserves_mean_wait(lams, mu, c):
    total = sum(lams)
    if total == 0 or total / mu >= c * 0.999:
        return
    waits = priority_wq(lams, mu, c)
    assert sum(x * w for x, w in zip(lams, waits)) / total == pytest.approx(wq(total, mu, c), rel=1e-9)


@given(st.floats(0.01, 50.0), st.floats(0.05, 5.0), st.integers(1, 40), st.floats(0.01, 10.0))
def test_erlang_a_bounds(lam, mu, c, theta):
    p_wait, p_abandon, w = erlang_a(lam, mu, c, theta)
    assert 0.0 <= p_abandon <= p_wait <= 1.0
    assert 0.0 <= w < math.inf
    assert w <= wq(lam, mu, c) * (1 + 1e-9)
