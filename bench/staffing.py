"""Staffing advice checked three ways: the advice (pooled over the skill matrix), pooled Erlang C, and the
simulator running the advised windows.

Cases (docs/routing.md, "Staffing advice checked"):

- the audit's three themes × 40/h, 6-minute exponential services, comprehensive windows, for three targets;
- the demo hall at 10:00 (its usual demand then, lognormal services with the configured CVs), the four
  general themes on comprehensive windows, for the mean-wait target and the demo's 80 % within 10 min;
- the demo hall at 10:00 with its own windows (comprehensive, categorised 3:1, special windows), nobody
  signed in yet: the windows `hall-controller staffing` says to open, simulated as advised;
- a Sunday and 国庆 in the demo hall: nothing advised.

"Before" is the old rule: each theme sized on its own (Erlang C, Allen–Cunneen, mean wait only) and
added up. The simulation holds the case's arrival rates steady for `--hours`
and repeats it `--reps` times with independent seeds (the first two hours, from an empty hall, left out);
waits in minutes, ± a 95 % Student-t half-width over the replications.

    .venv/bin/python bench/staffing.py [--reps 8] [--hours 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hall_controller.app import load_config  # noqa: E402
from hall_controller.core.hall import Hall  # noqa: E402
from hall_controller.core.settings import (  # noqa: E402
    Category,
    HallConfig,
    Hours,
    Period,
    QueueRules,
    Service,
    Window,
)
from hall_controller.features.simulation import demand  # noqa: E402
from hall_controller.features.simulation.simulate import Arrival, Day, run, working_day  # noqa: E402
from hall_controller.features.staffing import rules, theory  # noqa: E402
from hall_controller.features.staffing import service as staffing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "config" / "demo-hall.toml"
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 19: 2.093}
ALL_DAY = Hours((Period(time(0), time.max),), None, weekdays=(1, 2, 3, 4, 5, 6, 7))
TEN = 600  # the 10:00 half-hour
WARM_UP_S = 2 * 3600  # from an empty hall to the steady state at ρ ≈ 0.9: left out


def old_rule(loads: list[tuple[float, rules.ThemeDemand]], target: rules.Target) -> int:
    """The advice before: every theme on its own, mean wait only, added up."""
    return sum(theory.windows_needed(lam / 60, 1 / d.mean_min, target_wq=target.mean_wait_min * 2 / (1 + d.cs2))
               for lam, d in loads if lam > 0)


def erlang(loads: list[tuple[float, rules.ThemeDemand]], target: rules.Target) -> tuple[int, float, float]:
    """Pooled Erlang C (Allen–Cunneen) as one queue: windows, mean wait, share within the level's minutes."""
    n = rules.pooled_windows(loads, target)
    lam = sum(x for x, _ in loads)
    mix = rules.mixture((x, d.mean_min, d.cs2) for x, d in loads)
    return n, rules.mean_wait_min(lam, mix, n) or math.inf, rules.within_share(lam, mix, n, 10)


def steady_day(cfg: HallConfig, rates: dict[str, float], draw, hours: float, seed: int) -> Day:
    """Poisson arrivals at fixed rates per service (per hour) for `hours`, every window open throughout."""
    rng = random.Random(f"staffing-{seed}")
    total = sum(rates.values())
    sids, weights = list(rates), list(rates.values())
    arrivals, t = [], 0.0
    while (t := t + rng.expovariate(total / 3600)) < hours * 3600:
        sid = rng.choices(sids, weights)[0]
        arrivals.append(Arrival(t, sid, None, draw(rng, sid), False))
    return Day(working_day(cfg), tuple(arrivals), {w.id: ((0.0, (hours + 6) * 3600),) for w in cfg.windows}, (), 0.0)


def simulate(cfg: HallConfig, rates: dict[str, float], draw, reps: int, hours: float) -> dict[str, object]:
    means, within, themes = [], [], {}
    for seed in range(1, reps + 1):
        r = run(cfg, steady_day(cfg, rates, draw, hours, seed))
        waits = []
        for x in r.hall.tickets.values():
            if WARM_UP_S <= (x.issued_at - r.start).total_seconds() < hours * 3600:
                end = x.called_at or r.start + timedelta(seconds=r.end_s)  # unserved: censored at the end
                w = (end - x.issued_at).total_seconds() / 60
                waits.append(w)
                themes.setdefault(x.category_id, []).append(w)
        means.append(sum(waits) / len(waits))
        within.append(sum(w <= 10 for w in waits) / len(waits))
    grand = sum(means) / reps
    half = T_975.get(reps - 1, 2.0) * math.sqrt(sum((m - grand) ** 2 for m in means) / (reps - 1) / reps) if reps > 1 else 0
    names = {c.id: c.name for c in cfg.categories}
    worst = max(themes, key=lambda c: sum(themes[c]) / len(themes[c]))
    return {"mean": grand, "half": half, "within10": sum(within) / reps,
            "worst": f"{names[worst]} {sum(themes[worst]) / len(themes[worst]):.1f}"}


def exp_draw(means_s: dict[str, float]):
    return lambda rng, sid: rng.expovariate(1 / means_s[sid])


def lognormal_draw(cfg: HallConfig, settings: demand.SimulationSettings):
    params = {s.id: demand.lognormal_params(s.minutes * 60, settings.service_cv_of(s.id)) for s in cfg.services}
    return lambda rng, sid: rng.lognormvariate(*params[sid])


def three_themes(target: rules.Target, label: str, reps: int, hours: float) -> dict[str, object]:
    d = rules.ThemeDemand(6.0, 1.0)
    loads = [(40.0, d)] * 3
    everyone = frozenset("abc")
    z = rules.Sizing({k: (40.0, d) for k in "abc"}, [everyone], target)
    advice = rules.plan([z], {}, {f"w{i}": everyone for i in range(40)}).needed
    n, wq, sl = erlang(loads, target)
    cfg = HallConfig(
        source="<bench>", name="三主题", timezone="Asia/Shanghai", hours=ALL_DAY,
        queue=QueueRules(max_wait_minutes=10_000, target_wait_minutes=target.mean_wait_min),
        categories=tuple(Category(c, f"主题{c.upper()}") for c in "abc"),
        services=tuple(Service(c.upper(), c, c, c.upper(), 6, "即办", None, (), ()) for c in "abc"),
        windows=tuple(Window(str(i), i, f"{i}号综合窗口", "comprehensive") for i in range(1, advice + 1)),
        staff=())
    sim = simulate(cfg, {c: 40.0 for c in "ABC"}, exp_draw({c: 360.0 for c in "ABC"}), reps, hours)
    return {"case": "3 themes × 40/h, 6 min exp., comprehensive", "target": label, "before": old_rule(loads, target),
            "advice": advice, "erlang": f"{n} ({wq:.1f} min, {sl:.0%} ≤ 10)", "windows_simulated": advice, **sim}


def demo_loads(cfg: HallConfig, general_only: bool) -> tuple[dict[str, float], dict[str, tuple[float, rules.ThemeDemand]]]:
    settings = demand.settings_of(cfg)
    usual = demand.service_rates(cfg, settings)
    rates = {sid: lam for sid, lam in usual[TEN].items() if lam > 0}
    general = {c.id for c in cfg.categories if c.general}
    if general_only:
        rates = {sid: lam for sid, lam in rates.items() if cfg.service(sid).category_id in general}
    themes = {cfg.service(sid).category_id for sid in rates}
    loads = {c: (sum(lam for sid, lam in rates.items() if cfg.service(sid).category_id == c),
                 staffing.theme_demand(cfg, settings, c, usual)) for c in themes}
    return rates, loads


def demo_general(target: rules.Target, label: str, reps: int, hours: float) -> dict[str, object]:
    cfg = load_config(DEMO)
    rates, loads = demo_loads(cfg, general_only=True)
    pool = frozenset(loads)
    advice = rules.plan([rules.Sizing(loads, [pool], target)], {}, {f"w{i}": pool for i in range(60)}).needed
    n, wq, sl = erlang(list(loads.values()), target)
    comprehensive = next(w for w in cfg.windows if w.mode == "comprehensive")
    windows = tuple(replace(comprehensive, id=str(i), number=i, name=f"{i}号综合窗口") for i in range(1, advice + 1))
    sim_cfg = replace(cfg, hours=ALL_DAY, windows=windows, queue=replace(cfg.queue, max_wait_minutes=10_000),
                      services=tuple(replace(s, issuing_hours=(), daily_cap=None) for s in cfg.services))
    sim = simulate(sim_cfg, rates, lognormal_draw(cfg, demand.settings_of(cfg)), reps, hours)
    return {"case": "demo hall 10:00, 4 general themes, comprehensive", "target": label,
            "before": old_rule(list(loads.values()), target), "advice": advice,
            "erlang": f"{n} ({wq:.1f} min, {sl:.0%} ≤ 10)", "windows_simulated": advice, **sim}


def demo_own(reps: int, hours: float) -> dict[str, object]:
    cfg = load_config(DEMO)
    target = staffing.target_of(cfg)
    now = datetime.fromisoformat("2026-11-23T10:10:00+08:00")
    report = staffing.advise(cfg, Hall(cfg), now)
    slot = next(s for s in report["slots"] if s["slot"] == "10:00")
    hall = Hall(cfg)
    skills = {w.id: staffing.serves(cfg, hall, w.id) for w in cfg.windows}
    chosen = [w for w in cfg.windows if w.number in slot["open_windows"]]
    # A window beyond the hall's own: a copy of a window of the themes the advice names.
    for k, names in enumerate(slot["new_windows"]):
        ids = {c.id for c in cfg.categories if c.name in names}
        like = next(w for w in cfg.windows if skills[w.id] == ids)
        chosen.append(replace(like, id=f"n{k}", number=90 + k, name=f"{90 + k}号窗口"))
    rates, loads = demo_loads(cfg, general_only=False)
    general = [v for c, v in loads.items() if cfg.category(c).general]
    special = [rules.pooled_windows([v], target) for c, v in loads.items() if not cfg.category(c).general]
    n, wq, sl = erlang(general, target)
    sim_cfg = replace(cfg, hours=ALL_DAY, windows=tuple(chosen), queue=replace(cfg.queue, max_wait_minutes=10_000),
                      services=tuple(replace(s, issuing_hours=(), daily_cap=None) for s in cfg.services))
    sim = simulate(sim_cfg, rates, lognormal_draw(cfg, demand.settings_of(cfg)), reps, hours)
    before = old_rule(general, target) + sum(old_rule([v], target) for c, v in loads.items()
                                             if not cfg.category(c).general)
    return {"case": "demo hall 10:00, its own windows (skill matrix)", "target": target.text(),
            "before": before, "advice": slot["windows_needed"],
            "erlang": f"{n} general ({wq:.1f} min, {sl:.0%} ≤ 10) + {sum(special)} special",
            "windows_simulated": len(chosen), **sim}


def closed(day: str) -> dict[str, object]:
    cfg = load_config(DEMO)
    report = staffing.advise(cfg, Hall(cfg), datetime.fromisoformat(f"{day}T10:00:00+08:00"))
    return {"case": f"demo hall, {day} (closed)", "target": staffing.target_of(cfg).text(), "before": "13 (audit)",
            "advice": max(s["windows_needed"] for s in report["slots"]), "erlang": "—", "windows_simulated": 0,
            "mean": None, "half": None, "within10": None, "worst": "—"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=8, help="independent replications per case (2–20)")
    p.add_argument("--hours", type=float, default=20.0, help="hours per replication (the first two are warm-up)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if not 2 <= a.reps <= 20 or not 4 <= a.hours <= 48:
        p.error("--reps must be 2–20 and --hours 4–48")
    mean15 = rules.Target(15)
    rows = [three_themes(mean15, "mean ≤ 15", a.reps, a.hours),
            three_themes(rules.Target(15, 0.8, 10), "mean ≤ 15, 80 % ≤ 10", a.reps, a.hours),
            three_themes(rules.Target(15, 0.9, 10), "mean ≤ 15, 90 % ≤ 10", a.reps, a.hours),
            demo_general(mean15, "mean ≤ 15", a.reps, a.hours),
            demo_general(rules.Target(15, 0.8, 10), "mean ≤ 15, 80 % ≤ 10", a.reps, a.hours),
            demo_own(a.reps, a.hours), closed("2026-11-22"), closed("2026-10-01")]
    if a.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{a.reps} replications × {a.hours:g} h per case (first two hours left out); waits in minutes\n")
    print("| case | target | before (per theme, summed) | advice (pooled) | pooled Erlang C | "
          "simulated: windows, mean ± 95 %, ≤ 10 min, worst theme mean |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        sim = "—" if r["mean"] is None else (f"{r['windows_simulated']}: {r['mean']:.1f} ± {r['half']:.1f}, "
                                             f"{r['within10']:.0%}, {r['worst']}")
        print(f"| {r['case']} | {r['target']} | {r['before']} | {r['advice']} | {r['erlang']} | {sim} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
