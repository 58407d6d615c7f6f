"""Windows needed over the shared pool (人手测算的规则): pure, no clock, no database.

A hall's windows form a skill matrix: each window may serve some themes (a 全面综合 window every general
theme, a 分类综合 one its theme and one to overflow to, a special window its own). Sizing each theme on
its own and adding up over-advises by 15–30 %, because a comprehensive window serves whichever theme has
someone waiting. Here the windows are sized as pools:

- for a set S of themes, N(S) is the fewest windows that, serving S's citizens as one queue, meet the
  target (`pooled_windows`: Erlang C with the Allen–Cunneen factor for the pool's service mix);
- the windows are enough when, for every set S, the windows able to serve some theme of S number at least
  N(S) (`shortfall`) — Hall's condition with pooled needs: S's citizens can only be served by those
  windows, and a set of themes that shares windows is one pool. With one comprehensive pool this is
  pooled Erlang C; with dedicated windows, a theme at a time.

`plan` adds the fewest windows (the hall's own closed windows first, the most useful first) until no set is
short, or says which windows can be released while every set still meets the target. Routing weights (a
categorised window preferring its theme 3:1) shift who waits within a pool, not its capacity; the
simulator checks the advice with them (docs/routing.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from hall_controller.features.staffing import theory

MAX_SETS = 4096  # theme sets checked; beyond, the skill sets, their unions and single themes stand in


@dataclass(frozen=True)
class ThemeDemand:
    mean_min: float  # mean service minutes of the mix
    cs2: float  # squared coefficient of variation of the mix's service times (`mixture`)


@dataclass(frozen=True)
class Target:
    """What the hall aims for: a mean wait, and optionally a service level (share within minutes)."""
    mean_wait_min: float
    level: float | None = None  # e.g. 0.8: 80 % of citizens ...
    within_min: float | None = None  # ... called within 10 minutes

    def text(self) -> str:
        out = f"平均等候不超过{self.mean_wait_min:g}分钟"
        if self.level is not None and self.within_min is not None:
            out += f"、{self.level * 100:g}%的群众{self.within_min:g}分钟内叫号"
        return out


def mixture(parts: Iterable[tuple[float, float, float]]) -> ThemeDemand:
    """The service time of a mix of matters, from (share, mean minutes, Cs²) of each: its mean, and its Cs²
    from the second moment, E[S²] = Σ pᵢ mᵢ² (1 + Cs²ᵢ) — matters of different lengths add variability of
    their own, which an average of the Cs² leaves out (其他事务: 3.39, not 2.56)."""
    parts = [(p, m, c) for p, m, c in parts if p > 0]
    total = sum(p for p, _, _ in parts)
    if not total:
        return ThemeDemand(10.0, 1.0)
    mean = sum(p * m for p, m, _ in parts) / total
    second = sum(p * m * m * (1 + c) for p, m, c in parts) / total
    return ThemeDemand(mean, second / (mean * mean) - 1)


def pooled_windows(loads: Iterable[tuple[float, ThemeDemand]], target: Target) -> int:
    """Fewest windows for these (arrivals per hour, demand) as one queue to meet the target.

    G/G/c by Allen–Cunneen: the M/M/c wait scaled by f = (1 + Cs²)/2 (Poisson arrivals), so the mean-wait
    target is target/f in M/M/c terms; the wait beyond zero is taken as exponential with that scaled mean,
    so "x % within t" is the M/M/c service level at t/f. With exponential services f = 1: Erlang C exactly.
    """
    loads = [(lam, d) for lam, d in loads if lam > 0]
    lam = sum(x for x, _ in loads)
    if lam <= 0:
        return 0
    mix = mixture((x, d.mean_min, d.cs2) for x, d in loads)
    f = (1 + mix.cs2) / 2
    has_level = target.level is not None and target.within_min is not None
    return theory.windows_needed(lam / 60, 1 / mix.mean_min, target_wq=target.mean_wait_min / f,
                                 target_sl=target.level if has_level else None,
                                 t=target.within_min / f if has_level else None)


def mean_wait_min(lam_per_hour: float, d: ThemeDemand, windows: int) -> float | None:
    """Allen–Cunneen mean wait of one pool; None when it cannot keep up."""
    if windows < 1:
        return None
    if lam_per_hour <= 0:
        return 0.0
    w = theory.allen_cunneen_wq(lam_per_hour / 60, 1 / d.mean_min, windows, 1.0, d.cs2)
    return None if math.isinf(w) else w


def within_share(lam_per_hour: float, d: ThemeDemand, windows: int, minutes: float) -> float:
    """Share of one pool's citizens called within `minutes` (the same approximation as `pooled_windows`)."""
    if windows < 1:
        return 0.0
    if lam_per_hour <= 0:
        return 1.0
    f = (1 + d.cs2) / 2
    return theory.service_level(lam_per_hour / 60, 1 / d.mean_min, windows, minutes / f)


@dataclass(frozen=True)
class Plan:
    needed: int  # windows that meet the target: open + added − releasable
    add: tuple[str, ...]  # the hall's closed windows to open
    new: tuple[frozenset[str], ...]  # windows beyond the hall's own to set up (their themes), when none is left
    release: tuple[str, ...]  # open windows that may go while every set still meets the target
    short_themes: frozenset[str]  # themes in a set short with the windows open


class Sizing:
    """N(S) of every theme set that matters, for one half-hour's loads, with the adjacency bookkeeping.

    themes: every theme's (arrivals per hour, demand); skills: every window's themes (open, closed and
    the kinds that could be added), which decides which sets of themes can share windows at all.
    """

    def __init__(self, loads: Mapping[str, tuple[float, ThemeDemand]], skills: Iterable[frozenset[str]],
                 target: Target):
        active = sorted(k for k, (lam, _) in loads.items() if lam > 0)
        self._bit = {k: 1 << i for i, k in enumerate(active)}
        self._names = active
        masks = {self.mask(s) for s in skills} - {0}
        need: dict[int, int] = {}
        for s in _theme_sets(len(active), masks):
            n = pooled_windows((loads[active[i]] for i in range(len(active)) if s >> i & 1), target)
            if n:
                need[s] = n
        self.need = need

    def mask(self, themes: Iterable[str]) -> int:
        return sum(self._bit.get(k, 0) for k in set(themes))

    def themes(self, mask: int) -> frozenset[str]:
        return frozenset(k for i, k in enumerate(self._names) if mask >> i & 1)

    def reach(self, windows: Iterable[frozenset[str]]) -> dict[int, int]:
        """Windows able to serve some theme of each set."""
        masks = [self.mask(w) for w in windows]
        return {s: sum(1 for m in masks if m & s) for s in self.need}

    def deficit(self, reach: Mapping[int, int]) -> int:
        return sum(max(0, n - reach[s]) for s, n in self.need.items())

    def gain(self, reach: Mapping[int, int], window: frozenset[str]) -> int:
        """How much one more window of these themes lowers the deficit."""
        m = self.mask(window)
        return sum(1 for s, n in self.need.items() if m & s and reach[s] < n)

    def can_lose(self, reach: Mapping[int, int], window: frozenset[str]) -> bool:
        m = self.mask(window)
        return all(reach[s] > n for s, n in self.need.items() if m & s)


def _theme_sets(n: int, masks: set[int]) -> list[int]:
    """The theme sets to check: every set connected through the windows (a set whose parts share no window
    is not one pool; its parts are checked instead); past MAX_SETS, the windows' skill sets, their
    overlapping pairs' unions and single themes."""
    def connected(s: int) -> bool:
        seen = s & -s
        grown = True
        while grown:
            grown = False
            for m in masks:
                if m & seen and (m & s) & ~seen:
                    seen |= m & s
                    grown = True
        return seen == s

    if n <= 12:
        sets = [s for s in range(1, 1 << n) if connected(s)]
        if len(sets) <= MAX_SETS:
            return sets
    found = {1 << i for i in range(n)} | set(masks) | {a | b for a, b in combinations(masks, 2) if a & b}
    return sorted(found)


def plan(sizings: Sequence[Sizing], open_: Mapping[str, frozenset[str]], closed: Mapping[str, frozenset[str]],
         kinds: Sequence[frozenset[str]] = ()) -> Plan:
    """Windows to open, or to release, so that every half-hour of `sizings` (the first one decides what to
    add; all of them must still hold for a release) meets the target.

    open_: the windows at work, by id, with their themes; closed: the hall's other windows, in the order to
    prefer; kinds: skill sets a new window could have, used only when no closed window helps any more.
    """
    first = sizings[0]
    reach = first.reach(open_.values())
    short = frozenset().union(*(first.themes(s) for s, n in first.need.items() if reach[s] < n))
    add: list[str] = []
    new: list[frozenset[str]] = []
    spare = dict(closed)
    while first.deficit(reach):
        # The window that closes most of the gap; among equals the most flexible, then the hall's order.
        best = max(spare.items(), key=lambda kv: (first.gain(reach, kv[1]), len(kv[1])), default=None)
        if best is not None and first.gain(reach, best[1]):
            wid, skill = best
            del spare[wid]
            add.append(wid)
        else:
            skill = max(kinds, key=lambda k: (first.gain(reach, k), len(k)), default=frozenset())
            if not first.gain(reach, skill):
                break  # nothing that could be opened serves the short themes
            new.append(skill)
        m = first.mask(skill)
        reach = {s: r + (1 if m & s else 0) for s, r in reach.items()}
    release: list[str] = []
    if not add and not new:
        reaches = [z.reach(open_.values()) for z in sizings]
        # Least flexible first: a window that serves fewer themes is the least missed.
        for wid, skill in sorted(open_.items(), key=lambda kv: (len(kv[1]), kv[0])):
            if all(z.can_lose(r, skill) for z, r in zip(sizings, reaches)):
                release.append(wid)
                for z, r in zip(sizings, reaches):
                    m = z.mask(skill)
                    for s in r:
                        if m & s:
                            r[s] -= 1
    return Plan(len(open_) + len(add) + len(new) - len(release), tuple(add), tuple(new), tuple(release), short)
