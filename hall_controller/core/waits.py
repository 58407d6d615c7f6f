"""How long a ticket will wait, and the one way every screen and paper says it.

Kiosk, printed ticket, phone page and the ticket API all read `WaitEstimate` (built by
`Hall.wait_estimate`) and its `text`, so paper and screen can never disagree.

The wait itself is the hall's routing played forward (core/forecast.py, docs/routing.md "Wait estimates");
with no staffed window that may serve the ticket nobody can say when it will be called: "暂无窗口办理".
"""

from __future__ import annotations

import math
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
