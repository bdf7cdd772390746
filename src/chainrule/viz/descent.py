"""Gradient-descent paths drawn on their loss surfaces.

Two pictures, each contour maps with the paths on them and the loss-versus-update curves
beside them, saved as PNG (and optionally animated to GIF):

* :func:`plot_descent_paths` — batch, stochastic and mini-batch gradient descent on the
  linear regression of *Hands-On ML* chapter 4 (paths from :mod:`chainrule.linear`),
  over the true MSE surface whose minimum is the normal-equation solution.
* :func:`plot_optimizer_paths` — the optimizers of :mod:`chainrule.optim` (SGD, momentum,
  Nesterov, AdaGrad, RMSProp, Adam, AdamW) side by side on a test surface, each step
  taken by the optimizer from gradients computed by the Tensor engine.

The surfaces and the walks are computed in :mod:`chainrule.optim.surfaces`
(:func:`~chainrule.optim.surfaces.compare_optimizers`, their default learning rates and
tolerances) and :func:`chainrule.linear.regression_surface`; their names are re-exported
here (``chainrule.viz.descent.compare_optimizers`` keeps working).

Drawing needs matplotlib (``pip install 'chainrule[viz]'``), through
:mod:`chainrule.viz.figures` (no pyplot, no window, no global backend switch). GIFs are
written with Pillow (a matplotlib dependency) from blitted frames: the contours are drawn
once and only the paths are redrawn per frame (tens of times faster than redrawing the
whole figure per frame, which is what matplotlib's PillowWriter does).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.linear import DescentResult, book_comparison, book_data, regression_surface
from chainrule.optim.registry import OPTIMIZERS
from chainrule.optim.surfaces import (
    SURFACES,
    OptimizerLike,
    Surface,
    SurfacePath,
    compare_optimizers,
    get_surface,
    make_optimizer,
    optimize_surface,
    surface_names,
)

from ..io import atomic_write
from .figures import new_figure, require_matplotlib, save_figure

__all__ = [
    "OPTIMIZERS",
    "SURFACES",
    "DescentPlot",
    "Surface",
    "SurfacePath",
    "book_data",
    "compare_optimizers",
    "get_surface",
    "make_optimizer",
    "optimize_surface",
    "plot_descent_paths",
    "plot_optimizer_paths",
    "regression_surface",
    "surface_names",
]


@dataclass
class DescentPlot:
    """What the plot functions return: the matplotlib figure, the paths drawn (by label)
    and the files written."""

    figure: Any
    paths: dict[str, Any]
    files: list[Path] = field(default_factory=list)


_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<"]


@dataclass
class _Anim:
    """The artists a GIF animates (lines with their full data) and redraws on top."""

    lines: list[tuple[Any, np.ndarray, np.ndarray]] = field(default_factory=list)
    overlays: list[Any] = field(default_factory=list)

    def add(self, line: Any) -> None:
        xs, ys = (np.asarray(a) for a in line.get_data())
        self.lines.append((line, xs, ys))


def _contour(ax: Any, surf: Surface, xlim: Sequence[float], ylim: Sequence[float],
             anim: _Anim, n: int = 200) -> None:
    from matplotlib.colors import LogNorm

    gx, gy, z = surf.grid(n, xlim, ylim)
    gap = np.maximum(z - surf.f_min, 1e-300)
    top = float(np.percentile(gap, 98))
    levels = np.logspace(math.log10(top) - surf.decades, math.log10(top), 15)
    ax.contourf(gx, gy, np.clip(gap, levels[0], None), levels=levels, norm=LogNorm(),
                cmap="Blues_r", alpha=0.5, extend="max")
    ax.contour(gx, gy, gap, levels=levels, colors="0.5", linewidths=0.4, alpha=0.6)
    for i, m in enumerate(surf.minima):
        (star,) = ax.plot(*m, marker="*", color="gold", markersize=15, markeredgecolor="k",
                          linestyle="none", zorder=6, label="minimum" if i == 0 else None)
        anim.overlays.append(star)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(surf.labels[0])
    ax.set_ylabel(surf.labels[1])


def _path_line(ax: Any, pts: np.ndarray, i: int, label: str | None, anim: _Anim,
               linewidth: float = 1.3) -> None:
    (line,) = ax.plot(pts[:, 0], pts[:, 1], color=_COLORS[i % 10], marker=_MARKERS[i % 10],
                      markersize=3.5, markevery=max(1, (len(pts) - 1) // 30 or 1),
                      linewidth=linewidth, label=label, zorder=3)
    anim.add(line)


def _start_marker(ax: Any, start: Sequence[float], anim: _Anim) -> None:
    (dot,) = ax.plot(*start, marker="o", color="k", markersize=6, linestyle="none", zorder=7,
                     label="start")
    anim.overlays.append(dot)


def _loss_panel(ax: Any, curves: Sequence[tuple[str, np.ndarray]], f_min: float, xlabel: str,
                anim: _Anim, title: str) -> None:
    n = 1
    for i, (label, losses) in enumerate(curves):
        gap = np.maximum(np.asarray(losses, dtype=np.float64) - f_min, 1e-16)
        (line,) = ax.plot(np.arange(len(gap)), gap, color=_COLORS[i % 10], linewidth=1.2,
                          label=label)
        anim.add(line)
        n = max(n, len(gap) - 1)
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, n)
    ax.set_xlabel(f"{xlabel} (log scale after 1)")
    ax.set_ylabel("f − f*  (log scale)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="major", linewidth=0.5)


def _check_outputs(path: Any, gif: Any) -> None:
    """Reject wrong file types before any work is done."""
    if path is not None and Path(path).suffix.lower() != ".png":
        raise ValueError(f"the figure is written as PNG; give a .png path, got {str(path)!r}")
    if gif is not None and Path(gif).suffix.lower() != ".gif":
        raise ValueError(f"the animation is written as GIF; give a .gif path, got {str(gif)!r}")


def _save_png(fig: Any, path: str | os.PathLike[str], dpi: float) -> Path:
    _check_outputs(path, None)
    return save_figure(fig, path, dpi=dpi)


def _save_gif(fig: Any, path: str | os.PathLike[str], anim: _Anim, frames: int, fps: float,
              dpi: float) -> Path:
    """Write an animated GIF: frame k draws each line up to fraction ((k + 1) / frames)²
    of its points (early steps get more frames), then the last frame is held.

    The figure without the lines is drawn once; each frame restores that background and
    draws only the lines (and the markers and legends above them) — blitting.
    """
    require_matplotlib("drawing descent paths")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("writing a GIF needs Pillow: pip install pillow") from None
    _check_outputs(None, path)
    out = Path(path)
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ValueError(f"a GIF needs at least 2 frames, got {frames!r}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    out.parent.mkdir(parents=True, exist_ok=True)

    canvas = fig.canvas
    old_dpi = fig.dpi
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    try:
        fig.set_dpi(dpi)
        for line, _, _ in anim.lines:
            line.set_visible(False)
        canvas.draw()
        background = canvas.copy_from_bbox(fig.bbox)
        for line, _, _ in anim.lines:
            line.set_visible(True)
        images = []
        for k in range(frames):
            frac = ((k + 1) / frames) ** 2
            canvas.restore_region(background)
            for line, xs, ys in anim.lines:
                upto = max(1, math.ceil(frac * len(xs)))
                line.set_data(xs[:upto], ys[:upto])
                line.axes.draw_artist(line)
            for artist in [*anim.overlays, *legends]:
                artist.axes.draw_artist(artist)
            rgb = np.asarray(canvas.buffer_rgba())[..., :3]
            images.append(Image.fromarray(np.ascontiguousarray(rgb)))
    finally:
        for line, xs, ys in anim.lines:
            line.set_data(xs, ys)
        fig.set_dpi(old_dpi)
    # One palette for all frames (from the fullest frame), no dithering: frames differ only
    # where the paths grew, so the GIF stays small.
    palette = images[-1].quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    duration = [int(1000 / fps)] * (frames - 1) + [2000]
    buffer = io.BytesIO()
    frames_p[0].save(buffer, format="GIF", save_all=True, append_images=frames_p[1:],
                     duration=duration, loop=0)
    with atomic_write(out) as f:
        f.write(buffer.getvalue())
    return out


def _write(fig: Any, plot: DescentPlot, anim: _Anim, path: Any, gif: Any, dpi: float,
           gif_frames: int, gif_fps: float, gif_dpi: float) -> DescentPlot:
    if path is not None:
        plot.files.append(_save_png(fig, path, dpi))
    if gif is not None:
        plot.files.append(_save_gif(fig, gif, anim, gif_frames, gif_fps, gif_dpi))
    return plot


def plot_descent_paths(results: Mapping[str, DescentResult] | None = None, *, X: Any = None,
                       y: Any = None, path: str | os.PathLike[str] | None = None,
                       gif: str | os.PathLike[str] | None = None,
                       zoom: tuple[float, float, float, float] | None = (2.6, 4.6, 2.3, 3.4),
                       figsize: tuple[float, float] = (15.0, 4.8), dpi: float = 100,
                       gif_frames: int = 40, gif_fps: float = 10, gif_dpi: float = 60,
                       title: str | None = None) -> DescentPlot:
    """Batch, stochastic and mini-batch GD paths over the MSE contours, with the losses.

    Panels: the whole paths in (θ0, θ1); a zoom on the minimum (default: the window of the
    book's Figure 4-11, ``zoom = (θ0 min, θ0 max, θ1 min, θ1 max)``; ``None`` drops the
    panel); the MSE above its minimum against the number of parameter updates.

    Args:
        results: ``{label: DescentResult}`` for a linear regression with one feature
            (default: :func:`chainrule.linear.book_comparison` — the book's three runs).
        X, y: the data the results were fitted on (default: the book's), for the contours.
        path: write the figure there as PNG, ``figsize × dpi`` pixels.
        gif: also write an animation there (the paths drawn progressively).
        gif_frames, gif_fps, gif_dpi: the animation's frame count, speed and resolution.

    Returns:
        A :class:`DescentPlot`: ``figure``, ``paths`` (the results) and ``files`` written.
    """
    require_matplotlib("drawing descent paths")
    _check_outputs(path, gif)
    if results is None:
        results = book_comparison(X, y) if (X is not None or y is not None) else \
            book_comparison()
    if not results:
        raise ValueError("plot_descent_paths: no paths to draw")
    for name, r in results.items():
        if not isinstance(r, DescentResult):
            raise ValueError(f"plot_descent_paths: {name!r} is not a DescentResult")
        if r.path.shape[1] != 2:
            raise ValueError(f"plot_descent_paths: {name!r} has {r.path.shape[1]} parameters; "
                             "the contour needs exactly two (intercept and one feature)")
    surf = regression_surface(X, y) if (X is not None or y is not None) else \
        regression_surface()
    all_pts = np.concatenate([r.path for r in results.values()] + [np.array(surf.minima)])
    lo, hi = all_pts.min(axis=0), all_pts.max(axis=0)
    pad = 0.08 * (hi - lo) + 0.1
    xlim, ylim = (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])

    fig = new_figure(figsize, "plot_descent_paths", layout="constrained")
    widths = [1.0, 1.0, 1.1] if zoom else [1.0, 1.1]
    axes = list(fig.subplots(1, len(widths), gridspec_kw={"width_ratios": widths}))
    anim = _Anim()
    windows = [(axes[0], xlim, ylim, "paths in parameter space")]
    if zoom:
        windows.append((axes[1], zoom[:2], zoom[2:], "zoom on the minimum (★ normal equation)"))
    for ax, xl, yl, ttl in windows:
        _contour(ax, surf, xl, yl, anim)
        for i, (name, r) in enumerate(results.items()):
            _path_line(ax, r.path, i, f"{name} ({r.steps} updates)", anim,
                       linewidth=0.9 if r.steps > 2000 else 1.3)
        _start_marker(ax, next(iter(results.values())).path[0], anim)
        ax.set_title(ttl, fontsize=10)
    axes[0].legend(loc="lower right", fontsize=8, framealpha=0.9)
    _loss_panel(axes[-1], [(name, r.losses) for name, r in results.items()], surf.f_min,
                "parameter updates", anim, "MSE above its minimum (full data)")
    axes[-1].legend(fontsize=8)
    th = surf.minima[0]
    fig.suptitle(title or "Batch vs stochastic vs mini-batch gradient descent on linear "
                 f"regression (normal equation θ = [{th[0]:.8f}, {th[1]:.8f}])", fontsize=11)
    plot = DescentPlot(figure=fig, paths=dict(results))
    return _write(fig, plot, anim, path, gif, dpi, gif_frames, gif_fps, gif_dpi)


def plot_optimizer_paths(surface: str | Surface = "rosenbrock",
                         optimizers: Iterable[OptimizerLike] | None = None, *,
                         lr: float | Mapping[str, float] | None = None, steps: int | None = None,
                         start: Sequence[float] | None = None,
                         walks: Mapping[str, SurfacePath] | None = None,
                         layout: str = "grid", path: str | os.PathLike[str] | None = None,
                         gif: str | os.PathLike[str] | None = None,
                         figsize: tuple[float, float] | None = None, dpi: float = 100,
                         gif_frames: int = 40, gif_fps: float = 10, gif_dpi: float = 60,
                         title: str | None = None) -> DescentPlot:
    """Several chainrule optimizers on one surface: their paths over the contours, and
    their losses against the step.

    Args:
        surface: a surface name (see :func:`surface_names`) or a :class:`Surface`.
        optimizers, lr, steps, start: as in :func:`compare_optimizers` (default: all seven
            optimizers with the surface's defaults).
        walks: already computed ``{label: SurfacePath}`` (from :func:`compare_optimizers`)
            to draw instead of computing them.
        layout: ``"grid"`` — one small contour map per optimizer (its path bold, the others
            faint) and the loss panel, in rows of up to four; ``"overlay"`` — all paths on
            one map beside the loss panel.
        path: write the figure there as PNG, ``figsize × dpi`` pixels (default figsize:
            3.6 in per grid column × 3.3 in per row; 13 × 5.2 in for the overlay).
        gif: also write an animation there.

    Returns:
        A :class:`DescentPlot` whose ``paths`` maps each label to its :class:`SurfacePath`.
    """
    require_matplotlib("drawing descent paths")
    _check_outputs(path, gif)
    surf = get_surface(surface)
    if layout not in ("grid", "overlay"):
        raise ValueError(f"layout must be 'grid' or 'overlay', got {layout!r}")
    if walks is None:
        walks = compare_optimizers(surf, optimizers, lr=lr, steps=steps, start=start)
    if not walks:
        raise ValueError("plot_optimizer_paths: no paths to draw")
    items = list(walks.items())
    begin = items[0][1].path[0]
    n_steps = max(len(w.path) - 1 for _, w in items)

    def name(label: str, w: SurfacePath) -> str:
        return label + (" (diverged)" if w.diverged else "")

    anim = _Anim()
    if layout == "overlay":
        fig = new_figure(figsize or (13.0, 5.2), "plot_optimizer_paths", layout="constrained")
        ax_map, ax_loss = fig.subplots(1, 2)
        _contour(ax_map, surf, surf.xlim, surf.ylim, anim)
        for i, (_, w) in enumerate(items):
            _path_line(ax_map, w.path, i, None, anim)
        _start_marker(ax_map, begin, anim)
        ax_map.set_title(f"f = {surf.formula}", fontsize=10)
        ax_map.legend(loc="upper left", fontsize=8, framealpha=0.9)
    else:
        cols = min(4, len(items) + 1)
        rows = math.ceil((len(items) + 1) / cols)
        fig = new_figure(figsize or (3.6 * cols, 3.3 * rows + 0.4), "plot_optimizer_paths",
                         layout="constrained")
        grid = fig.subplots(rows, cols, squeeze=False).ravel()
        for i, (label, w) in enumerate(items):
            ax = grid[i]
            _contour(ax, surf, surf.xlim, surf.ylim, anim, n=150)
            for j, (_, other) in enumerate(items):
                if j != i:
                    (faint,) = ax.plot(other.path[:, 0], other.path[:, 1], color="0.55",
                                       linewidth=0.6, alpha=0.5, zorder=2)
                    anim.add(faint)
            _path_line(ax, w.path, i, None, anim, linewidth=1.6)
            _start_marker(ax, begin, anim)
            ax.set_title(f"{name(label, w)}\nf − f* = {w.gap:.1e}", fontsize=9,
                         color=_COLORS[i % 10])
            if i % cols:
                ax.set_ylabel("")
            if i < len(items) + 1 - cols:
                ax.set_xlabel("")
        ax_loss = grid[len(items)]
        for ax in grid[len(items) + 1:]:
            ax.set_visible(False)
    _loss_panel(ax_loss, [(name(label, w), w.losses) for label, w in items], surf.f_min,
                "optimizer steps", anim, f"{surf.name}: loss above the minimum")
    ax_loss.legend(fontsize=7 if len(items) > 4 else 8, loc="lower left")
    fig.suptitle(title or f"chainrule.optim on the {surf.name} surface f = {surf.formula} "
                 f"({n_steps} steps from {tuple(round(float(v), 3) for v in begin)}; "
                 "gradients by the Tensor engine)", fontsize=11)
    plot = DescentPlot(figure=fig, paths=dict(walks))
    return _write(fig, plot, anim, path, gif, dpi, gif_frames, gif_fps, gif_dpi)
