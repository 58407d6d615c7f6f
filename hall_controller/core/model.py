"""Entities of the hall: tickets (号票) and window status, as immutable values.

Commands never mutate these in place: the hall decides new versions, the ledger commits them, and only
then does the in-memory state take them (see `hall.Decision`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    FINISHED = "finished"
    NO_SHOW = "no_show"  # 过号
    CANCELLED = "cancelled"


ACTIVE = (TicketStatus.CALLED, TicketStatus.SERVING)
TERMINAL = (TicketStatus.FINISHED, TicketStatus.NO_SHOW, TicketStatus.CANCELLED)


class WindowState(StrEnum):
    SIGNED_OUT = "signed_out"
    OPEN = "open"
    SERVING = "serving"  # holds a called or serving ticket
    PAUSED = "paused"  # 暂停服务
    CLOSED = "closed"


class Channel(StrEnum):
    KIOSK = "kiosk"
    APPOINTMENT = "appointment"
    STAFF = "staff"
    MOBILE = "mobile"


# 六件制 plus 咨询: the outcome recorded when a service finishes.
OUTCOMES: dict[str, str] = {
    "immediate": "即办件",
    "promised": "承诺件",
    "supplement": "补办件",
    "returned": "退回件",
    "consult": "咨询",
    "joint": "联办件",
    "escalated": "上报件",
}
OUTCOME_BY_NAME = {name: code for code, name in OUTCOMES.items()}


def ticket_id_of(day: str, number: str) -> str:
    """A ticket's id: its day and number ("20261123-A012"), unique for good because numbers are never reused."""
    return f"{day.replace('-', '')}-{number}"


def parse_outcome(value: str | None) -> str | None:
    """Accepts the code ("immediate") or the Chinese name ("即办件"); None means the default 即办件."""
    if value is None or value == "":
        return "immediate"
    if value in OUTCOMES:
        return value
    return OUTCOME_BY_NAME.get(value)


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    day: str  # service day, YYYY-MM-DD
    number: str  # e.g. A012
    prefix: str
    seq: int
    service_id: str
    category_id: str  # current category (a transfer may change it)
    channel: str
    priority: str | None
    issued_at: datetime
    queue_at: datetime  # routing order key: the issue time, kept on transfer (首问负责)
    token: str  # unguessable key of the public status page
    status: TicketStatus = TicketStatus.WAITING
    request_id: str | None = None
    window_id: str | None = None  # window that holds or last held it
    target_window_id: str | None = None  # set when transferred to a specific window
    staff_id: str | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    skipped_at: datetime | None = None
    recalls: int = 0
    calls: int = 0
    transfers: int = 0
    rejoined: bool = False
    outcome: str | None = None
    call_reason: str | None = None
    holder: str | None = None  # hashed identity of the citizen, when known
    appointment_id: str | None = None
    application_no: str | None = None  # 办件编号 the window's business system attached (features/applications)
    source: str | None = None  # the device or person that took it ("kiosk:K1", "staff:QH1001", "platform")

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(getattr(self, k)) for k in _FIELD_NAMES[Ticket]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ticket:
        return cls(**_from_jsonable(cls, d))


@dataclass(frozen=True, slots=True)
class WindowStatus:
    id: str
    state: WindowState = WindowState.SIGNED_OUT
    since: datetime | None = None  # when the state last changed
    staff_id: str | None = None
    standin: bool = False  # staff is a stand-in (AB岗)
    signed_in_at: datetime | None = None
    ticket_id: str | None = None
    priority_streak: int = 0  # priority calls in a row while normal tickets waited
    weights: dict[str, float] | None = field(default=None)  # manager's override of the categories
    pause_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: _jsonable(getattr(self, k)) for k in _FIELD_NAMES[WindowStatus]}
        if self.weights is not None:
            d["weights"] = dict(self.weights)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WindowStatus:
        return cls(**_from_jsonable(cls, d))


_FIELD_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in (Ticket, WindowStatus)}
_DATETIME_FIELDS = {
    cls: {f.name for f in fields(cls) if "datetime" in str(f.type)} for cls in (Ticket, WindowStatus)
}


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, StrEnum):
        return v.value
    return v


def _from_jsonable(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    out = {k: v for k, v in d.items() if k in names}
    for k in _DATETIME_FIELDS[cls]:
        if out.get(k):
            out[k] = datetime.fromisoformat(out[k])
    if cls is Ticket:
        out["status"] = TicketStatus(out["status"])
    else:
        out["state"] = WindowState(out["state"])
    return out
