"""Device events in the ledger: `device.online` / `device.offline`, `printer.status`, `printer.test_printed`.

They are facts about the devices, not commands of the hall, so they are batched: the events of one loop
turn (a whole bus going offline) commit as one transaction, in the order they happened.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService

log = logging.getLogger(__name__)


class DeviceRecords:
    """Queues device events on the event loop and commits them through `HallService.call`."""

    def __init__(self, service: HallService) -> None:
        self.service = service
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._committing: asyncio.Task[None] | None = None

    def record(self, type_: str, data: dict[str, Any]) -> None:
        """Queues an event; it commits with the others of this loop turn. Call it on the event loop."""
        self._pending.append((type_, data))
        if self._committing is None:
            self._committing = asyncio.get_running_loop().create_task(self._commit(), name="device records")

    async def flush(self) -> None:
        """Returns once every event recorded so far is committed (or refused and logged)."""
        if self._committing is not None:
            await asyncio.shield(self._committing)

    async def _commit(self) -> None:
        # One task at a time, batch after batch: an offline and the online after it never commit out of order.
        try:
            while self._pending:
                events, self._pending = self._pending, []
                try:
                    await self.service.call(self._execute, events)
                except HallError as e:
                    log.error("device events not recorded: %s", e.message)
        finally:
            self._committing = None

    def _execute(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.service.execute(lambda now: Decision(events=events))
