"""How long a ticket will wait, and the one way every screen and paper says it.

Kiosk, printed ticket, phone page and the ticket API all read `WaitEstimate` (built by
`Hall.wait_estimate`) and its `text`, so paper and screen can never disagree.

The estimate is a pooled multi-server one (docs/routing.md, "Wait estimates"):

- the **windows** are those staffed (signed in, or the rostered ones a caller passes with the time each
  starts) that may serve the ticket; with none, nobody can say when it will be called: "暂无窗口办理".
  A window joins the pool when it can call: at 午间值班 only lunch-duty windows call, the others from the
  end of lunch; a rostered window from its start;
- the **work ahead** is every waiting ticket those windows would call first, of any theme (pooling: a
  comprehensive window's 社会事务 citizens hold up the 企业开办 ones too), each counted by the share of
  its own staffed windows that are among ours and weighted by its category's mean service time;
- idle windows take the first of them at once; the rest clear at the windows' rate, after the first
  completion among the busy windows (residual service (1 + Cs²)/2 of a mean, over c windows — the
  M/G/c state-dependent wait, exact for exponential services); windows joining later add to the rate
  from the moment they join.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    ahead: int  # waiting tickets of the ticket's own queue called before it (what citizens count)
    wait_s: int | None  # None: no window that may serve it is staffed
    windows: int  # staffed windows that may serve it

    @property
    def minutes(self) -> int | None:
        """Whole minutes to show: the nearest ("约 N 分钟"), at least 1 — 0 only with nobody ahead and no wait.
        Rounding up instead added half a minute to every estimate (32.4 % per-ticket error against 31.5 %
        over simulated seeds 1–10, bench/estimates.py)."""
        if self.wait_s is None:
            return None
        if self.wait_s <= 0 and self.ahead <= 0:
            return 0
        return max(1, math.floor(self.wait_s / 60 + 0.5))

    @property
    def short(self) -> str:
        """The wait alone (a list of matters, the phone page's 预计等候): 暂无窗口办理 / 无需等候 / 约 N 分钟."""
        if self.minutes is None:
            return "暂无窗口办理"
        return "无需等候" if self.minutes == 0 else f"约 {duration(self.minutes * 60)}"

    @property
    def parts(self) -> tuple[str, str]:
        """The two halves of `text` (the printer breaks between them on narrow paper)."""
        first = "您前面暂无等候，" if self.ahead <= 0 else f"您前面还有 {self.ahead} 人，"
        if self.minutes is None:
            return first, "暂无窗口办理"
        return first, "请留意叫号" if self.minutes == 0 else f"预计等候{self.short}"

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def to_dict(self) -> dict[str, object]:
        return {"ahead": self.ahead, "estimated_wait_s": self.wait_s, "wait_minutes": self.minutes,
                "windows_open": self.windows, "wait_text": self.text, "wait_short": self.short}


def duration(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return f"{minutes} 分钟"
    return f"{minutes // 60} 小时" + (f" {minutes % 60} 分钟" if minutes % 60 else "")


def residual_s(mean_s: float, cs2: float, elapsed_s: float) -> float:
    """Expected rest of a service that has lasted `elapsed_s`, its length lognormal with this mean and
    squared coefficient of variation: E[X − e | X > e]. Long services are long-tailed: a service already
    far past its mean is expected to go on for a while, not to end at once."""
    if elapsed_s <= 0:
        return mean_s
    if cs2 <= 1e-9:
        return max(mean_s - elapsed_s, 1.0)
    sigma = math.sqrt(math.log(1 + cs2))
    mu = math.log(mean_s) - sigma * sigma / 2
    z = (math.log(elapsed_s) - mu) / sigma
    survive = 0.5 * math.erfc(z / math.sqrt(2))
    if survive < 1e-12:  # far out in the tail: the ratio is numerically gone; it grows about like e·σ²/z
        return elapsed_s * sigma / max(z, 1.0)
    beyond = mean_s * 0.5 * math.erfc((z - sigma) / math.sqrt(2))
    return max(beyond / survive - elapsed_s, 1.0)


def pooled_wait_s(ahead_work: Iterable[tuple[float, float]], idle: int, servers: int, own_mean_s: float,
                  residual_factor: float = 1.0, later: Sequence[float] = (),
                  busy_residuals: Sequence[float] = ()) -> float:
    """Seconds until a ticket is called by `servers` windows at work now, `idle` of them free, and more
    joining `later` (seconds from now: back from lunch, or rostered to start).

    ahead_work: (share, mean service seconds) of each ticket called before it; share is the part of that
    ticket's staffed windows that are among ours (1 when only ours may serve it).
    busy_residuals: the expected rest of each busy window's service, when known (`residual_s`); else the
    first completion is a stationary residual, residual_factor (= (1 + Cs²)/2) of a mean, over c windows.
    """
    if servers <= 0 and not later:
        raise ValueError("no window: the wait is unknown, not a number")
    ahead = 0.0
    work = 0.0
    for share, mean_s in ahead_work:
        ahead += share
        work += share * mean_s
    if ahead < idle:  # a free window calls it (or the one before it) at once
        return 0.0
    mean_s = work / ahead if ahead else own_mean_s
    # Window-seconds to clear before its call: the first completion among the busy windows (a residual
    # service), then everyone ahead not taken by an idle window; drained at the windows' pace, which
    # steps up as windows join.
    # Time to the first completion among the busy ones ≈ 1 / Σ 1/rᵢ (the first of several clocks); as
    # window-seconds, c times that.
    first = (servers / sum(1 / r for r in busy_residuals) if busy_residuals else residual_factor * mean_s)
    need = first + (ahead - idle) * mean_s
    t, rate = 0.0, servers
    for joins in sorted(later):
        if rate > 0 and need <= rate * (joins - t):
            break
        # A window that joins is free: it takes the next ticket at once, then works at the common pace.
        need -= rate * (joins - t) + mean_s
        t, rate = joins, rate + 1
        if need <= 0:
            return t
    return t + need / rate
