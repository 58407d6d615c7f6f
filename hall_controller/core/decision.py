"""The contract between every pure rule and the one write path: what a command decided.

A rule (the hall's state machine, a feature's rules) returns a `Decision`; `HallService.execute` commits
it in one transaction — events, ticket and window versions, counters, other tables' rows — and only then
applies it to memory and publishes the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hall_controller.core.model import Ticket, WindowStatus


@dataclass
class Decision:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    windows: list[WindowStatus] = field(default_factory=list)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    # Rows of other tables (ratings, cases, sessions...) committed in the same transaction: (table, row).
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # A new configuration (HallConfig) the hall runs on from this decision on: a new version applied live.
    config: Any = None
    result: Any = None

    @property
    def empty(self) -> bool:
        return not (self.events or self.tickets or self.windows or self.counters or self.rows or self.config)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        self.events.append((type_, data))
