"""The region stream's pure rules: its settings, and what of an event leaves the hall.

The hall streams its ledger (台账) to the region in sequence order; the region keys every event by
(hall id, seq) and answers with the last sequence it holds, so a retry, a restart or a day offline never
counts an event twice nor skips one. Free text a citizen or staff member typed (comments, complaint
content, case notes and replies) can name a person: it stays in the hall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Keys whose values are free text or identify a person; dropped wherever they appear in an event's data.
PRIVATE_KEYS = frozenset({
    "comment", "content", "answer", "reply", "note", "summary", "steps", "rater", "name", "phone", "token",
    "holder", "request_id", "name_masked", "phone_masked", "phone_hash", "id_hash", "id_masked",
})
INGEST_PATH = "/api/region/ingest"


@dataclass(frozen=True)
class RegionSettings:
    url: str = ""  # the region service, e.g. http://10.1.0.5:9000; empty: the hall does not stream
    hall_id: str = ""
    key: str = ""  # this hall's key at the region (`hall-controller region add-hall` prints it)
    batch_size: int = 500
    timeout_s: float = 10.0
    retry_base_s: float = 1.0
    retry_max_s: float = 15.0  # a region back up is caught up with within this
    heartbeat_s: float = 30.0  # a quiet hall still tells the region it is connected

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def to_region(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the region receives it: sequence, type, time and its data without private keys."""
    return {"seq": event["seq"], "type": event["type"], "at": event["at"], "data": _public(event["data"])}


def _public(value: Any) -> Any:
    # Called per event on every post, so scalars (most values) are kept without a call of their own.
    if type(value) is dict:
        return {k: _public(v) if type(v) in _NESTED else v for k, v in value.items() if k not in PRIVATE_KEYS}
    if type(value) is list:
        return [_public(v) if type(v) in _NESTED else v for v in value]
    return value


_NESTED = (dict, list)
