"""Wait-estimate error against the simulator, over several simulated days of the demo hall.

Every ticket's kiosk estimate at issue (as `hall-controller simulate --seed N --estimates` takes it) against
the wait it then had: per seed and pooled over all seeds, the mean absolute error per ticket (and as a share
of the mean wait), the bias, and the share of citizens who waited longer than the minutes shown. Also the CPU
an estimate costs (each one here is a fresh forecast: the hall changed since the last) and the most tickets
waiting at an estimate.

    .venv/bin/python bench/estimates.py [--seeds 1-10] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hall_controller.app import load_config
from hall_controller.core.hall import Hall
from hall_controller.features.simulation.simulate import draw_day, run

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo-hall.toml"


COST: list[tuple[float, int]] = []  # (CPU seconds, tickets waiting) of each estimate


def _timed(estimate):
    def timed(hall, *args, **kwargs):
        started = time.process_time()
        out = estimate(hall, *args, **kwargs)
        COST.append((time.process_time() - started, sum(len(q) for q in hall.waiting.values())))
        return out
    return timed


def pairs(cfg, seed: int, shown: bool = True) -> list[tuple[float, float, int]]:
    """(estimated minutes, waited minutes, 1 if "无需等候" was shown with people ahead) of every ticket called with a window to estimate by:
    the whole minutes shown, or (`shown` false) the estimate's seconds as `simulate --estimates` takes them."""
    result = run(cfg, draw_day(cfg, seed), estimates=True)
    out = []
    for tid, est in result.estimates.items():
        t = result.hall.tickets[tid]
        if est.minutes is not None and t.called_at is not None:
            out.append((float(est.minutes) if shown else est.wait_s / 60, (t.called_at - t.issued_at).total_seconds() / 60,
                        int(est.minutes == 0 and est.ahead > 0)))
    return out


def figures(rows: list[tuple[float, float, int]]) -> dict:
    n = len(rows)
    mean = sum(w for _, w, _ in rows) / n
    mae = sum(abs(e - w) for e, w, _ in rows) / n
    return {"tickets": n, "mean_wait_min": round(mean, 2), "mae_min": round(mae, 2), "relative": round(mae / mean, 3),
            "bias_min": round(sum(e - w for e, w, _ in rows) / n, 2),
            "waited_longer": round(sum(1 for e, w, _ in rows if w > e) / n, 3),
            "no_wait_with_people_ahead": sum(k for _, _, k in rows)}


def seeds(spec: str) -> list[int]:
    a, _, b = spec.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1-10")
    p.add_argument("--seconds", action="store_true", help="the estimate's seconds, not the minutes shown")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    Hall.wait_estimate = _timed(Hall.wait_estimate)
    cfg = load_config(DEMO)
    every, per_seed = [], {}
    for s in seeds(args.seeds):
        rows = pairs(cfg, s, not args.seconds)
        every += rows
        per_seed[s] = figures(rows)
    cpu = sorted(c for c, _ in COST)
    out = {"per_seed": per_seed, "all": figures(every),
           "estimate_cpu_ms": {"mean": round(1000 * sum(cpu) / len(cpu), 2), "p95": round(1000 * cpu[len(cpu) * 95 // 100], 2),
                               "max": round(1000 * cpu[-1], 2), "most_waiting": max(n for _, n in COST)}}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    for s, f in per_seed.items():
        print(f"seed {s:2d}: {f['tickets']} tickets, mean wait {f['mean_wait_min']:.1f} min, MAE {f['mae_min']:.1f} min "
              f"({f['relative']:.0%}), bias {f['bias_min']:+.1f}, waited longer {f['waited_longer']:.0%}, "
              f"无需等候 with people ahead {f['no_wait_with_people_ahead']}")
    f = out["all"]
    print(f"all: {f['tickets']} tickets, mean wait {f['mean_wait_min']:.1f} min, MAE {f['mae_min']:.2f} min "
          f"({f['relative']:.1%}), bias {f['bias_min']:+.2f}, waited longer {f['waited_longer']:.0%}, "
          f"无需等候 with people ahead {f['no_wait_with_people_ahead']}")
    c = out["estimate_cpu_ms"]
    print(f"CPU per estimate (a fresh forecast): mean {c['mean']} ms, p95 {c['p95']} ms, max {c['max']} ms; "
          f"at most {c['most_waiting']} tickets waiting")


if __name__ == "__main__":
    main()
