"""Figures of a simulated day: waits per theme and per window, utilisation, queue length — as text, CSV and PNG."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hall_controller.core.model import TicketStatus
from hall_controller.features.simulation.simulate import (
    VARIANTS,
    Result,
)

FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")
COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


@dataclass(frozen=True)
class Waits:
    n: int
    mean_min: float
    p90_min: float
    within_target: float  # share of tickets called within the hall's target wait (unserved ones never are)


def waits(minutes: Sequence[float], target: float) -> Waits:
    if not minutes:
        return Waits(0, 0.0, 0.0, 1.0)
    ordered = sorted(minutes)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return Waits(len(ordered), sum(ordered) / len(ordered), p90, sum(1 for m in ordered if m <= target) / len(ordered))


def wait_minutes(result: Result) -> dict[str, list[tuple[str, str | None, float]]]:
    """Per category: (ticket id, calling window, wait in minutes) of every ticket of the day.

    A ticket never called (the windows closed with it still waiting) counts its wait up to the end of the run:
    a censored value, a lower bound of what it would have waited, so an overloaded set-up cannot look better
    by leaving its longest waiters out; means and percentiles with such tickets are lower bounds too.
    """
    out: dict[str, list[tuple[str, str | None, float]]] = {}
    end = result.start + timedelta(seconds=result.end_s)
    for t in result.hall.tickets.values():
        if t.called_at is not None or t.status == TicketStatus.WAITING:
            cat = result.config.service(t.service_id).category_id
            out.setdefault(cat, []).append((t.id, t.window_id, ((t.called_at or end) - t.issued_at).total_seconds() / 60))
    return out


def unserved(result: Result) -> int:
    return sum(1 for t in result.hall.tickets.values() if t.status == TicketStatus.WAITING)


@dataclass(frozen=True)
class EstimateError:
    n: int  # tickets called, estimated at issue with a window staffed
    mean_wait_min: float
    mean_abs_error_min: float  # per ticket
    mean_error_min: float  # per ticket, signed: estimate − actual (negative = too hopeful)
    slot_abs_error_min: float  # per theme and half-hour of issue: |mean estimate − mean wait|, ticket-weighted
    no_wait_with_people_ahead: int  # "无需等候" shown to someone with people ahead (must be 0)
    no_window: int  # tickets told "暂无窗口办理"

    @property
    def relative(self) -> float:
        return self.mean_abs_error_min / self.mean_wait_min if self.mean_wait_min else 0.0

    @property
    def slot_relative(self) -> float:
        return self.slot_abs_error_min / self.mean_wait_min if self.mean_wait_min else 0.0


def estimate_error(result: Result) -> EstimateError:
    """The kiosk's estimate at issue (run(..., estimates=True)) against the wait the ticket then had."""
    slots: dict[tuple[str, int], list[tuple[float, float]]] = {}
    no_window = wrong = 0
    for tid, est in result.estimates.items():
        if est.ahead > 0 and est.short == "无需等候":
            wrong += 1
        t = result.hall.tickets[tid]
        if est.wait_s is None:
            no_window += 1
        elif t.called_at is not None:
            waited = (t.called_at - t.issued_at).total_seconds() / 60
            slot = t.issued_at.hour * 2 + t.issued_at.minute // 30
            slots.setdefault((t.category_id, slot), []).append((est.wait_s / 60, waited))
    pairs = [p for rows in slots.values() for p in rows]
    n = len(pairs)
    if not n:
        return EstimateError(0, 0.0, 0.0, 0.0, 0.0, wrong, no_window)
    slot_error = sum(abs(sum(e for e, _ in rows) - sum(w for _, w in rows)) for rows in slots.values())
    return EstimateError(n, sum(w for _, w in pairs) / n, sum(abs(e - w) for e, w in pairs) / n,
                         sum(e - w for e, w in pairs) / n, slot_error / n, wrong, no_window)


def closed_themes(result: Result) -> dict[str, int]:
    """Themes none of whose windows opened all day -> their tickets: unserved for that reason, not for load."""
    issued: dict[str, list] = {}
    for t in result.hall.tickets.values():
        issued.setdefault(t.category_id, []).append(t)
    out = {}
    for c in result.config.categories:
        tickets = issued.get(c.id, [])
        if tickets and not any(result.windows[w].open_s > 0 for t in tickets for w in result.hall.windows_serving(t)):
            out[c.name] = len(tickets)
    return out


def theme_rows(result: Result) -> list[dict[str, object]]:
    cfg, target = result.config, result.config.queue.target_wait_minutes
    by_cat = wait_minutes(result)
    counts: dict[tuple[str, str], int] = {}
    for t in result.hall.tickets.values():
        cat = cfg.service(t.service_id).category_id
        counts[(cat, t.status.value)] = counts.get((cat, t.status.value), 0) + 1
    rows = []
    for c in cfg.categories:
        issued = sum(n for (cat, _), n in counts.items() if cat == c.id)
        if not issued and not result.turned_away.get(c.id) and not result.outside_hours.get(c.id):
            continue
        w = waits([m for _, _, m in by_cat.get(c.id, [])], target)
        rows.append({"category_id": c.id, "theme": c.name, "issued": issued,
                     "served": counts.get((c.id, TicketStatus.FINISHED.value), 0),
                     "no_show": counts.get((c.id, TicketStatus.NO_SHOW.value), 0),
                     "unserved": counts.get((c.id, TicketStatus.WAITING.value), 0),
                     "turned_away": result.turned_away.get(c.id, 0),
                     "outside_hours": result.outside_hours.get(c.id, 0),
                     "mean_wait_min": round(w.mean_min, 2), "p90_wait_min": round(w.p90_min, 2),
                     "within_target": round(w.within_target, 3)})
    return rows


def overall(result: Result) -> Waits:
    return waits([m for rows in wait_minutes(result).values() for _, _, m in rows],
                 result.config.queue.target_wait_minutes)


def window_rows(result: Result) -> list[dict[str, object]]:
    target = result.config.queue.target_wait_minutes
    by_window: dict[str, list[float]] = {}
    for rows in wait_minutes(result).values():
        for _, wid, m in rows:
            by_window.setdefault(wid, []).append(m)
    out = []
    for w in result.config.windows:
        rec = result.windows[w.id]
        if rec.open_s <= 0:
            continue
        ws = waits(by_window.get(w.id, []), target)
        out.append({"window_id": w.id, "window": w.name, "served": rec.served, "no_show": rec.no_shows,
                    "mean_wait_min": round(ws.mean_min, 2), "p90_wait_min": round(ws.p90_min, 2),
                    "within_target": round(ws.within_target, 3),
                    "utilisation": round(min(1.0, rec.busy_s / rec.open_s), 3),
                    "idle_while_waiting": round(rec.idle_while_waiting_s / rec.open_s, 3)})
    return out


def queue_rows(result: Result) -> list[dict[str, object]]:
    cats = [c.id for c in result.config.categories]
    return [{"time": _clock(s), **{c: counts.get(c, 0) for c in cats}, "total": sum(counts.values())}
            for s, counts in result.queue]


def queue_table_rows(result: Result) -> list[dict[str, object]]:
    """Waiting tickets per theme on each hour (themes that ever had a queue): the chart as a compact table."""
    names = {c.id: c.name for c in result.config.categories}
    cats = [c for c in names if any(counts.get(c) for _, counts in result.queue)]
    return [{"time": _clock(s), **{names[c]: counts.get(c, 0) for c in cats}, "全部": sum(counts.values())}
            for s, counts in result.queue if s % 3600 == 0]


def compare_rows(results: dict[str, Result]) -> list[dict[str, object]]:
    """One row per theme and variant, plus an "all" row per variant, with the hall's idle-while-waiting."""
    out = []
    for name, r in results.items():
        open_s = sum(rec.open_s for rec in r.windows.values()) or 1.0
        iww = sum(rec.idle_while_waiting_s for rec in r.windows.values()) / open_s
        for row in theme_rows(r):
            out.append({"variant": name, "theme": row["theme"], "mean_wait_min": row["mean_wait_min"],
                        "p90_wait_min": row["p90_wait_min"], "within_target": row["within_target"],
                        "unserved": row["unserved"], "idle_while_waiting": ""})
        w = overall(r)
        out.append({"variant": name, "theme": "全部", "mean_wait_min": round(w.mean_min, 2),
                    "p90_wait_min": round(w.p90_min, 2), "within_target": round(w.within_target, 3),
                    "unserved": unserved(r),
                    "idle_while_waiting": round(iww, 3)})
    return out


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


# ---------------------------------------------------------------------------------------------- text and CSV

def table(rows: list[dict[str, object]]) -> str:
    """A plain fixed-width table (CJK characters count double)."""
    if not rows:
        return "(none)"
    cols = list(rows[0])
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(_width(c), *(_width(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(_pad(c, widths[i]) for i, c in enumerate(cols)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(v, widths[i]) for i, v in enumerate(row)) for row in cells]
    return "\n".join(lines)


def _fmt(v: object) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _width(s: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


# ---------------------------------------------------------------------------------------------- charts

def _font(size: int) -> ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


class _Canvas:
    """A white image with a plot area, axes, ticks and a legend."""

    def __init__(self, title: str, y_label: str, width: int = 1100, height: int = 560):
        self.img = Image.new("RGB", (width, height), "white")
        self.d = ImageDraw.Draw(self.img)
        self.font, self.small = _font(18), _font(14)
        self.left, self.right, self.top, self.bottom = 80, width - 220, 50, height - 60
        self.d.text((self.left, 12), title, fill="black", font=self.font)
        self.d.text((10, self.top - 24), y_label, fill="black", font=self.small)

    def axes(self, y_max: float) -> float:
        step = _nice_step(y_max / 5)
        top = step * math.ceil(y_max / step) if y_max > 0 else step
        for i in range(int(round(top / step)) + 1):
            y = self.y(i * step, top)
            self.d.line((self.left, y, self.right, y), fill=(225, 225, 225))
            self.d.text((self.left - 8, y), f"{i * step:g}", fill="black", font=self.small, anchor="rm")
        self.d.line((self.left, self.top, self.left, self.bottom), fill="black")
        self.d.line((self.left, self.bottom, self.right, self.bottom), fill="black")
        return top

    def y(self, v: float, top: float) -> float:
        return self.bottom - (self.bottom - self.top) * v / top

    def legend(self, names: Sequence[str]) -> None:
        for i, name in enumerate(names):
            y = self.top + 10 + i * 24
            self.d.rectangle((self.right + 20, y, self.right + 36, y + 14), fill=COLOURS[i % len(COLOURS)])
            self.d.text((self.right + 44, y - 2), name, fill="black", font=self.small)


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def queue_chart(result: Result, path: Path, title: str = "等候人数（按主题）") -> None:
    """Waiting tickets per theme over the day (PNG)."""
    names = {c.id: c.name for c in result.config.categories}
    cats = [c for c in names if any(counts.get(c) for _, counts in result.queue)]
    cv = _Canvas(title, "人")
    if not result.queue or not cats:
        cv.img.save(path)
        return
    t0, t1 = result.queue[0][0], max(result.queue[-1][0], result.queue[0][0] + 1)
    top = cv.axes(max(max(counts.get(c, 0) for c in cats) for _, counts in result.queue))

    def x(s: float) -> float:
        return cv.left + (cv.right - cv.left) * (s - t0) / (t1 - t0)

    hour = math.ceil(t0 / 3600) * 3600
    while hour <= t1:
        cv.d.line((x(hour), cv.bottom, x(hour), cv.bottom + 5), fill="black")
        cv.d.text((x(hour), cv.bottom + 8), _clock(hour), fill="black", font=cv.small, anchor="mt")
        hour += 3600
    for i, c in enumerate(cats):
        points = [(x(s), cv.y(counts.get(c, 0), top)) for s, counts in result.queue]
        cv.d.line(points, fill=COLOURS[i % len(COLOURS)], width=2)
    cv.legend([names[c] for c in cats])
    cv.img.save(path)


def compare_chart(results: dict[str, Result], path: Path) -> None:
    """Mean wait (bar) and p90 wait (tick) per theme for each routing variant, same day (PNG)."""
    rows = compare_rows(results)
    themes = list(dict.fromkeys(str(r["theme"]) for r in rows))
    variants = list(results)
    cv = _Canvas("同一天、三种窗口配置：平均等候（柱）与 90% 分位等候（横线），分钟", "分钟")
    top = cv.axes(max(float(r["p90_wait_min"]) for r in rows) or 1)
    group = (cv.right - cv.left) / len(themes)
    bar = group * 0.8 / len(variants)
    for ti, theme in enumerate(themes):
        gx = cv.left + ti * group + group * 0.1
        cv.d.text((gx + group * 0.4, cv.bottom + 8), theme, fill="black", font=cv.small, anchor="mt")
        for vi, v in enumerate(variants):
            r = next(r for r in rows if r["variant"] == v and r["theme"] == theme)
            x0, colour = gx + vi * bar, COLOURS[vi % len(COLOURS)]
            cv.d.rectangle((x0 + 2, cv.y(float(r["mean_wait_min"]), top), x0 + bar - 2, cv.bottom), fill=colour)
            y90 = cv.y(float(r["p90_wait_min"]), top)
            cv.d.line((x0 + 2, y90, x0 + bar - 2, y90), fill="black", width=3)
    cv.legend([VARIANTS.get(v, v) for v in variants])
    cv.img.save(path)
