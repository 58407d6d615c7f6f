"""Queueing formulas for staffing a service hall: M/M/c (Erlang B/C), Erlang A, Allen–Cunneen, priority.

Rates share one time unit (e.g. per minute) and waits come back in that unit. `a = lam / mu` is the offered
load in Erlangs and `c` the number of open windows. A system with a >= c is unstable: waits are `math.inf`,
P(wait) is 1.0 and the service level is 0.0. Everything rests on the Erlang B recursion, which stays
accurate for hundreds of windows (no factorials, no overflow).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

_EPS = 1e-16  # relative truncation error allowed in the Erlang A chain
_MAX_TAIL_STATES = 1_000_000  # guard against a vanishing patience rate in an overloaded hall
_RESCALE_AT = 1e150  # Erlang A tail terms are rescaled above this to avoid overflow


def _rate(name: str, x: float, positive: bool = False) -> float:
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {x!r}")
    return float(x)


def _windows(c: int) -> int:
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"c (number of windows) must be an integer >= 1, got {c!r}")
    return c


def _mmc(lam: float, mu: float, c: int) -> tuple[float, float]:
    """Validated (offered load a, P(wait)) of M/M/c."""
    lam, mu = _rate("lam", lam), _rate("mu", mu, positive=True)
    a = lam / mu
    return a, erlang_c(c, a)


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c: B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))."""
    _windows(c)
    a = _rate("a", a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """P(wait) of M/M/c: C = c·B / (c − a(1 − B)) = B / (1 − (a/c)(1 − B)); 1.0 when a >= c."""
    _windows(c)
    if _rate("a", a) >= c:
        return 1.0
    b = erlang_b(c, a)
    return min(1.0, b / (1.0 - a / c * (1.0 - b)))


def wq(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c: Wq = C / (cμ − λ); math.inf when unstable."""
    a, p_wait = _mmc(lam, mu, c)
    return math.inf if a >= c else p_wait / (mu * (c - a))


def lq(lam: float, mu: float, c: int) -> float:
    """Mean queue length of M/M/c: Lq = λ·Wq (Little); math.inf when unstable."""
    return lam * wq(lam, mu, c)


def service_level(lam: float, mu: float, c: int, t: float) -> float:
    """P(wait ≤ t) of M/M/c: SL = 1 − C·e^(−(cμ−λ)t); 0.0 when unstable."""
    a, p_wait = _mmc(lam, mu, c)
    t = _rate("t", t)
    return 0.0 if a >= c else 1.0 - p_wait * math.exp(-mu * (c - a) * t)


def utilisation(lam: float, mu: float, c: int) -> float:
    """Window occupancy ρ = λ / (cμ); a value >= 1 means the queue grows without bound."""
    _windows(c)
    return _rate("lam", lam) / (c * _rate("mu", mu, positive=True))


def windows_needed(
    lam: float,
    mu: float,
    target_wq: float | None = None,
    target_sl: float | None = None,
    t: float | None = None,
) -> int:
    """Smallest stable c with wq ≤ target_wq and service_level(t) ≥ target_sl (the targets given)."""
    lam, mu = _rate("lam", lam), _rate("mu", mu, positive=True)
    if target_wq is None and target_sl is None:
        raise ValueError("give target_wq and/or target_sl")
    if target_wq is not None and not (math.isfinite(target_wq) and target_wq > 0):
        raise ValueError(f"target_wq must be a finite number > 0, got {target_wq!r}")
    if (target_sl is None) != (t is None):
        raise ValueError("target_sl and t must be given together")
    if target_sl is not None:
        if not 0 < target_sl < 1:
            raise ValueError(f"target_sl must be in (0, 1), got {target_sl!r}")
        _rate("t", t)
    c = math.floor(lam / mu) + 1
    while not (
        (target_wq is None or wq(lam, mu, c) <= target_wq)
        and (target_sl is None or service_level(lam, mu, c, t) >= target_sl)
    ):
        c += 1
    return c


def square_root_staffing(a: float, beta: float) -> int:
    """Halfin–Whitt (QED) staffing c = ⌈a + β√a⌉, at least 1."""
    a = _rate("a", a)
    if not math.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta!r}")
    return max(1, math.ceil(a + beta * math.sqrt(a)))


def halfin_whitt_p_wait(beta: float) -> float:
    """Approximate P(wait) at c = a + β√a for large a: [1 + βΦ(β)/φ(β)]⁻¹ = φ / (φ + βΦ)."""
    beta = _rate("beta", beta)
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    big_phi = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    return phi / (phi + beta * big_phi)


class ErlangAResult(NamedTuple):
    p_wait: float  # P(all windows busy on arrival)
    p_abandon: float  # θ·Lq / λ
    wq: float  # mean time in queue over all arrivals, Lq / λ (abandoners count until they leave)


def erlang_a(lam: float, mu: float, c: int, theta: float) -> ErlangAResult:
    """M/M/c+M with patience rate θ: birth–death chain, up λ, down min(n, c)μ + (n − c)⁺θ.

    States n ≤ c weigh Σ π_n/π_c = 1/B(c, a); above c, t_j = π_{c+j}/π_c = ∏_{i≤j} λ/(cμ + iθ),
    summed until a geometric bound on the rest is below 1e-16 relative. P(wait) = P(N ≥ c),
    P(abandon) = θ·Lq/λ, Wq = Lq/λ. θ = 0 is Erlang C (unstable if a >= c); θ > 0 is always stable.
    """
    lam, mu, theta = _rate("lam", lam), _rate("mu", mu, positive=True), _rate("theta", theta)
    a, p_wait = _mmc(lam, mu, c)
    if theta == 0:
        return ErlangAResult(p_wait, 0.0, wq(lam, mu, c))
    if lam == 0:
        return ErlangAResult(0.0, 0.0, 0.0)
    b = erlang_b(c, a)
    # t_j is `term`; `tail` = Σ t_j and `moment` = Σ j·t_j, all stored divided by e^log_scale
    term, tail, moment, log_scale, j = 1.0, 0.0, 0.0, 0.0, 0
    while True:
        j += 1
        term *= lam / (c * mu + j * theta)
        tail += term
        moment += j * term
        q = lam / (c * mu + (j + 1) * theta)  # bounds every later ratio t_{i+1}/t_i
        if q < 1:
            rest = term * q / (1 - q)  # ≥ Σ_{i>j} t_i; rest·(j + 1/(1−q)) ≥ Σ_{i>j} i·t_i
            if rest <= _EPS * tail and rest * (j + 1 / (1 - q)) <= _EPS * moment:
                break
        if term > _RESCALE_AT:
            tail, moment, log_scale, term = tail / term, moment / term, log_scale + math.log(term), 1.0
        if j > _MAX_TAIL_STATES:
            raise ValueError(f"theta={theta!r} is too small for this load: the chain needs over {j - 1} states")
    head = math.exp(-log_scale)  # weight of state c in the scaled units
    total = head + b * tail  # B · Σ π_n / π_c
    lq_ = b * moment / total
    return ErlangAResult(min(1.0, b * (head + tail) / total), theta * lq_ / lam, lq_ / lam)


def allen_cunneen_wq(lam: float, mu: float, c: int, ca2: float, cs2: float) -> float:
    """G/G/c approximation Wq ≈ Wq(M/M/c)·(Ca² + Cs²)/2 (Ca², Cs²: squared coefficients of variation)."""
    ca2, cs2 = _rate("ca2", ca2), _rate("cs2", cs2)
    w = wq(lam, mu, c)
    return w if math.isinf(w) else w * (ca2 + cs2) / 2


def priority_wq(lams: Sequence[float], mu: float, c: int) -> list[float]:
    """Non-preemptive priority M/M/c, equal service (Cobham), classes highest first.

    Wq_k = [C/(cμ)] / ((1 − σ_{k−1})(1 − σ_k)), σ_k = (λ_1 + … + λ_k)/(cμ); C is Erlang C for the total
    load (1.0 when overloaded). A class with σ_k ≥ 1 gets math.inf; classes above it keep finite waits.
    """
    if not lams:
        raise ValueError("lams must list at least one class")
    rates = [_rate(f"lams[{k}]", x) for k, x in enumerate(lams)]
    mu = _rate("mu", mu, positive=True)
    loads = [x / mu for x in accumulate(rates)]  # A_k = σ_k·c, in Erlangs
    top = erlang_c(c, loads[-1]) * c / mu  # Wq_k = top / ((c − A_{k−1})(c − A_k))
    return [
        math.inf if load >= c else top / ((c - prev) * (c - load))
        for prev, load in zip([0.0, *loads], loads)
    ]
