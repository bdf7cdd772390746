"""Training curves as a small self-contained SVG, drawn by hand: the picture
:func:`chainrule.viz.curves.plot_history` writes when matplotlib is not installed.

A panel is ``(title, [(label, values), ...])``: one polyline per series against the epoch
(1..n), with a value grid, epoch labels and a legend.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write

__all__ = ["Panel", "plot_svg"]

#: (title, [(label, values per epoch)]).
Panel = tuple[str, Sequence[tuple[str, Sequence[float]]]]

_W, _H = 420, 300  # one panel
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 15, 30, 45
_COLORS = {"train": "#1f77b4", "validation": "#ff7f0e"}


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if raw <= m * step)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


@dataclass
class _Frame:
    """Maps epoch numbers (1..n) and values (lo..hi) to SVG coordinates of one panel."""

    x0: float
    n: int
    lo: float
    hi: float
    pw: float = _W - _LEFT - _RIGHT
    ph: float = _H - _TOP - _BOTTOM

    def sx(self, i: float) -> float:
        return self.x0 + _LEFT + (self.pw * (i - 1) / (self.n - 1) if self.n > 1 else self.pw / 2)

    def sy(self, v: float) -> float:
        return _TOP + self.ph * (self.hi - v) / (self.hi - self.lo)


def _svg_axes(f: _Frame, title: str) -> list[str]:
    """Title, frame, value grid with labels, epoch labels."""
    left, right = f.x0 + _LEFT, f.x0 + _LEFT + f.pw
    out = [f'<text x="{f.x0 + _W / 2}" y="18" text-anchor="middle" font-weight="bold">'
           f"{html.escape(title)}</text>",
           f'<rect x="{left}" y="{_TOP}" width="{f.pw}" height="{f.ph}" fill="none" '
           'stroke="#444"/>']
    for t in _ticks(f.lo, f.hi):
        y = f.sy(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{t:.4g}</text>')
    for t in _ticks(1, max(f.n, 1)):
        if float(t).is_integer():
            out.append(f'<text x="{f.sx(t):.1f}" y="{_TOP + f.ph + 15}" '
                       f'text-anchor="middle">{int(t)}</text>')
    out.append(f'<text x="{left + f.pw / 2}" y="{_H - 8}" text-anchor="middle">epoch</text>')
    return out


def _svg_series(f: _Frame, series: Sequence[tuple[str, Sequence[float]]]) -> list[str]:
    """One polyline per series, and a legend where the curves are not: top right for
    falling curves (loss), bottom right for rising ones (accuracy)."""
    first, last = series[0][1][0], series[0][1][-1]
    legend_top = _TOP + 15 if not last > first else _TOP + f.ph - 10 - 16 * (len(series) - 1)
    out = []
    for k, (label, vs) in enumerate(series):
        color = _COLORS.get(label, "#2ca02c")
        pts = " ".join(f"{f.sx(i + 1):.1f},{f.sy(v):.1f}" for i, v in enumerate(vs)
                       if math.isfinite(v))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        ly, lx = legend_top + 16 * k, f.x0 + _W - 110
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 25}" y="{ly}">{html.escape(label)}</text>')
    return out


def _svg_panel(x0: float, title: str, series: Sequence[tuple[str, Sequence[float]]]) -> list[str]:
    values = [v for _, vs in series for v in vs if math.isfinite(v)] or [0.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    frame = _Frame(x0, max(len(vs) for _, vs in series), lo - pad, hi + pad)
    return _svg_axes(frame, title) + _svg_series(frame, series)


def plot_svg(panels: Sequence[Panel], path: Path) -> Path:
    """Write ``panels`` side by side (one 420 x 300 panel each) to ``path`` as SVG."""
    body: list[str] = []
    for k, (title, series) in enumerate(panels):
        body.extend(_svg_panel(k * _W, title, series))
    width = _W * len(panels)
    svg = "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_H}" '
        f'viewBox="0 0 {width} {_H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{_H}" fill="white"/>',
        *body,
        "</svg>",
        "",
    ])
    with atomic_write(path) as f:
        f.write(svg.encode("utf-8"))
    return path
