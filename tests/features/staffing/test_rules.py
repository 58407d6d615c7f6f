"""Pooled staffing over the skill matrix (`staffing.rules`): properties for any hall, and the audit's case
checked by the simulator."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hall_controller.features.simulation.simulate import Arrival, Day, run, working_day
from hall_controller.features.staffing import rules, theory
from tests.features.simulation.test_simulate import interval, three_theme_hall

THEMES = "abcd"
EXP6 = rules.ThemeDemand(6.0, 1.0)

demands = st.builds(rules.ThemeDemand, st.sampled_from([3.0, 6.0, 10.0, 25.0]), st.sampled_from([0.5, 1.0, 2.56]))
loads = st.dictionaries(st.sampled_from(THEMES), st.tuples(st.floats(0, 60), demands), min_size=1)
skill = st.frozensets(st.sampled_from(THEMES), min_size=1, max_size=4)
targets = st.one_of(st.builds(rules.Target, st.sampled_from([5.0, 15.0])),
                    st.builds(rules.Target, st.just(15.0), st.sampled_from([0.8, 0.9]), st.sampled_from([5.0, 10.0])))


def deficit(z: rules.Sizing, windows) -> int:
    return z.deficit(z.reach(windows))


@settings(max_examples=150, deadline=None)
@given(loads, st.lists(skill, max_size=8), st.lists(skill, max_size=10), targets)
def test_the_plan_meets_every_pool_or_releases_only_what_is_spare(load, open_skills, closed_skills, target):
    kinds = [frozenset(THEMES)] + [frozenset(k) for k in THEMES]
    z = rules.Sizing(load, [*open_skills, *closed_skills, *kinds], target)
    open_ = {f"o{i}": k for i, k in enumerate(open_skills)}
    closed = {f"c{i}": k for i, k in enumerate(closed_skills)}
    p = rules.plan([z], open_, closed, kinds)
    after = [k for w, k in open_.items() if w not in p.release] + [closed[w] for w in p.add] + list(p.new)
    assert deficit(z, after) == 0  # every set of themes that shares windows meets the target
    assert set(p.add) <= set(closed) and set(p.release) <= set(open_)
    assert not (p.release and (p.add or p.new))  # never both open and release
    assert p.needed == len(after)
    if deficit(z, open_.values()) == 0:
        assert not p.add and not p.new and not p.short_themes
    else:
        assert p.short_themes and not p.release


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.5, 80), min_size=1, max_size=4), targets)
def test_one_comprehensive_pool_is_pooled_erlang_c_and_never_needs_more_than_dedicated(rates, target):
    load = {THEMES[i]: (lam, EXP6) for i, lam in enumerate(rates)}
    everyone = frozenset(load)
    pooled = rules.plan([rules.Sizing(load, [everyone], target)], {}, {f"c{i}": everyone for i in range(80)})
    assert pooled.needed == rules.pooled_windows(load.values(), target)
    if target.level is None:  # exponential services: Erlang C exactly
        assert pooled.needed == theory.windows_needed(sum(rates) / 60, 1 / 6, target_wq=target.mean_wait_min)
    dedicated = rules.plan([rules.Sizing(load, [frozenset(k) for k in load], target)], {},
                           {f"{k}{i}": frozenset(k) for k in load for i in range(40)})
    assert pooled.needed <= dedicated.needed == sum(rules.pooled_windows([x], target) for x in load.values())


@settings(max_examples=60, deadline=None)
@given(st.floats(1, 60), st.floats(1, 60))
def test_a_release_holds_for_every_half_hour_it_is_checked_against(now, later):
    everyone = frozenset("ab")
    z_now = rules.Sizing({"a": (now, EXP6), "b": (now, EXP6)}, [everyone], rules.Target(15))
    z_later = rules.Sizing({"a": (later, EXP6), "b": (later, EXP6)}, [everyone], rules.Target(15))
    open_ = {f"o{i}": everyone for i in range(30)}
    p = rules.plan([z_now, z_later], open_, {})
    left = [k for w, k in open_.items() if w not in p.release]
    assert deficit(z_now, left) == 0 and deficit(z_later, left) == 0
    # One pool: what is left is the busier half-hour's pooled need, no more.
    assert len(left) == max(rules.pooled_windows([(x, EXP6), (x, EXP6)], rules.Target(15)) for x in (now, later))


def test_a_special_theme_needs_its_own_window_even_in_a_big_pool():
    load = {"a": (100.0, EXP6), "s": (1.0, rules.ThemeDemand(20.0, 1.0))}  # M/M/1 for s: 10 min
    general, special = frozenset("a"), frozenset("s")
    z = rules.Sizing(load, [general, special], rules.Target(15))
    p = rules.plan([z], {f"g{i}": general for i in range(20)}, {"s1": special, "g21": general})
    assert p.add == ("s1",) and p.short_themes == {"s"}
    p = rules.plan([z], {f"g{i}": general for i in range(20)}, {}, [general, special])
    assert p.new == (special,)


def test_the_audit_s_three_themes_on_thirteen_windows_meet_the_target_in_simulation():
    """Three themes × 40/h, 6-minute exponential services: the old per-theme sum said 15 (open 2 more); the
    pool needs 13 (Erlang C 4.23 min, 87 % within 10 min). The simulator, 5 replications of 12 hours on
    13 comprehensive windows, agrees with Erlang C and meets the target."""
    target = rules.Target(15, 0.8, 10)
    load = {k: (40.0, EXP6) for k in "abc"}
    everyone = frozenset("abc")
    p = rules.plan([rules.Sizing(load, [everyone], target)], {f"w{i}": everyone for i in range(13)}, {})
    assert p.needed == 13 and not p.add and not p.release
    assert sum(rules.pooled_windows([x], target) for x in load.values()) == 15
    cfg = three_theme_hall()
    cfg = replace(cfg, windows=cfg.windows[:13])
    means, within = [], []
    for seed in range(1, 6):
        rng = random.Random(seed)
        arrivals, t = [], 0.0
        while (t := t + rng.expovariate(120 / 3600)) < 12 * 3600:
            arrivals.append(Arrival(t, rng.choice("ABC"), None, rng.expovariate(1 / 360), False))
        day = Day(working_day(cfg), tuple(arrivals), {w.id: ((0.0, 13 * 3600),) for w in cfg.windows}, (), 0.0)
        r = run(cfg, day)
        waits = [(x.called_at - x.issued_at).total_seconds() / 60 for x in r.hall.tickets.values()
                 if 3600 <= (x.issued_at - r.start).total_seconds() < 12 * 3600]
        means.append(sum(waits) / len(waits))
        within.append(sum(w <= 10 for w in waits) / len(waits))
    mean, half = interval(means)
    assert abs(mean - theory.wq(2, 1 / 6, 13)) <= half, (mean, half)
    assert mean + half < 15 and sum(within) / len(within) >= 0.8
