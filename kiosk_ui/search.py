"""Kiosk search (搜索事项): by a part of the name, or by pinyin initials from any word of it.

"kstb" finds 跨省通办事项受理 (initials kstbsxsl) and "tsjs" finds 特殊建设工程消防设计审查 (tsjsgcxfsjsc);
"sl" finds it too, from its last word. Hits are ranked: name first, then initials from the start,
then initials from inside the name; the catalogue's order keeps within a rank.
"""

from __future__ import annotations

from collections.abc import Iterable

from hall_controller.core.settings import Service

MAX_QUERY = 40


def rank(query: str, name: str, initials: str) -> int | None:
    """0 = the name contains the query, 1 = initials start with it, 2 = initials contain it; None = no hit."""
    q = query.strip()
    if not q:
        return None
    if q in name:
        return 0
    q = q.lower().replace(" ", "")
    if not q.isascii() or not q.isalpha():
        return None
    if initials.startswith(q):
        return 1
    if q in initials:
        return 2
    return None


def search(query: str, services: Iterable[Service]) -> list[Service]:
    hits = [(r, i, s) for i, s in enumerate(services) if (r := rank(query, s.name, s.pinyin)) is not None]
    return [s for _, _, s in sorted(hits, key=lambda h: (h[0], h[1]))]
