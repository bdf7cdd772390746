"""Curves of a training run: loss and metrics per epoch, and the learning-rate range test.

* :func:`plot_history` — train-vs-validation curves, one panel per quantity: a PNG with
  matplotlib when it is installed, else a small self-contained SVG drawn by hand
  (:mod:`chainrule.viz.svg_curves`, no dependency).
* :func:`plot_lr_finder` — the smoothed loss of :func:`chainrule.optim.find_lr` against
  the learning rate (log axis), with the suggested rate marked.

matplotlib is reached only through :mod:`chainrule.viz.figures` (no pyplot, no global
backend switch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .figures import PathLike, new_figure, save_figure
from .svg_curves import Panel, plot_svg

__all__ = ["plot_history", "plot_lr_finder"]


def _panels(history: Mapping[str, list[float]]) -> list[Panel]:
    """(title, [(label, values)]) for the loss panel and each metric panel."""
    panels: list[Panel] = []
    for key in history:
        if key.startswith("val_") or key in ("lr", "time"):
            continue
        series = [("train", history[key])]
        if f"val_{key}" in history:
            series.append(("validation", history[f"val_{key}"]))
        panels.append((key, series))
    return panels


def plot_history(history: Any, path: PathLike, backend: str = "auto") -> Path:
    """Draw loss and metric curves (train vs validation), one panel per quantity.

    ``history``: a :class:`chainrule.train.History` or its ``history`` dict
    ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` (one value per epoch;
    ``lr`` and ``time`` are not drawn). ``path`` is the file name without caring for the
    suffix: the result is ``<path stem>.png`` when matplotlib is importable
    (``backend="auto"`` or ``"png"``), else ``<path stem>.svg`` drawn by hand
    (``backend="svg"`` forces this). Returns the path written.
    """
    data = history if isinstance(history, Mapping) else history.history
    panels = _panels(data)
    if not panels:
        raise ValueError("plot_history: nothing to plot (the history is empty)")
    if backend not in ("auto", "png", "svg"):
        raise ValueError(f"plot_history: backend must be 'auto', 'png' or 'svg', got {backend!r}")
    stem = Path(path).with_suffix("")
    if backend != "svg":
        try:
            return _plot_png(panels, stem.with_suffix(".png"))
        except ImportError:
            if backend == "png":
                raise
    return plot_svg(panels, stem.with_suffix(".svg"))


def _plot_png(panels: list[Panel], path: Path) -> Path:
    fig = new_figure((5 * len(panels), 3.6), "plot_history (PNG)")
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels):
        for label, values in series:
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def plot_lr_finder(result: Any, ax: Any = None, path: PathLike | None = None) -> Any:
    """Draw ``result.losses`` (smoothed) against ``result.lrs`` on a log lr axis, with a
    dashed line at ``result.suggested_lr`` when there is one; returns the axes.

    ``result``: a :class:`chainrule.optim.LRFinderResult` (or anything with ``lrs``,
    ``losses`` and ``suggested_lr``). ``ax``: draw on these matplotlib axes (default: a new
    6.4 x 4.8 in figure of its own; ``ax.figure`` is it). ``path``: also save the axes'
    figure there (format by suffix).
    """
    if ax is None:
        ax = new_figure((6.4, 4.8), "plot_lr_finder").subplots()
    ax.plot(result.lrs, result.losses)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed loss")
    if result.suggested_lr is not None:
        ax.axvline(result.suggested_lr, linestyle="--", color="gray")
    if path is not None:
        save_figure(ax.figure, path)
    return ax
