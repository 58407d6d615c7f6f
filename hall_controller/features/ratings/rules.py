"""好差评 rules, pure: the five levels, who may rate a ticket when, and the live satisfaction figures.

The internal scale is GB/T 39046's: 1 = 非常满意 … 5 = 非常不满意; 差评 = 4 and 5. Other numberings are
mapped only at the boundaries (see `hall_controller.platform_push`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.model import Ticket, TicketStatus

LEVELS: dict[int, str] = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
BAD_LEVELS = frozenset({4, 5})
CHANNELS: dict[str, str] = {"pad": "评价器", "kiosk": "自助终端", "mobile": "手机扫码"}
ON_SITE = frozenset({"pad", "kiosk"})  # 一次一评 at the hall; "mobile" is the late online rating

DEFAULT_REASONS: dict[str, str] = {
    "attitude": "服务态度差",
    "slow": "办理效率低",
    "wait": "等候时间长",
    "not_once": "未一次性告知",
    "unclear": "解释不清楚",
    "refused": "无故不予受理",
    "rules": "违规收费或索要材料",
    "environment": "大厅环境或设施问题",
}


@dataclass(frozen=True)
class RatingRules:
    """The `[ratings]` settings the rules read (the loader lives in `hall_controller.ratings`)."""

    online_days: int = 7  # a late rating on the ticket page is accepted this many days after finishing
    reasons: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_REASONS))  # 差评 reason codes
    comment_max: int = 500
    verify_days: int = 1  # working days for each step of a bad-review case
    appeal_days: int = 1
    rectify_days: int = 5
    reply_days: int = 5
    close_days: int = 1
    complaint_days: int = 3
    complaint_complex_days: int = 5
    check_seconds: float = 60  # how often the overdue watcher looks


def is_bad(level: int) -> bool:
    return level in BAD_LEVELS


def check_rating(ticket: Ticket, rated: bool, level: int, channel: str, reasons: Sequence[str],
                 comment: str | None, rules: RatingRules, now: datetime) -> None:
    """Raise HallError unless this rating may be recorded now (a pure rule, no I/O)."""
    if level not in LEVELS:
        raise HallError("invalid_level", "评价等级无效：应为 1（非常满意）至 5（非常不满意）。", 422)
    if channel not in CHANNELS:
        raise HallError("invalid_channel", f"评价渠道无效：{channel}", 422)
    if ticket.status != TicketStatus.FINISHED or ticket.finished_at is None:
        raise HallError("not_served", "该号票尚未办结，办结后方可评价。", 409)
    if rated:
        raise HallError("already_rated", "该号票已评价，一次服务只能评价一次。", 409)
    if channel in ON_SITE and now.date() != ticket.finished_at.date():
        raise HallError("rating_closed", "现场评价仅限办结当天，请通过号票二维码页面评价。", 409)
    if now - ticket.finished_at > timedelta(days=rules.online_days):
        raise HallError("rating_closed", f"已超过评价期限（办结后 {rules.online_days} 天）。", 409)
    if reasons and not is_bad(level):
        raise HallError("invalid_reasons", "仅差评（不满意、非常不满意）可选择原因。", 422)
    unknown = [r for r in reasons if r not in rules.reasons]
    if unknown:
        raise HallError("invalid_reasons", f"差评原因无效：{'、'.join(unknown)}", 422)
    if len(set(reasons)) != len(reasons):
        raise HallError("invalid_reasons", "差评原因重复。", 422)
    if comment is not None and len(comment) > rules.comment_max:
        raise HallError("comment_too_long", f"文字评价不能超过 {rules.comment_max} 字。", 422)


def rating_record(rating_id: str, ticket: Ticket, level: int, channel: str, reasons: Sequence[str],
                  rater: str | None, comment: str | None, now: datetime, service_code: str | None = None
                  ) -> dict[str, Any]:
    """The stored rating; `rater` (a real name or phone, for 回访) never leaves the ledger except to the platform.
    It carries the 办件编号 and 事项编码: the province's 好差评 system files a rating under its 办件."""
    return {
        "id": rating_id, "ticket_id": ticket.id, "number": ticket.number, "day": now.date().isoformat(),
        "service_id": ticket.service_id, "category_id": ticket.category_id, "window_id": ticket.window_id,
        "staff_id": ticket.staff_id, "channel": channel, "level": level, "label": LEVELS[level],
        "bad": is_bad(level), "reasons": list(reasons), "rater": rater or None, "comment": comment or None,
        "at": now.isoformat(), "application_no": ticket.application_no, "service_code": service_code or None,
    }


@dataclass(frozen=True)
class Tally:
    """Ratings counted by level for one service, window or staff member."""

    counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    def add(self, level: int) -> Tally:
        c = list(self.counts)
        c[level - 1] += 1
        return Tally(tuple(c))  # type: ignore[arg-type]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def bad(self) -> int:
        return self.counts[3] + self.counts[4]

    def figures(self) -> dict[str, Any]:
        """满意率 = share of ratings that are not 差评; 满意度 = mean score, 非常满意 100 … 非常不满意 0."""
        total = self.total
        return {
            "count": total, "bad": self.bad,
            "levels": {str(i + 1): n for i, n in enumerate(self.counts)},
            "satisfied_rate": round((total - self.bad) / total, 4) if total else None,
            "score": round(sum(n * (100 - 25 * i) for i, n in enumerate(self.counts)) / total, 1) if total else None,
        }


def tally(levels: Mapping[int, int]) -> Tally:
    return Tally(tuple(int(levels.get(i, 0)) for i in range(1, 6)))  # type: ignore[arg-type]


def decide_rating(rating: dict[str, Any], live: Mapping[str, Tally], case: tuple[dict[str, Any], dict[str, Any]] | None
                  ) -> Decision:
    """One transaction: the rating row, its event with the live figures after it, and the case a 差评 opens."""
    figures = {scope: t.add(rating["level"]).figures() for scope, t in live.items()}
    d = Decision(rows=[("ratings", rating)], result=public_rating(rating))
    d.emit("rating.recorded", {**public_rating(rating), "satisfaction": figures})
    if case is not None:
        row, event = case
        d.rows.append(("cases", row))
        d.emit("case.opened", event)
    return d


def public_rating(rating: dict[str, Any]) -> dict[str, Any]:
    """The rating as events and API answers carry it: whether the rater left a name, never who."""
    out = {k: v for k, v in rating.items() if k not in ("rater", "day")}
    out["named"] = bool(rating.get("rater"))
    return out
