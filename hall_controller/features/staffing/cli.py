"""`hall-controller staffing`: the staffing advice in a terminal (人手测算)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hall_controller.config_loader import ConfigError
from hall_controller.core.hall import Hall
from hall_controller.core.ledger import Ledger, StorageError
from hall_controller.core.settings import HallConfig
from hall_controller.features.staffing.service import advise


def add_command(sub: argparse._SubParsersAction, default_config: str) -> None:
    p = sub.add_parser("staffing", help="windows needed per theme and half-hour (人手测算)")
    p.add_argument("--config", default=default_config)
    p.add_argument("--db", type=Path, help="the hall's ledger: use today's tickets and windows from it")
    p.add_argument("--at", metavar="ISO_TIME", type=iso_time, help="the moment to advise for (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=command)


def command(args: argparse.Namespace, load_config: Callable[[str], HallConfig]) -> int:
    try:
        cfg = load_config(args.config)
        tz = ZoneInfo(cfg.timezone)
        now = args.at or datetime.now(tz)
        now = now if now.tzinfo else now.replace(tzinfo=tz)
        hall = Hall(cfg)
        if args.db:
            if not args.db.is_file():
                raise ValueError(f"--db: no ledger at {args.db}")
            hall = Hall(cfg, *_state(args.db, now))
    except (ConfigError, ValueError) as exc:
        print(f"staffing: {exc}", file=sys.stderr)
        return 2
    report = advise(cfg, hall, now)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{cfg.name} 人手测算 {now:%Y-%m-%d %H:%M}  目标：{report['target']['text']}")
    print("每格：每小时到达人数 / 负荷（窗口·时） / 分配到的窗口数（! 为未达目标）；窗口按共享池测算，综合窗口只计一次")
    names = [t["name"] for t in report["themes"]]
    print("时段   " + "".join(_pad(n, 16) for n in names) + "合计 需要/在岗/缺/可释放")
    for i, total in enumerate(report["slots"]):
        cells = [t["rows"][i] for t in report["themes"]]
        print(f"{total['slot']}  " + "".join(_pad(
            f"{c['arrivals_per_hour']:.1f}/{c['load']:g}/{c['windows_open']:g}" + ("!" if c["short"] else ""), 16)
            for c in cells) + f"{total['windows_needed']}/{total['windows_open']}/{total['short']}/{total['spare']}")
    print()
    for line in report["advice"]:
        print("· " + line)
    return 0


def iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO date-time (2026-11-23T10:00)") from None


def _state(path: Path, now: datetime) -> tuple:
    """Today's tickets, windows and counters from the hall's ledger; a file that is not one is refused."""
    try:
        ledger = Ledger(path)
    except (sqlite3.Error, StorageError) as exc:
        raise ValueError(f"--db: {path} is not the hall's ledger ({exc})") from None
    try:
        return ledger.load_state(now.date().isoformat())
    except sqlite3.Error as exc:
        raise ValueError(f"--db: {path} is not the hall's ledger ({exc})") from None
    finally:
        ledger.close()


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - sum(2 if ord(ch) > 0x2E80 else 1 for ch in text))
