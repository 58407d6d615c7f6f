"""Staffing advice (人手测算): windows the hall needs per half-hour to meet its targets, over the shared pool.

Past slots of today use the tickets actually issued; the current and later slots use the usual profile
(`[simulation]`, see `demand`) scaled by how busy today has been so far. The windows are sized as pools over
the skill matrix (`rules`: every set of themes that shares windows needs as many as pooled Erlang C with the
Allen–Cunneen factor says, for the mean-wait target and, when set, the service level "x % within t
minutes"), so a comprehensive window counts once, for every theme it serves. Every theme with matters is
advised on, the special ones (跨省通办, 帮办代办, 统一出件, 咨询) included.

The advice names the hall's closed windows to open when the pool is short, or the windows that can be
released (可释放) when fewer meet the targets for the next hour and a half. Nothing is advised on a day the
hall is closed. The arithmetic is pure (`rules`, `theory`); this module gathers the day's figures from the
config, the hall state and `now`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hall_controller.core.calendar import is_open_day
from hall_controller.core.hall import Hall
from hall_controller.core.model import WindowState
from hall_controller.core.settings import HallConfig
from hall_controller.features.simulation import demand
from hall_controller.features.staffing import rules
from hall_controller.features.staffing.rules import ThemeDemand, mixture

PRIOR_TICKETS = 5.0  # pseudo-count: early in the day the usual profile dominates today's few tickets
ADVICE_SLOTS = 3  # advice looks at the current half-hour and the next two
LONG_WAIT_MIN = 240  # beyond this an estimate means "the queue keeps growing", not a figure to read


def target_of(cfg: HallConfig) -> rules.Target:
    q = cfg.queue
    level = q.service_level_percent / 100 if q.service_level_percent is not None else None
    return rules.Target(q.target_wait_minutes, level, q.service_level_minutes if level is not None else None)


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

    return mixture([(share(s.id), s.minutes, settings.service_cv_of(s.id) ** 2) for s in services])


def _wq_min(arrivals_per_hour: float, d: ThemeDemand, windows: int) -> float | None:
    w = rules.mean_wait_min(arrivals_per_hour, d, windows)
    return None if w is None else round(w, 1)


def allocate(need: dict[str, int], windows: dict[str, set[str]], load: dict[str, float]) -> dict[str, int]:
    """Windows per theme: each window to one theme it may serve, covering as much of `need` as any sharing can.

    Augmenting paths (bipartite b-matching): a theme short of a window takes a free one it may use, or one
    from a theme that can take another window instead. One window at a time goes to the theme furthest from
    its need (relative shortfall), so when the hall is short every theme is short in proportion, not one
    theme starved while another is whole. Windows left over go to the busiest theme they serve (most
    arrivals per window), so the counts add up to the windows signed in. Only shows how the pool is shared:
    whether it is enough is `rules.plan`'s question.
    """
    owner: dict[str, str] = {}
    count = {c: 0 for c in need}

    def augment(cat: str, seen: set[str]) -> bool:
        for wid, cats in windows.items():
            if cat not in cats or wid in seen:
                continue
            seen.add(wid)
            if wid not in owner or augment(owner[wid], seen):
                owner[wid] = cat
                return True
        return False

    # An augmenting path never lowers a theme's count, so trying every short theme until none can grow is a
    # maximum matching whatever the order. Ties go to themes fewer windows can serve.
    reach = {c: sum(1 for cats in windows.values() if c in cats) for c in need}
    stuck: set[str] = set()
    while short := [c for c in need if count[c] < need[c] and c not in stuck]:
        cat = max(short, key=lambda c: ((need[c] - count[c]) / need[c], -reach[c]))
        if augment(cat, set()):
            count[cat] += 1
        else:
            stuck.add(cat)  # others only take windows away from here on: it cannot grow again
    for wid, cats in windows.items():
        if wid not in owner and cats & set(count):
            best = max((c for c in count if c in cats), key=lambda c: load.get(c, 0.0) / (count[c] + 1))
            owner[wid] = best
            count[best] += 1
    return count


def advise(cfg: HallConfig, hall: Hall, now: datetime, rostered: Mapping[str, Any] | None = None,
           away: Iterable[str] = ()) -> dict[str, Any]:
    """Windows needed per half-hour over the shared pool against those open, the windows to open or release;
    with the day's rota (`rostered`: staff id → duty with a `window_id`; `away`: staff ids on leave) also who
    is there to open more with."""
    settings = demand.settings_of(cfg)
    usual = demand.service_rates(cfg, settings)
    slots = demand.open_slots(cfg)
    target = target_of(cfg)
    minute = now.hour * 60 + now.minute + now.second / 60
    current = int(minute // demand.SLOT_MINUTES * demand.SLOT_MINUTES)
    today = now.date().isoformat()
    with_services = {s.category_id for s in cfg.services}
    themes = [c for c in cfg.categories if c.id in with_services]
    open_today = is_open_day(now.date(), cfg.hours)

    arrived: dict[tuple[str, int], int] = {}
    calls: dict[tuple[str, int], dict[str, int]] = {}  # (window, slot) -> calls per theme
    for t in hall.tickets.values():
        if t.day != today:
            continue
        cat = _category(cfg, t.service_id, t.category_id)
        key = (cat, _slot(t.issued_at))
        arrived[key] = arrived.get(key, 0) + 1
        if t.called_at is not None and t.window_id:
            per = calls.setdefault((t.window_id, _slot(t.called_at)), {})
            per[cat] = per.get(cat, 0) + 1
    skills = {w.id: frozenset(serves(cfg, hall, w.id)) for w in sorted(cfg.windows, key=lambda w: w.number)}
    staffed = {wid: set(skills[wid]) for wid, ws in hall.windows.items()
               if ws.staff_id is not None and ws.state in (WindowState.OPEN, WindowState.SERVING)}
    kinds = sorted(set(skills.values()), key=lambda k: (-len(k), sorted(k)))

    demands, lam_of = {}, {}
    for c in themes:
        d = theme_demand(cfg, settings, c.id, usual)
        # A closed day (weekend, 法定节假日) expects nobody: no window is advised for it.
        usual_c = {s: sum(lam for sid, lam in usual.get(s, {}).items() if cfg.service(sid).category_id == c.id)
                   if open_today else 0.0 for s in slots}
        expected = sum(usual_c[s] / 2 for s in slots if s < current)
        if current in usual_c:
            expected += usual_c[current] * (minute - current) / 60
        actual = sum(n for (cat, s), n in arrived.items() if cat == c.id and s <= current)
        # No ticket at all today means no data (a fresh ledger, the CLI without --db): forecast the usual day.
        ratio = (actual + PRIOR_TICKETS) / (expected + PRIOR_TICKETS) if arrived else 1.0
        demands[c.id] = d
        lam_of[c.id] = {s: arrived.get((c.id, s), 0) * 60 / demand.SLOT_MINUTES if s < current else usual_c[s] * ratio
                        for s in slots}

    def sizing(s: int, backlog: Mapping[str, int] | None = None) -> rules.Sizing:
        # A backlog counts as extra arrivals to clear within the half-hour (only to decide a release).
        extra = {c: n * 60 / demand.SLOT_MINUTES for c, n in (backlog or {}).items()}
        return rules.Sizing({c.id: (lam_of[c.id][s] + extra.get(c.id, 0.0), demands[c.id]) for c in themes},
                            skills.values(), target)

    sizings = {s: sizing(s) for s in slots}
    waiting = {c: len(q) for c, q in hall.waiting.items() if q}
    rows: dict[str, list[dict[str, Any]]] = {c.id: [] for c in themes}
    totals = []
    for i, s in enumerate(slots):
        load = {c.id: lam_of[c.id][s] * demands[c.id].mean_min / 60 for c in themes}
        if s < current:
            share = _past_share(calls, s)
            open_: dict[str, float] = {c.id: round(share.get(c.id, 0.0), 1) for c in themes}
            can = {c.id: sum(1 for (wid, slot), per in calls.items() if slot == s and c.id in per) for c in themes}
            working = {wid: skills.get(wid, frozenset()) for (wid, slot) in calls if slot == s}
            horizon = [sizings[s]]
        else:
            open_ = dict(allocate({c: math.ceil(x - 1e-9) for c, x in load.items()}, staffed, load))
            can = {c.id: sum(1 for cats in staffed.values() if c.id in cats) for c in themes}
            working = {wid: skills[wid] for wid in staffed}
            horizon = [sizings[x] for x in slots[i:] if x < s + ADVICE_SLOTS * demand.SLOT_MINUTES]
            if s == current and waiting:
                horizon.append(sizing(s, waiting))
        closed = {wid: k for wid, k in skills.items() if wid not in working}
        p = rules.plan(horizon, working, closed, kinds)
        shared_wq: dict[str, float | None] = {}
        if s >= current:
            shared_wq = _shared_special(cfg, staffed, themes, demands, {c: lam[s] for c, lam in lam_of.items()},
                                        target.mean_wait_min)
        # A special theme whose window is kept busy by general matters needs a window of its own.
        extra = [c for c in shared_wq if not any(c in skills[w] for w in p.add) and not any(c in k for k in p.new)]
        for c in themes:
            rows[c.id].append({"slot": demand.slot_label(s), "arrivals_per_hour": round(lam_of[c.id][s], 1),
                               "load": round(load[c.id], 1), "windows_open": open_[c.id],
                               "windows_may_serve": can[c.id], "short": c.id in p.short_themes or c.id in shared_wq,
                               **({"shared_wq_min": shared_wq[c.id]} if c.id in shared_wq else {})})
        totals.append({"slot": demand.slot_label(s), "past": s < current,
                       "windows_needed": p.needed + len(extra), "windows_open": len(working),
                       "short": len(p.add) + len(p.new) + len(extra), "spare": len(p.release),
                       "open_windows": [_number(cfg, w) for w in p.add],
                       "new_windows": [_names(cfg, k) for k in p.new] + [_names(cfg, {c}) for c in extra],
                       "release_windows": [_number(cfg, w) for w in p.release]})

    out_themes = [{"category_id": c.id, "name": c.name, "general": c.general, "rows": rows[c.id]} for c in themes]
    advice = _advice(out_themes, totals, current, target)
    if not open_today:
        advice = ["今日大厅不开放（休息日或法定节假日），无需安排窗口。"]
    elif not arrived:
        advice.insert(0, "今日尚无取号记录，按常规客流测算。")
    one = _one_more(cfg, hall, staffed, demands, {c: lam[current] for c, lam in lam_of.items() if current in lam})
    if open_today:
        advice.append(_one_more_line(one))
    people = _people(cfg, hall, rostered, away) if rostered is not None else None
    if people is not None:
        advice.append(_people_line(people, any(t["short"] > 0 for t in totals if not t["past"])))
    return {"generated_at": now.isoformat(), "target_wait_minutes": target.mean_wait_min,
            "target": {"mean_wait_minutes": target.mean_wait_min,
                       "service_level_percent": None if target.level is None else target.level * 100,
                       "service_level_minutes": target.within_min, "text": target.text()},
            "themes": out_themes, "slots": totals, "advice": advice, "one_more_window": one, "people": people}


def _number(cfg: HallConfig, window_id: str) -> int | str:
    w = cfg.window(window_id)
    return w.number if w else window_id


def _names(cfg: HallConfig, themes: Iterable[str]) -> list[str]:
    return [c.name for c in cfg.categories if c.id in set(themes)]


def _people(cfg: HallConfig, hall: Hall, rostered: Mapping[str, Any], away: Iterable[str]) -> dict[str, Any]:
    """Who the hall can count on today: rostered (排班, leave taken off), of them signed in, and those rostered
    but not at a window — the only people more windows can be opened with; who is on leave."""
    signed = {ws.staff_id for ws in hall.windows.values() if ws.staff_id is not None}
    def person(sid: str, window_id: str | None = None) -> dict[str, Any]:
        st = cfg.staff_member(sid)
        w = cfg.window(window_id) if window_id else None
        return {"staff_id": sid, "name": st.name if st else sid, "window_id": window_id,
                "window_number": w.number if w else None}
    return {"rostered": len(rostered), "signed_in": len(signed & set(rostered)),
            "available": [person(sid, duty.window_id) for sid, duty in rostered.items() if sid not in signed],
            "on_leave": [person(sid) for sid in away]}


def _people_line(people: dict[str, Any], short: bool) -> str:
    free = "、".join(f"{p['name']}（{p['window_number']}号窗口）" for p in people["available"])
    line = f"今日排班{people['rostered']}人，已签到{people['signed_in']}人"
    if people["on_leave"]:
        line += f"，请假{len(people['on_leave'])}人（{'、'.join(p['name'] for p in people['on_leave'])}）"
    if free:
        return line + f"；尚未上岗可调配：{free}。"
    return line + ("；排班人员均已在岗，增开窗口须调配B岗或安排加班。" if short else "；排班人员均已在岗。")


def _shared_special(cfg: HallConfig, staffed: dict[str, set[str]], themes: Iterable[Any],
                    demands: dict[str, ThemeDemand], rates: dict[str, float], target: float) -> dict[str, float | None]:
    """Special themes whose only windows also take general matters, with their estimated wait when over target.

    Routing lets such a window (e.g. 跨省通办 also listing 户籍迁移) call the general queue's longest waiter, so
    is about as busy as the general pool (or busier, with its own load); the theme's own citizens then wait as
    in a queue of that occupancy: Allen–Cunneen with the arrivals raised to give it.
    """
    general = {c.id for c in cfg.categories if c.general}
    pool = [wid for wid, cats in staffed.items() if cats & general and _mode(cfg, wid) != "special"]
    offered = sum(rates[c] * demands[c].mean_min / 60 for c in rates if c in general)
    busy = min(0.99, offered / len(pool)) if pool else 0.99
    out: dict[str, float | None] = {}
    for theme in themes:
        if theme.general or rates.get(theme.id, 0) <= 0:
            continue
        own = [wid for wid, cats in staffed.items() if theme.id in cats and _mode(cfg, wid) == "special"]
        if not own or not all(staffed[wid] & general for wid in own):
            continue
        d = demands[theme.id]
        wq = _wq_min(max(rates[theme.id], busy * len(own) * 60 / d.mean_min), d, len(own))
        if wq is None or wq > target:
            out[theme.id] = wq
    return out


def serves(cfg: HallConfig, hall: Hall, window_id: str) -> set[str]:
    """Themes a window may serve: its routing categories, plus the themes of the matters a special window lists."""
    w = cfg.window(window_id)
    listed = {cfg.service(sid).category_id for sid in (w.services if w else ()) if cfg.service(sid)}
    return set(hall.weights(window_id)) | listed


def _category(cfg: HallConfig, service_id: str, fallback: str) -> str:
    s = cfg.service(service_id)
    return s.category_id if s else fallback


def _slot(t: datetime) -> int:
    return (t.hour * 60 + t.minute) // demand.SLOT_MINUTES * demand.SLOT_MINUTES


def _past_share(calls: dict[tuple[str, int], dict[str, int]], slot: int) -> dict[str, float]:
    """Window-equivalents per theme in a past half-hour: each calling window split by its share of calls."""
    out: dict[str, float] = {}
    for (_, s), per in calls.items():
        if s == slot:
            n = sum(per.values())
            for cat, k in per.items():
                out[cat] = out.get(cat, 0.0) + k / n
    return out


def _advice(themes: list[dict[str, Any]], totals: list[dict[str, Any]], current: int,
            target: rules.Target) -> list[str]:
    """One line per short half-hour of the next three (which windows to open, which themes miss the
    target), the special windows' notes once; or, when none is short, the windows that can be released."""
    out, special, shared = [], [], {}
    horizon = [(i, t) for i, t in enumerate(totals)
               if current <= demand.parse_slot(t["slot"]) < current + ADVICE_SLOTS * demand.SLOT_MINUTES]
    for i, total in horizon:
        if total["short"] <= 0:
            continue
        end = demand.slot_label(demand.parse_slot(total["slot"]) + demand.SLOT_MINUTES)
        names = []
        for theme in themes:
            row = theme["rows"][i]
            if row["short"]:
                names.append(theme["name"])
                if not theme["general"] and theme["name"] not in special:
                    special.append(theme["name"])
            if "shared_wq_min" in row and theme["name"] not in shared:
                shared[theme["name"]] = row["shared_wq_min"]
        how = []
        if total["open_windows"]:
            how.append("开启" + "、".join(f"{n}号" for n in total["open_windows"]) + "窗口")
        for kind in total["new_windows"]:
            how.append(f"另设1个可办理{'、'.join(kind)}的窗口")
        out.append(f"{total['slot']}–{end} 需增开{total['short']}个窗口（共需{total['windows_needed']}个，"
                   f"在岗{total['windows_open']}个）：" + "，".join(how) +
                   (f"；未达目标：{'、'.join(names)}" if names else "") + "。")
    for name, wq in shared.items():
        wait = f"约{_show(wq)}分钟" if wq is not None and wq <= LONG_WAIT_MIN else "持续增长"
        out.append(f"{name}的专窗也办理综合类事项，{name}群众等候{wait}：建议该专窗暂停办理综合类事项，"
                   f"或增开1个{name}窗口。")
    if special:
        out.append("、".join(special) + "须由专窗（或授权的窗口）办理；综合窗口按各主题缺口统一调配。")
    if out or not horizon:
        return out
    now = horizon[0][1]
    if now["spare"]:
        # plan() checked the release against every half-hour of the horizon and the people waiting now.
        out.append(f"窗口有富余：{now['windows_needed']}个窗口即可满足{target.text()}的目标，"
                   f"可释放{now['spare']}个窗口（" + "、".join(f"{n}号" for n in now["release_windows"]) +
                   "），可转作B岗、帮办或轮休。")
    else:
        out.append(f"当前窗口配置可满足{target.text()}的目标。")
    return out


def _one_more(cfg: HallConfig, hall: Hall, staffed: dict[str, set[str]], demands: dict[str, ThemeDemand],
              rates: dict[str, float]) -> dict[str, Any]:
    """The general themes as one pooled queue now, with the signed-in general windows and with one more.

    Steady state (Allen–Cunneen Wq, `None` when the pool cannot keep up) and the transient the people already
    waiting cause: the backlog clears at (cμ − λ) per minute, and a citizen taking a number now waits for the
    backlog ahead of them, about (backlog + 1) services spread over c windows.
    """
    general = {c.id for c in cfg.categories if c.general}
    c = sum(1 for wid, cats in staffed.items() if cats & general and _mode(cfg, wid) != "special")
    lam = sum(r for cat, r in rates.items() if cat in general)  # per hour
    pooled = mixture((r, demands[cat].mean_min, demands[cat].cs2) for cat, r in rates.items() if cat in general)
    mean = pooled.mean_min
    backlog = sum(len(q) for cat, q in hall.waiting.items() if cat in general)
    offered = lam * mean / 60  # Erlangs

    def figures(n: int) -> dict[str, float | None]:
        stable = n > offered
        return {"wq": (_wq_min(lam, pooled, n) if lam > 0 else 0.0) if n else None,
                "clear": round(backlog / (n / mean - lam / 60), 1) if stable and n else None,
                "next": round((backlog + 1) * mean / n, 1) if backlog and n else (_wq_min(lam, pooled, n) if n else None)}

    now_, more = figures(c), figures(c + 1)
    return {"windows": c, "arrivals_per_hour": round(lam, 1), "capacity_per_hour": round(c * 60 / mean, 1),
            "backlog": backlog, "stable": c > offered, "windows_for_stability": math.floor(offered) + 1,
            "current_wq_min": now_["wq"], "with_one_more_wq_min": more["wq"],
            "clear_backlog_min": now_["clear"], "clear_backlog_with_one_more_min": more["clear"],
            "next_wait_min": now_["next"], "next_wait_with_one_more_min": more["next"]}


def _mode(cfg: HallConfig, window_id: str) -> str:
    w = cfg.window(window_id)
    return w.mode if w else ""


def _one_more_line(one: dict[str, Any]) -> str:
    """Always one line on the pooled general windows: unstable said plainly, else the gain of one more."""
    c, lam, q = one["windows"], one["arrivals_per_hour"], one["backlog"]
    waiting = f"现排队{q}人，" if q else ""
    if lam <= 0 and not q:
        return "综合窗口池：当前时段预计无人到达、无人排队，无需增开。"
    if not one["stable"]:
        add = one["windows_for_stability"] - c
        more = ("增开1个即可稳定，" + f"此后平均等候约{_show(one['with_one_more_wq_min'])}分钟。") if add == 1 else \
            f"增开1个仍不够，需至少增开{add}个。"
        return (f"综合窗口池不足：预计每小时到达{lam:g}人，在岗{c}个窗口每小时最多办理约{one['capacity_per_hour']:g}人，"
                f"{waiting}队伍将持续增长；" + more)
    line = f"若现在增开1个综合窗口：{waiting}"
    if q:
        line += (f"积压清空约由{_show(one['clear_backlog_min'])}分钟缩短到{_show(one['clear_backlog_with_one_more_min'])}分钟，"
                 f"新取号群众等候约由{_show(one['next_wait_min'])}分钟降至{_show(one['next_wait_with_one_more_min'])}分钟；")
    return line + f"平均等候约由{_show(one['current_wq_min'])}分钟降至{_show(one['with_one_more_wq_min'])}分钟（稳态）。"


def _show(v: float | None) -> str:
    return "无穷（窗口不足，队伍持续增长）" if v is None else f"{v:g}"
