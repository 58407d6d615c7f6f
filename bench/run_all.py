"""Run every benchmark and print one table of figures, each with its goal and whether it was met.

    .venv/bin/python bench/run_all.py [--quick]

Each benchmark runs in its own process with --json. bench/devices.py is skipped with a note if absent.
Exits 1 when a goal is not met or a benchmark fails, so a script (or CI) can act on it; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

# (script, full args, quick args, rows: (figure, value from the JSON, goal, goal met? or None for no goal))
Row = tuple[str, Callable[[Any], str], str, Callable[[Any], bool] | None]
SUITE: list[tuple[str, list[str], list[str], list[Row]]] = [
    ("core.py", [], ["--seconds", "5", "--throughput-seconds", "3", "--day", "2000"], [
        ("issue latency p99", lambda r: f"{r['issue_p99_ms']:.1f} ms", "< 20 ms at 200 req/s",
         lambda r: r["issue_p99_ms"] < 20),
        ("call-next latency p99", lambda r: f"{r['call_next_p99_ms']:.1f} ms", "< 20 ms at 200 req/s",
         lambda r: r["call_next_p99_ms"] < 20),
        ("closed-loop throughput", lambda r: f"{r['throughput_rps']:.0f} req/s", "", None),
        ("memory after a day", lambda r: f"{r['rss_mb_after_day']:.0f} MB ({r['day_tickets']} tickets)", "< 150 MB",
         lambda r: r["rss_mb_after_day"] < 150),
        ("HTTP errors", lambda r: str(r["errors"]), "0", lambda r: r["errors"] == 0),
    ]),
    ("devices.py", ["--devices", "12"], ["--devices", "12", "--presses", "20"], [
        ("keypad → display p95 (12 devices)",
         lambda r: f"{_devices(r)['p95_ms']} ms", "< 150 ms", lambda r: _devices(r)["p95_ms"] < 150),
    ]),
    ("ws_fanout.py", [], ["--calls", "10"], [
        ("call → 200 board clients p99", lambda r: f"{r['p99_ms']} ms (p50 {r['p50_ms']})", "< 50 ms",
         lambda r: r["p99_ms"] < 50),
        ("events delivered", lambda r: f"{r['delivered']}/{r['expected']}", "all",
         lambda r: r["delivered"] == r["expected"]),
    ]),
    ("simulator.py", [], [], [
        ("simulated day, 150 windows", lambda r: f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU ({r['tickets']} tickets)",
         "< 10 s CPU", lambda r: r["cpu_s"] < 10),  # CPU: wall time on a shared machine measures the neighbours
    ]),
]


def _devices(r: Any) -> dict[str, Any]:
    return next(x for x in r if x["devices"] == 12)


def main(quick: bool) -> int:
    rows: list[tuple[str, str, str, str, str]] = []
    for script, full, short, figures in SUITE:
        path = BENCH / script
        if not path.exists():
            rows.append((script, "(skipped: not present)", "", "", ""))
            continue
        print(f"running {script} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(path), "--json", *(short if quick else full)],
                              capture_output=True, text=True, cwd=BENCH.parent)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            rows.append((script, f"(failed: exit {proc.returncode}) {last[:120]}", "", "", "FAILED"))
            continue
        result = json.loads(lines[-1])
        for name, value, goal, met in figures:
            rows.append((script, name, value(result), goal, "" if met is None else "met" if met(result) else "NOT MET"))
    header = ("bench", "figure", "value", "goal", "result")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    missed = [f"{r[0]}: {r[1]}" for r in rows if r[4] in ("NOT MET", "FAILED")]
    if missed:
        print(f"\n{len(missed)} goal(s) missed: " + "; ".join(missed), file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="shorter runs of each benchmark")
    sys.exit(main(p.parse_args().quick))
