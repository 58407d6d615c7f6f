"""Simulator benchmark: a whole day of 20,000 tickets at 150 windows, driving the real hall core.

The demo hall's windows are repeated up to 150 and its service times scaled so the windows run at about
90 % load (a big-city hall of short matters; daily caps lifted). Goal: the day runs in under 10 s.

    .venv/bin/python bench/simulator.py [--tickets 20000] [--windows 150] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hall_controller.app import load_config  # noqa: E402
from hall_controller.features.simulation import report as simreport  # noqa: E402
from hall_controller.features.simulation.simulate import draw_day, run, scaled  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo-hall.toml"
LOAD = 0.9


def main(args: argparse.Namespace) -> dict:
    cfg = scaled(load_config(DEMO), args.windows)
    day = draw_day(cfg, args.seed, tickets_per_day=args.tickets)
    offered = sum(a.service_s for a in day.arrivals)
    capacity = sum(b - a for periods in day.shifts.values() for a, b in periods)
    factor = LOAD * capacity / offered
    cfg = replace(cfg, services=tuple(replace(s, minutes=s.minutes * factor, daily_cap=None) for s in cfg.services))
    day = draw_day(cfg, args.seed, tickets_per_day=args.tickets)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(cfg, day)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    w = simreport.overall(result)
    return {"tickets": len(day.arrivals), "windows": len(cfg.windows), "wall_s": wall, "cpu_s": cpu,
            "tickets_per_s": len(day.arrivals) / wall, "mean_wait_min": w.mean_min, "p90_wait_min": w.p90_min}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=float, default=20_000)
    p.add_argument("--windows", type=int, default=150)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    r = main(a)
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{r['tickets']} tickets, {r['windows']} windows: {r['wall_s']:.1f} s wall ({r['cpu_s']:.1f} s CPU), "
              f"{r['tickets_per_s']:.0f} tickets/s; mean wait {r['mean_wait_min']:.1f} min (goal: < 10 s)")
