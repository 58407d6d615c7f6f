"""Small server-side SVG charts for report pages (no JavaScript chart library, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = "'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif"
COLOURS = ("#1f6fb2", "#e07b00", "#3b9c4a")


def bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
         width: int = 760, height: int = 280) -> str:
    """Grouped vertical bars: one group per label, one bar per series, with a legend."""
    left, right, top, bottom = 44, 12, 40, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, values in series for v in values] + [1])
    step = _nice(peak)
    top_value = step * -(-peak // step)
    out = [_head(width, height), _text(width / 2, 22, title, size=15, anchor="middle", weight="bold")]
    for i in range(int(top_value // step) + 1):
        y = top + plot_h - plot_h * (i * step) / top_value
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(_text(left - 6, y + 4, f"{i * step:g}", size=11, anchor="end"))
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.8 / max(1, len(series))
    for g, label in enumerate(labels):
        x0 = left + g * group_w + group_w * 0.1
        for s, (_, values) in enumerate(series):
            v = values[g] if g < len(values) else 0
            h = plot_h * v / top_value
            out.append(f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                       f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}"/>')
        if len(labels) <= 16 or g % 2 == 0:
            out.append(_text(left + g * group_w + group_w / 2, height - bottom + 16, label, size=11, anchor="middle"))
    for s, (name, _) in enumerate(series):
        x = left + s * 110
        out.append(f'<rect x="{x}" y="{height - 18}" width="12" height="12" fill="{COLOURS[s % len(COLOURS)]}"/>')
        out.append(_text(x + 16, height - 8, name, size=12))
    out.append("</svg>")
    return "".join(out)


def hbars(title: str, items: Sequence[tuple[str, float]], unit: str, marker: float | None = None,
          width: int = 760) -> str:
    """Horizontal bars (one per group), with an optional dashed target line."""
    row_h, left, right, top = 24, 200, 60, 40
    height = top + row_h * max(1, len(items)) + 16
    plot_w = width - left - right
    peak = max([v for _, v in items] + [marker or 0, 1])
    out = [_head(width, height), _text(width / 2, 22, title, size=15, anchor="middle", weight="bold")]
    for i, (label, v) in enumerate(items):
        y = top + i * row_h
        w = plot_w * v / peak
        out.append(_text(left - 8, y + 16, label[:14], size=12, anchor="end"))
        out.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{COLOURS[0]}"/>')
        out.append(_text(left + w + 4, y + 16, f"{v:.1f}{unit}", size=11))
    if marker is not None:
        x = left + plot_w * marker / peak
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 12}" stroke="#c0392b" '
                   f'stroke-dasharray="4 3"/>')
        out.append(_text(x + 4, height - 2, f"目标 {marker:g}{unit}", size=11, fill="#c0392b"))
    out.append("</svg>")
    return "".join(out)


def _head(width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}"><rect width="100%" height="100%" fill="#fff"/>')


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", weight: str = "normal",
          fill: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(text)}</text>')


def _nice(peak: float) -> float:
    """A round grid step giving about five lines."""
    raw = peak / 5
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if step >= raw:
            return step
    return 10_000
