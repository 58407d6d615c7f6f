"""What the upstream platform receives (pure): which events are pushed, and each event mapped to the
platform's codes at the boundary (docs/ratings.md); the retry back-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hall_controller.core.model import OUTCOMES
from hall_controller.features.ratings.rules import LEVELS

# Seed 5.1.2: 预约、排队叫号 (skips and transfers too)、办件效能、证照结果 (出件, 政务专递)、好差评 (with complaints).
PUSHED_TYPES = frozenset({"ticket.issued", "ticket.called", "ticket.skipped", "ticket.transferred",
                          "ticket.finished", "rating.recorded"})
PUSHED_PREFIXES = ("appointment.", "case.", "complaint.", "application.")
NOT_PUSHED = frozenset({"application.evaluation_requested"})  # a request to the pad, not a fact

# GB/T 39046 评价渠道 codes as several provincial systems use them.
CHANNEL_CODES: dict[str, int] = {"pad": 4, "mobile": 3, "kiosk": 5}
CHANNEL_NAMES: dict[int, str] = {1: "PC端", 2: "移动端", 3: "二维码", 4: "政务大厅平板电脑", 5: "其他终端"}


SCALES = ("gbt39046", "ascending")  # 1 = 非常满意 … 5 = 非常不满意, or the reverse some provinces use


@dataclass(frozen=True)
class PlatformSettings:
    enabled: bool = False
    url: str = ""
    hall_code: str = "hall"  # 大厅编码 / 行政区划: the prefix of every idempotency key
    token: str = ""  # sent as a bearer token when set
    timeout_s: float = 5.0
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    batch_size: int = 50
    scale: str = "gbt39046"
    keep_days: int = 30  # delivered outbox rows are pruned after this many days


def pushed(event: dict[str, Any]) -> bool:
    return event["type"] not in NOT_PUSHED and (event["type"] in PUSHED_TYPES or event["type"].startswith(PUSHED_PREFIXES))


def level_code(level: int, scale: str) -> int:
    return level if scale == "gbt39046" else 6 - level


def compact_time(iso: str | None) -> str | None:
    """GB/T 39046 times are YYYYMMDDThhmmss, local time."""
    return datetime.fromisoformat(iso).strftime("%Y%m%dT%H%M%S") if iso else None


def idempotency_key(hall_code: str, seq: int) -> str:
    return f"{hall_code}-{seq}"


def to_platform(event: dict[str, Any], s: PlatformSettings) -> dict[str, Any]:
    """The body posted for one event: our event with rating levels and channels in the platform's codes."""
    data = dict(event["data"])
    if event["type"] == "rating.recorded":
        data = {
            "rating_id": data["id"], "ticket_id": data["ticket_id"], "ticket_number": data["number"],
            "service_id": data["service_id"], "window_id": data["window_id"], "staff_id": data["staff_id"],
            "satisfaction": level_code(data["level"], s.scale), "satisfaction_name": LEVELS[data["level"]],
            "channel": CHANNEL_CODES[data["channel"]], "channel_name": CHANNEL_NAMES[CHANNEL_CODES[data["channel"]]],
            "rated_at": compact_time(data["at"]), "times": 1, "bad": data["bad"], "reasons": data["reasons"],
            "comment": data["comment"], "named": data["named"],
            "application_no": data.get("application_no"), "service_code": data.get("service_code"),
        }
    elif event["type"].startswith("ticket."):
        t = data["ticket"]
        data = {
            "ticket_id": t["id"], "ticket_number": t["number"], "service_id": t["service_id"],
            "service_name": t.get("service_name"), "category_id": t["category_id"], "channel": t["channel"],
            "priority": t.get("priority"), "window_id": t.get("window_id"), "window_number": data.get("window_number"),
            "staff_id": t.get("staff_id"), "status": t["status"], "issued_at": compact_time(t.get("issued_at")),
            "called_at": compact_time(t.get("called_at")), "finished_at": compact_time(t.get("finished_at")),
            "outcome": t.get("outcome"), "outcome_name": OUTCOMES.get(t.get("outcome") or ""),
            "wait_s": data.get("wait_s"), "service_s": data.get("service_s"),
            "application_no": t.get("application_no"), "service_code": t.get("service_code"),
        }
        if "applications" in event["data"]:  # a finish's 办件, each with its 事项编码 (一件事: one per matter)
            data["applications"] = event["data"]["applications"]
    return {"key": idempotency_key(s.hall_code, event["seq"]), "hall_code": s.hall_code, "seq": event["seq"],
            "type": event["type"], "at": event["at"], "occurred_at": compact_time(event["at"]), "data": data}


def backoff(failures: int, base: float, top: float) -> float:
    """Seconds to wait after `failures` failed attempts in a row: exponential, capped."""
    return min(top, base * 2 ** max(0, failures - 1))
