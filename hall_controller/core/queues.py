"""The waiting tickets of one category, indexed so a call or a place-in-queue costs O(log n), not O(n).

Normal tickets sit in a list sorted by (queue time, number); priority and window-targeted tickets are few
and kept aside. Routing only ever needs each category's head normal ticket plus the few others.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from hall_controller.core.model import Ticket


def _key(t: Ticket) -> tuple:
    return (t.queue_at, t.seq, t.id)


class CategoryQueue:
    def __init__(self) -> None:
        self.normals: list[Ticket] = []  # sorted by _key
        self.priorities: dict[str, Ticket] = {}
        self.targeted: dict[str, Ticket] = {}

    def copy(self) -> CategoryQueue:
        q = CategoryQueue()
        q.normals, q.priorities, q.targeted = list(self.normals), dict(self.priorities), dict(self.targeted)
        return q

    def add(self, t: Ticket) -> None:
        if t.target_window_id is not None:
            self.targeted[t.id] = t
        elif t.priority is not None:
            self.priorities[t.id] = t
        else:
            insort(self.normals, t, key=_key)

    def remove(self, t: Ticket) -> None:
        if self.targeted.pop(t.id, None) is not None or self.priorities.pop(t.id, None) is not None:
            return
        i = bisect_left(self.normals, _key(t), key=_key)
        if i < len(self.normals) and self.normals[i].id == t.id:
            del self.normals[i]

    def __len__(self) -> int:
        return len(self.normals) + len(self.priorities) + len(self.targeted)

    def __iter__(self) -> Iterator[Ticket]:
        yield from self.targeted.values()
        yield from self.priorities.values()
        yield from self.normals

    def candidates(self) -> Iterator[Ticket]:
        """Every ticket routing could pick from this category: all but the normals behind the head."""
        yield from self.targeted.values()
        yield from self.priorities.values()
        if self.normals:
            yield self.normals[0]

    def oldest(self) -> Ticket | None:
        return min(self.candidates(), key=_key, default=None)

    def normals_before(self, t: Ticket) -> int:
        return bisect_left(self.normals, _key(t), key=_key)
