"""Fairness rules compared on the simulator: strict priority, the ratio rule and the head-start rule.

One pooled queue of 5 comprehensive windows, exponential 6-minute services, Poisson arrivals at ρ = 0.95,
a share of them 绿色通道 (priority), 60-minute ageing on as in the hall, the head start at its default (30 min); 8 independent 10-hour days per
case (common random numbers across the rules). Prints mean, p95 and max wait per class (minutes).

    .venv/bin/python bench/fairness.py [--days 8] [--rho 0.95] [--head-start 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hall_controller.core.settings import (  # noqa: E402
    Category,
    HallConfig,
    Hours,
    Period,
    PriorityClass,
    QueueRules,
    Service,
    Window,
)
from hall_controller.features.simulation.simulate import Arrival, Day, run  # noqa: E402

WINDOWS, MINUTES, HOURS = 5, 6.0, 10.0
RULES = {"strict": "严格优先 strict", "ratio": "现行 ratio 2", "head_start": "提前量 head start"}


def hall(fairness: str, head_start: float) -> HallConfig:
    return HallConfig(
        source="<bench>", name="公平规则对比", timezone="Asia/Shanghai",
        hours=Hours((Period(time(0), time.max),), None, weekdays=(1, 2, 3, 4, 5, 6, 7)),
        queue=QueueRules(max_wait_minutes=60, target_wait_minutes=15, fairness=fairness, priority_ratio=2,
                         priority_head_start_minutes=head_start, priorities=(PriorityClass("green", "绿色通道", 1),)),
        categories=(Category("pool", "综合"),),
        services=(Service("S", "综合业务", "pool", "A", MINUTES, "即办", None, (), ()),),
        windows=tuple(Window(str(n), n, f"{n}号综合窗口", "comprehensive") for n in range(1, WINDOWS + 1)),
        staff=(),
    )


def day(rho: float, share: float, seed: int) -> Day:
    rng = random.Random(f"{seed}-{share}-{rho}")
    per_s = rho * WINDOWS / (MINUTES * 60)
    arrivals, t = [], 0.0
    while (t := t + rng.expovariate(per_s)) < HOURS * 3600:
        arrivals.append(Arrival(t, "S", "green" if rng.random() < share else None,
                                rng.expovariate(1 / (MINUTES * 60)), False))
    shifts = {str(n): ((0.0, HOURS * 3600 + 6 * 3600),) for n in range(1, WINDOWS + 1)}
    return Day(date(2026, 11, 23), tuple(arrivals), shifts, (), 0.0)


def figures(waits: list[float]) -> dict[str, float]:
    if not waits:
        return {"n": 0, "mean": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(waits)
    return {"n": len(ordered), "mean": round(sum(ordered) / len(ordered), 1),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1), "max": round(ordered[-1], 1)}


def main(args: argparse.Namespace) -> list[dict]:
    rows = []
    for share in (0.10, 0.40, 0.85):
        days = [day(args.rho, share, seed) for seed in range(1, args.days + 1)]
        for rule in RULES:
            cfg = hall(rule, args.head_start)
            waits: dict[bool, list[float]] = {True: [], False: []}
            for d in days:
                r = run(cfg, d)
                for tk in r.hall.tickets.values():  # the windows stay 6 h past the last arrival: all are called
                    waits[tk.priority is not None].append((tk.called_at - tk.issued_at).total_seconds() / 60)
            rows.append({"priority_share": share, "rule": rule, "priority": figures(waits[True]),
                         "normal": figures(waits[False])})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--rho", type=float, default=0.95)
    parser.add_argument("--head-start", type=float, default=QueueRules().priority_head_start_minutes)
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args()
    out = main(a)
    if a.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        sys.exit(0)
    print(f"ρ = {a.rho}, {WINDOWS} windows, {MINUTES:g}-minute exponential services, {a.days} days of {HOURS:g} h, "
          f"ageing at 60 min, head start {a.head_start:g} min; waits in minutes: mean / p95 / max")
    print("| priority share | rule | priority mean / p95 / max | normal mean / p95 / max |")
    print("|---|---|---|---|")
    for r in out:
        p, n = r["priority"], r["normal"]
        print(f"| {r['priority_share']:.0%} | {RULES[r['rule']]} | {p['mean']} / {p['p95']} / {p['max']} | "
              f"{n['mean']} / {n['p95']} / {n['max']} |")
