"""Run every benchmark and print one table of figures, each with its goal.

    .venv/bin/python bench/run_all.py [--quick]

Each benchmark runs in its own process with --json. bench/devices.py is skipped with a note if absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# (script, full args, quick args, rows: (figure, value from the JSON, goal))
Row = tuple[str, Callable[[object], str], str]
SUITE: list[tuple[str, list[str], list[str], list[Row]]] = [
    ("core.py", [], ["--seconds", "5", "--throughput-seconds", "3", "--day", "2000"], [
        ("issue latency p99", lambda r: f"{r['issue_p99_ms']:.1f} ms", "< 20 ms at 200 req/s"),
        ("call-next latency p99", lambda r: f"{r['call_next_p99_ms']:.1f} ms", "< 20 ms at 200 req/s"),
        ("closed-loop throughput", lambda r: f"{r['throughput_rps']:.0f} req/s", ""),
        ("memory after a day", lambda r: f"{r['rss_mb_after_day']:.0f} MB ({r['day_tickets']} tickets)", "< 150 MB"),
        ("HTTP errors", lambda r: str(r["errors"]), "0"),
    ]),
    ("devices.py", ["--devices", "12"], ["--devices", "12", "--presses", "20"], [
        ("keypad → display p95 (12 devices)",
         lambda r: f"{next(x for x in r if x['devices'] == 12)['p95_ms']} ms", "< 150 ms"),
    ]),
    ("ws_fanout.py", [], ["--calls", "10"], [
        ("call → 200 board clients p99", lambda r: f"{r['p99_ms']} ms (p50 {r['p50_ms']})", "< 50 ms"),
        ("events delivered", lambda r: f"{r['delivered']}/{r['expected']}", "all"),
    ]),
    ("simulator.py", [], [], [
        ("simulated day, 150 windows", lambda r: f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU ({r['tickets']} tickets)",
         "< 10 s"),
    ]),
]


def main(quick: bool) -> int:
    rows: list[tuple[str, str, str, str]] = []
    for script, full, short, figures in SUITE:
        path = BENCH / script
        if not path.exists():
            rows.append((script, "(skipped: not present)", "", ""))
            continue
        print(f"running {script} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(path), "--json", *(short if quick else full)],
                              capture_output=True, text=True, cwd=BENCH.parent)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            rows.append((script, f"(failed: exit {proc.returncode}) {last[:120]}", "", ""))
            continue
        result = json.loads(lines[-1])
        for name, value, goal in figures:
            rows.append((script, name, value(result), goal))
    widths = [max(len(r[i]) for r in rows + [("bench", "figure", "value", "goal")]) for i in range(4)]
    for r in [("bench", "figure", "value", "goal"), tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="shorter runs of each benchmark")
    sys.exit(main(p.parse_args().quick))
