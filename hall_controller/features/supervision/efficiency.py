"""The monthly 政务服务效能 return (效能月报), pure: per department (派驻单位) and per window, from plain rows — so
the region service can run the same computation over the rows of many halls.

Inputs (mappings; every row carries `window_id` and `department`, "" when unknown):
- tickets: `wait_s` (issue → first call, None if never called), `served` (办结);
- work: the month's 办件 (applications accepted); when there are none at all, 办件量 is the tickets served;
- ratings: `bad`;
- cases: the 差评 cases opened in the month, with the facts of `rules.case_facts` (`valid`, `rectified`,
  `named`, `replied`).

Columns (docs/supervision.md explains each): 办件量, 取号量, 评价数, 满意率, 差评数, 有效差评, 差评整改率,
实名差评, 回复率, 超时率 (called tickets that waited longer than the hall's maximum wait), 平均等候, 等候P90.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

UNNAMED = "未指明"
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("no", "序号", "int"),
    ("name", "单位/窗口", "text"),
    ("workload", "办件量", "int"),
    ("tickets", "取号量", "int"),
    ("ratings", "评价数", "int"),
    ("satisfaction", "满意率", "share"),
    ("bad", "差评数", "int"),
    ("valid_bad", "有效差评", "int"),
    ("rectify_rate", "差评整改率", "share"),
    ("named_bad", "实名差评", "int"),
    ("reply_rate", "回复率", "share"),
    ("overtime_rate", "超时率", "share"),
    ("wait_mean", "平均等候(分)", "minutes"),
    ("wait_p90", "等候P90(分)", "minutes"),
)


def _p90(values: Sequence[float]) -> float | None:
    """Nearest rank, as the hall's reports and live board."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


def _row(tickets: Sequence[Mapping[str, Any]], work: Sequence[Mapping[str, Any]] | None,
         ratings: Sequence[Mapping[str, Any]], cases: Sequence[Mapping[str, Any]], max_wait_s: float) -> dict[str, Any]:
    waits = [t["wait_s"] for t in tickets if t.get("wait_s") is not None]
    valid = [c for c in cases if c["valid"]]
    named = [c for c in cases if c["named"]]
    bad = sum(1 for r in ratings if r["bad"])
    return {
        "workload": len(work) if work is not None else sum(1 for t in tickets if t["served"]),
        "tickets": len(tickets), "ratings": len(ratings),
        "satisfaction": (len(ratings) - bad) / len(ratings) if ratings else None,
        "bad": bad, "valid_bad": len(valid),
        "rectify_rate": sum(1 for c in valid if c["rectified"]) / len(valid) if valid else None,
        "named_bad": len(named),
        "reply_rate": sum(1 for c in named if c["replied"]) / len(named) if named else None,
        "overtime_rate": sum(1 for w in waits if w > max_wait_s) / len(waits) if waits else None,
        "wait_mean": sum(waits) / len(waits) / 60 if waits else None,
        "wait_p90": _p90(waits) / 60 if waits else None,
    }


def efficiency_return(tickets: Sequence[Mapping[str, Any]], work: Sequence[Mapping[str, Any]],
                      ratings: Sequence[Mapping[str, Any]], cases: Sequence[Mapping[str, Any]], max_wait_s: float,
                      window_names: Mapping[str, str], window_order: Sequence[str] = ()) -> dict[str, Any]:
    """The return's two tables — per department and per window — and the hall's total."""
    use_work = bool(work)

    def table(key: str, name_of: Any, order: Sequence[str]) -> list[dict[str, Any]]:
        parts: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(
            lambda: {"tickets": [], "work": [], "ratings": [], "cases": []})
        for kind, rows in (("tickets", tickets), ("work", work), ("ratings", ratings), ("cases", cases)):
            for r in rows:
                parts[r.get(key) or ""][kind].append(r)
        keys = sorted(parts, key=lambda k: (k == "", list(order).index(k) if k in order else len(order), k))
        return [{"no": i + 1, "key": k, "name": name_of(k) if k else UNNAMED,
                 **_row(parts[k]["tickets"], parts[k]["work"] if use_work else None, parts[k]["ratings"],
                        parts[k]["cases"], max_wait_s)} for i, k in enumerate(keys)]

    return {
        "departments": table("department", lambda k: k, ()),
        "windows": table("window_id", lambda k: window_names.get(k, k), window_order),
        "total": {"no": None, "key": "total", "name": "合计",
                  **_row(tickets, work if use_work else None, ratings, cases, max_wait_s)},
        "workload_source": "办件" if use_work else "办结号票",
        "columns": [{"key": k, "name": n, "kind": kind} for k, n, kind in COLUMNS],
    }
