"""Pure rules of backups: when the nightly copy is due, which copies retention keeps, and the replay that
`verify` compares the ledger's projections (tickets, windows, counters) with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from hall_controller.core.hall import PRIVATE_FIELDS

# A config change that drops a service moves its waiting tickets to another (`config.changed` with "moved": their
# ids): the event names them, the new version's document says where, so these two fields are not replayed.
MOVED_FIELDS = ("service_id", "category_id")
NIGHTLY = re.compile(r"^hall-(\d{8})-(\d{6})\.db$")  # hall-20261123-023000.db, named by the hall clock


@dataclass(frozen=True)
class BackupSettings:
    enabled: bool = True
    dir: str = "backups"  # relative to the ledger's folder unless absolute
    at: time = time(2, 30)  # hall clock: after closing, before anyone comes in
    keep: int = 14  # nightly copies kept, newest first
    check_seconds: int = 60


def nightly_name(now: datetime) -> str:
    return f"hall-{now:%Y%m%d-%H%M%S}.db"


def due(now: datetime, at: time, names: list[str]) -> bool:
    """Whether tonight's copy is owed: the time of day has passed and no nightly copy bears today's date.
    A server that was down at that time makes it when it is back."""
    today = f"{now:%Y%m%d}"
    return now.time() >= at and not any((m := NIGHTLY.match(n)) and m.group(1) == today for n in names)


def to_prune(names: list[str], keep: int) -> list[str]:
    """The nightly copies beyond the newest `keep`; other files in the folder are never touched."""
    nightly = sorted((n for n in names if NIGHTLY.match(n)), reverse=True)
    return nightly[keep:]


# ------------------------------------------------------------------ verify: projections == replay of events

def ticket_problems(ticket_id: str, replayed: dict[str, Any] | None, row: dict[str, Any] | None,
                    moved: bool = False) -> list[str]:
    """A ticket's projection against the ticket carried by its last event (the fields events carry: not the
    private ones); `moved`: a config change moved it to another service after that event."""
    if replayed is None:
        return [f"号票 {ticket_id} 在 tickets 中但没有事件 ticket row without events"]
    if row is None:
        return [f"号票 {ticket_id} 有事件但不在 tickets 中 ticket events without a row"]
    skip = (*PRIVATE_FIELDS, *(MOVED_FIELDS if moved else ()))
    diff = sorted(k for k in row if k not in skip and replayed.get(k) != row[k])
    return [f"号票 {ticket_id} 字段 {', '.join(diff)} 与事件重放不符 differs from the replay"] if diff else []


@dataclass
class WindowReplay:
    """What the events say of each window. An event carrying the window's state (sign-in, pause, manager
    actions) gives all of it; a ticket event of the window gives its current ticket and state only."""

    known: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, type_: str, at: str, data: dict[str, Any]) -> None:
        window = data.get("window")
        if isinstance(window, dict) and isinstance(window.get("window"), dict):
            window = window["window"]  # sign-in carries the window's event block, its state inside
        if isinstance(window, dict) and isinstance(window.get("id"), str):
            self.known[window["id"]] = dict(window)
            return
        ticket = data.get("ticket")
        if not isinstance(ticket, dict):
            return
        if type_ == "ticket.called":
            self._set(ticket.get("window_id"), ticket_id=ticket.get("id"), state="serving", since=at)
        elif type_ in ("ticket.finished", "ticket.skipped"):
            self._set(ticket.get("window_id"), ticket_id=None, state="open", since=at)
        elif type_ == "ticket.transferred":
            self._set(data.get("from_window_id"), ticket_id=None, state="open", since=at)

    def _set(self, window_id: Any, **fields: Any) -> None:
        if not isinstance(window_id, str):
            return
        state = self.known.setdefault(window_id, {})
        state.pop("priority_streak", None)  # a call changes it; the ticket event does not say how
        state.update(fields)

    def problems(self, rows: dict[str, dict[str, Any]]) -> list[str]:
        out = []
        for wid in sorted(set(rows) | set(self.known)):
            row, replayed = rows.get(wid), self.known.get(wid, {})
            if row is None:
                out.append(f"窗口 {wid} 有事件但不在 windows 中 window events without a row")
                continue
            diff = sorted(k for k, v in replayed.items() if row.get(k) != v)
            if diff:
                out.append(f"窗口 {wid} 字段 {', '.join(diff)} 与事件重放不符 differs from the replay")
        return out


def counter_problems(issued: dict[tuple[str, str], int], counters: dict[tuple[str, str], int]) -> list[str]:
    """The last number of every (day, prefix) is the last one an issued event carries."""
    return [f"计数器 {day} {prefix}: 台账 {counters.get((day, prefix))}，事件 {issued.get((day, prefix))} "
            f"counter differs from the issued tickets"
            for day, prefix in sorted(set(issued) | set(counters))
            if issued.get((day, prefix)) != counters.get((day, prefix))]


def sequence_problems(count: int, first: int | None, last: int | None) -> list[str]:
    if count == 0:
        return []
    if first != 1 or last != count:
        return [f"事件序号不连续：{count} 条事件，序号 {first}–{last} event sequence has a gap"]
    return []
