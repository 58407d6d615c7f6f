"""The ledger's one writer: a thread that takes the queued commands and commits them in groups.

Commands queue while the writer is busy committing; when it comes round it takes them all at once, so one
COMMIT — one fsync — answers every caller that was waiting. What a group does is `HallService._commit`'s;
this is the queue and the thread. The thread starts with the first command and ends when idle for a while,
so a service nobody closes (tests, tools) leaves no thread behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hall_controller.core.decision import Decision

log = logging.getLogger(__name__)

IDLE_S = 5.0  # an idle writer thread ends after this; the next command starts another

Rider = Callable[[Decision], None]


@dataclass(eq=False)
class Command:
    """A command for the writer: how to decide it, the riders its caller's context adds (`HallService.riding`),
    and the future its caller waits on."""

    decide: Callable[[datetime], Decision]
    riders: list[Rider] | None
    future: Future[Any] = field(default_factory=Future)


class Writer:
    def __init__(self, commit: Callable[[list[Command]], None]):
        self._commit = commit
        self._queue: list[Command] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, command: Command) -> None:
        with self._wake:
            self._queue.append(command)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="ledger-writer", daemon=True)
                self._thread.start()
            else:
                self._wake.notify()

    def on_thread(self) -> bool:
        """Whether this is the writer's thread (which must never wait for itself)."""
        return threading.current_thread() is self._thread

    def _serve(self) -> None:
        while True:
            with self._wake:
                if not self._queue:
                    self._wake.wait(IDLE_S)
                if not self._queue:
                    self._thread = None
                    return
                group, self._queue = self._queue, []
            try:
                self._commit(group)
            except BaseException as exc:  # a bug: no caller may wait for ever, and the writer must go on
                log.exception("ledger writer failed on a group of %d commands", len(group))
                for command in group:
                    if not command.future.done():
                        command.future.set_exception(exc)
