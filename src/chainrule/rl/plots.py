"""Reward curves (matplotlib through :mod:`chainrule.viz.figures`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["moving_average", "plot_reward_curves"]


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_reward_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                       path: str | Path, title: str, xlabel: str = "episode",
                       window: int = 1, threshold: float | None = None) -> Path:
    """One line per name: ``curves[name] = (x, rewards)``, smoothed over ``window``."""
    from ..viz.figures import new_figure, save_figure

    fig = new_figure((6.4, 3.8), what="reward curves", layout="constrained")
    ax = fig.add_subplot()
    for name, (x, y) in curves.items():
        ax.plot(np.asarray(x), moving_average(y, window), label=name, lw=1.2)
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"{threshold:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("total reward" + (f" (mean of {window})" if window > 1 else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
