"""Staffing advice (人手测算): windows each theme needs per half-hour to meet the hall's wait target.

Past slots of today use the tickets actually issued; the current and later slots use the usual profile
(`[simulation]`, see `demand`) scaled by how busy today has been so far. Windows needed come from Erlang C
(`theory.windows_needed`) with the target tightened by the Allen–Cunneen factor (1 + Cs²)/2, since hall
service times vary far more than exponential ones. Pure: give it the config, the hall state and `now`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import demand, theory
from .config import ConfigError, HallConfig, load_config
from .domain.hall import Hall
from .domain.model import WindowState

PRIOR_TICKETS = 5.0  # pseudo-count: early in the day the usual profile dominates today's few tickets
ADVICE_SLOTS = 3  # advice looks at the current half-hour and the next two


@dataclass(frozen=True)
class ThemeDemand:
    mean_min: float  # mix-weighted mean service minutes
    cs2: float  # mix-weighted squared coefficient of variation of service times


def theme_demand(cfg: HallConfig, settings: demand.SimulationSettings, category_id: str,
                 usual: dict[int, dict[str, float]]) -> ThemeDemand:
    weight: dict[str, float] = {}
    for rates in usual.values():
        for sid, lam in rates.items():
            weight[sid] = weight.get(sid, 0.0) + lam
    services = [s for s in cfg.services if s.category_id == category_id]
    total = sum(weight.get(s.id, 0.0) for s in services)
    if not services:
        return ThemeDemand(10.0, settings.service_cv ** 2)

    def share(sid: str) -> float:
        return weight.get(sid, 0.0) / total if total else 1 / len(services)

    return ThemeDemand(sum(share(s.id) * s.minutes for s in services),
                       sum(share(s.id) * settings.service_cv_of(s.id) ** 2 for s in services))


def windows_needed(arrivals_per_hour: float, d: ThemeDemand, target_min: float) -> int:
    if arrivals_per_hour <= 0:
        return 0
    return theory.windows_needed(arrivals_per_hour / 60, 1 / d.mean_min, target_wq=target_min * 2 / (1 + d.cs2))


def _wq_min(arrivals_per_hour: float, d: ThemeDemand, windows: int) -> float | None:
    if windows < 1:
        return None
    w = theory.allen_cunneen_wq(arrivals_per_hour / 60, 1 / d.mean_min, windows, 1.0, d.cs2)
    return None if math.isinf(w) else round(w, 1)


def advise(cfg: HallConfig, hall: Hall, now: datetime) -> dict[str, Any]:
    settings = demand.settings_of(cfg)
    usual = demand.service_rates(cfg, settings)
    slots = demand.open_slots(cfg)
    target = cfg.queue.target_wait_minutes
    minute = now.hour * 60 + now.minute + now.second / 60
    current = int(minute // demand.SLOT_MINUTES * demand.SLOT_MINUTES)
    today = now.date().isoformat()
    themes = [c for c in cfg.categories if c.general]

    arrived: dict[tuple[str, int], int] = {}
    called_by: dict[tuple[str, int], set[str]] = {}
    for t in hall.tickets.values():
        if t.day != today:
            continue
        cat = cfg.service(t.service_id).category_id if cfg.service(t.service_id) else t.category_id
        key = (cat, _slot(t.issued_at))
        arrived[key] = arrived.get(key, 0) + 1
        if t.called_at is not None and t.window_id:
            called_by.setdefault((cat, _slot(t.called_at)), set()).add(t.window_id)
    staffed = [wid for wid, ws in hall.windows.items()
               if ws.staff_id is not None and ws.state in (WindowState.OPEN, WindowState.SERVING)]

    out_themes, now_rows = [], {}
    for c in themes:
        d = theme_demand(cfg, settings, c.id, usual)
        usual_c = {s: sum(lam for sid, lam in usual.get(s, {}).items() if cfg.service(sid).category_id == c.id)
                   for s in slots}
        expected = sum(usual_c[s] / 2 for s in slots if s < current)
        if current in usual_c:
            expected += usual_c[current] * (minute - current) / 60
        actual = sum(n for (cat, s), n in arrived.items() if cat == c.id and s <= current)
        # No ticket at all today means no data (a fresh ledger, the CLI without --db): forecast the usual day.
        ratio = (actual + PRIOR_TICKETS) / (expected + PRIOR_TICKETS) if arrived else 1.0
        open_now = sum(1 for wid in staffed if c.id in hall.weights(wid))
        rows = []
        for s in slots:
            past = s < current
            lam = arrived.get((c.id, s), 0) * 60 / demand.SLOT_MINUTES if past else usual_c[s] * ratio
            rows.append({"slot": demand.slot_label(s), "arrivals_per_hour": round(lam, 1),
                         "windows_needed": windows_needed(lam, d, target),
                         "windows_open": len(called_by.get((c.id, s), ())) if past else open_now})
        now_rows[c.id] = (d, usual_c.get(current, 0.0) * ratio, open_now)
        out_themes.append({"category_id": c.id, "name": c.name, "rows": rows})

    advice = _advice(out_themes, current, target)
    if not arrived:
        advice.insert(0, "今日尚无取号记录，按常规客流测算。")
    one = _one_more(cfg, hall, staffed, now_rows, out_themes, current)
    if one["current_wq_min"] != one["with_one_more_wq_min"]:
        advice.append(f"若现在增开1个综合窗口，平均等候约由{_show(one['current_wq_min'])}分钟降至"
                      f"{_show(one['with_one_more_wq_min'])}分钟。")
    return {"generated_at": now.isoformat(), "target_wait_minutes": target, "themes": out_themes,
            "advice": advice, "one_more_window": one}


def _slot(t: datetime) -> int:
    return (t.hour * 60 + t.minute) // demand.SLOT_MINUTES * demand.SLOT_MINUTES


def _advice(themes: list[dict[str, Any]], current: int, target: float) -> list[str]:
    out = []
    for theme in themes:
        for row in theme["rows"]:
            start = demand.parse_slot(row["slot"])
            if not current <= start < current + ADVICE_SLOTS * demand.SLOT_MINUTES:
                continue
            gap = row["windows_needed"] - row["windows_open"]
            if gap > 0:
                end = demand.slot_label(start + demand.SLOT_MINUTES)
                out.append(f"{row['slot']}–{end} {theme['name']}预计每小时{row['arrivals_per_hour']:g}人，需{row['windows_needed']}个窗口"
                           f"（当前可办理的窗口{row['windows_open']}个），建议增开{gap}个或调配综合窗口。")
    if not out:
        out.append(f"当前窗口配置可满足平均等候不超过{target:g}分钟的目标。")
    return out


def _one_more(cfg: HallConfig, hall: Hall, staffed: list[str], now_rows: dict[str, tuple[ThemeDemand, float, int]],
              themes: list[dict[str, Any]], current: int) -> dict[str, Any]:
    """One pooled queue of the general themes now: its Wq with the staffed general windows, and with one more."""
    lam = sum(rate for _, rate, _ in now_rows.values())
    general = {c.id for c in cfg.categories if c.general}
    c = sum(1 for wid in staffed if general & set(hall.weights(wid)))
    if lam > 0:
        mean = sum(d.mean_min * rate for d, rate, _ in now_rows.values()) / lam
        cs2 = sum(d.cs2 * rate for d, rate, _ in now_rows.values()) / lam
    else:
        mean, cs2 = 10.0, 1.0
    pooled = ThemeDemand(mean, cs2)
    label = demand.slot_label(current)
    gaps = {t["category_id"]: r["windows_needed"] - r["windows_open"]
            for t in themes for r in t["rows"] if r["slot"] == label}
    short = max(gaps, key=gaps.get, default=None)
    return {"category_id": short if short is not None and gaps[short] > 0 else None,
            "current_wq_min": _wq_min(lam, pooled, c) if lam > 0 else 0.0,
            "with_one_more_wq_min": _wq_min(lam, pooled, c + 1) if lam > 0 else 0.0}


# ---------------------------------------------------------------------------------------------- the command

def add_command(sub: argparse._SubParsersAction, default_config: str) -> None:
    p = sub.add_parser("staffing", help="windows needed per theme and half-hour (人手测算)")
    p.add_argument("--config", default=default_config)
    p.add_argument("--db", type=Path, help="the hall's ledger: use today's tickets and windows from it")
    p.add_argument("--at", metavar="ISO_TIME", help="the moment to advise for (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=command)


def command(args: argparse.Namespace) -> int:
    from .store import Ledger

    try:
        cfg = load_config(args.config)
        tz = ZoneInfo(cfg.timezone)
        now = datetime.fromisoformat(args.at) if args.at else datetime.now(tz)
    except (ConfigError, ValueError) as exc:
        print(f"staffing: {exc}", file=sys.stderr)
        return 2
    now = now if now.tzinfo else now.replace(tzinfo=tz)
    hall = Hall(cfg)
    if args.db:
        if not args.db.exists():
            print(f"staffing: no ledger at {args.db}", file=sys.stderr)
            return 2
        ledger = Ledger(args.db)
        hall = Hall(cfg, *ledger.load_state(now.date().isoformat()))
        ledger.close()
    report = advise(cfg, hall, now)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{cfg.name} 人手测算 {now:%Y-%m-%d %H:%M}  平均等候目标 {report['target_wait_minutes']:g} 分钟")
    print("每格：每小时到达人数 / 需要窗口数 / 可办理窗口数")
    names = [t["name"] for t in report["themes"]]
    print("时段   " + "".join(f"{n:　<10}" for n in names))
    for i, row in enumerate(report["themes"][0]["rows"] if report["themes"] else []):
        cells = [t["rows"][i] for t in report["themes"]]
        print(f"{row['slot']}  " + "".join(
            f"{c['arrivals_per_hour']:>6.1f}/{c['windows_needed']:>2}/{c['windows_open']:<2}     " for c in cells))
    print()
    for line in report["advice"]:
        print("· " + line)
    return 0


def _show(v: float | None) -> str:
    return "无穷（窗口不足，队伍持续增长）" if v is None else f"{v:g}"
