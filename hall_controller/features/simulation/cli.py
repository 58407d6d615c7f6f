"""`hall-controller simulate`: a simulated day's waits, utilisation and routing comparison, as tables,
CSV and charts."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from hall_controller.config_loader import ConfigError
from hall_controller.core.settings import HallConfig
from hall_controller.features.simulation.report import (
    closed_themes,
    estimate_error,
    compare_chart,
    compare_rows,
    overall,
    queue_chart,
    queue_rows,
    queue_table_rows,
    table,
    theme_rows,
    unserved,
    window_rows,
    write_csv,
)
from hall_controller.features.simulation.simulate import (
    VARIANTS,
    compare,
    draw_day,
    run,
    scaled,
)


def number(kind: type, low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a number in [low, high] ((low, high] with low_open); argparse exits 2 with the
    flag, the value and the reason."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            bound = f"greater than {low:.10g}" if low_open else f"at least {low:.10g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bound} and at most {high:.10g}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its message
    return parse


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def add_command(sub: argparse._SubParsersAction, default_config: str) -> None:
    p = sub.add_parser("simulate", help="simulate a day in the hall (waits, utilisation, routing comparison)")
    p.add_argument("--config", default=default_config)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--date", type=iso_date,
                   help="the working day to simulate, YYYY-MM-DD (default: 2026-11-23 or the next working day)")
    p.add_argument("--tickets", type=number(float, 0, 1_000_000, low_open=True),
                   help="mean tickets in the day, > 0 (default: [simulation] tickets_per_day)")
    p.add_argument("--windows", type=number(int, 1, 10_000), help="repeat the hall's windows up to this many (load tests)")
    p.add_argument("--cv", type=number(float, 0, 10),
                   help="coefficient of variation of every service time, 0 (fixed) to 10")
    p.add_argument("--exponential", action="store_true", help="exponential service times (theory checks)")
    p.add_argument("--arrivals-csv", "--arrivals", dest="arrivals", type=Path,
                   help="past tickets: a CSV (issued_at, service_id[, priority, service_minutes, no_show]) or the "
                        "hall's ledger (var/hall.db); several dates make an average day unless --date picks one")
    p.add_argument("--compare", action="store_true",
                   help="run the same day with dedicated, comprehensive and the hall's own windows")
    p.add_argument("--estimates", action="store_true",
                   help="also check the kiosk's wait estimate of every ticket against the wait it then had")
    p.add_argument("--out", type=Path, help="directory for the CSV files and PNG charts")
    p.set_defaults(run=command)


def command(args: argparse.Namespace, load_config: Callable[[str], HallConfig]) -> int:
    try:
        cfg = load_config(args.config)
        if args.windows is not None:
            cfg = scaled(cfg, args.windows)
        day = draw_day(cfg, args.seed, args.date, args.tickets, args.cv, args.exponential, args.arrivals)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.compare:
        results = compare(cfg, day)
        elapsed = time.perf_counter() - started
        rows = compare_rows(results)
        print(f"{cfg.name} {day.date}  {len(day.arrivals)} 人到达  目标等候 {cfg.queue.target_wait_minutes:g} 分钟  "
              f"(seed {args.seed}, {elapsed:.1f} s)")
        print(table([{**r, "variant": VARIANTS[str(r["variant"])]} for r in rows]))
        for name, r in results.items():
            if unserved(r):
                print(f"注意：{VARIANTS[name]} 有 {unserved(r)} 人到窗口关闭仍未叫号，其等候按到结束时计入（下限）。")
        if args.out:
            write_csv(rows, args.out / "compare.csv")
            compare_chart(results, args.out / "compare.png")
            for name, r in results.items():
                queue_chart(r, args.out / f"queue-{name}.png", f"等候人数（按主题）— {VARIANTS[name]}")
        return 0
    result = run(cfg, day, estimates=args.estimates)
    elapsed = time.perf_counter() - started
    w = overall(result)
    left = unserved(result)
    print(f"{cfg.name} {day.date}  {len(day.arrivals)} 人到达  {len(cfg.windows)} 个窗口  平均等候 {w.mean_min:.1f} 分钟  "
          f"90% 分位 {w.p90_min:.1f} 分钟  目标内 {w.within_target:.0%}  (seed {args.seed}, {elapsed:.1f} s)")
    if left:
        print(f"注意：{left} 人到窗口关闭仍未叫号（unserved），其等候按到结束时计入，上述等候为下限。")
    for theme, n in closed_themes(result).items():
        print(f"注意：{theme} 全天没有可办理的窗口开放，{n} 人无法办理（请检查窗口班次 [[simulation.windows]]）。")
    if args.estimates:
        e = estimate_error(result)
        print(f"等候预估 wait estimates: {e.n} 人，平均等候 {e.mean_wait_min:.1f} 分钟；每人绝对误差 {e.mean_abs_error_min:.1f} 分钟"
              f"（{e.relative:.0%}），偏差 {e.mean_error_min:+.1f}；按主题·半小时 {e.slot_abs_error_min:.1f} 分钟"
              f"（{e.slot_relative:.0%}）；有人在前却显示“无需等候” {e.no_wait_with_people_ahead} 次；"
              f"“暂无窗口办理” {e.no_window} 次")
    print("\n按主题 per theme\n" + table(theme_rows(result)))
    print("\n按窗口 per window\n" + table(window_rows(result)))
    print("\n等候人数（整点） waiting on the hour\n" + table(queue_table_rows(result)))
    if args.out:
        write_csv(theme_rows(result), args.out / "themes.csv")
        write_csv(window_rows(result), args.out / "windows.csv")
        write_csv(queue_rows(result), args.out / "queue.csv")
        queue_chart(result, args.out / "queue.png")
    return 0
