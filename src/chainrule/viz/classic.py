"""Pictures of the classic models: Hopfield capacity and recall, Boltzmann distributions,
self-organising maps, and image grids of RBM/DBN samples and weights.

Drawing goes through :mod:`chainrule.viz.figures` (matplotlib imported on first use, no
pyplot, no global backend switch). Every function writes one file (the format follows the
suffix; none means PNG) and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import images as _images
from .figures import PathLike, new_figure, save_figure

__all__ = ["image_grid", "plot_capacity", "plot_distribution", "plot_som", "plot_trajectory"]


def _save(fig: Any, path: PathLike) -> Path:
    path = Path(path)
    return save_figure(fig, path if path.suffix else path.with_suffix(".png"), dpi=80,
                       bbox_inches="tight")


def image_grid(images: np.ndarray, path: PathLike, shape: tuple[int, int] = (28, 28),
               ncols: int = 10, title: str | None = None, labels: Sequence[str] | None = None,
               cmap: str = "gray") -> Path:
    """Save images (n, h*w), reshaped to ``shape``, as a grid of tiles, one label each.

    Delegates to :func:`chainrule.viz.images.image_grid` (the one grid routine).
    """
    imgs = np.asarray(images).reshape(-1, *shape)
    return _images.image_grid(imgs, path, ncols=ncols, titles=labels, cmap=cmap, title=title)


def plot_capacity(curves: Mapping[int, Mapping[str, np.ndarray]], path: PathLike) -> Path:
    """Recall success versus load P/N, one line per N, with the 0.138 N theory line."""
    fig = new_figure((5.5, 3.5), "plot_capacity")
    ax = fig.subplots()
    for n, r in curves.items():
        ax.plot(r["load"], r["success"], marker="o", ms=3, label=f"N = {n}")
    ax.axvline(0.138, color="k", ls="--", lw=1, label="theory 0.138")
    ax.set_xlabel("load α = P / N")
    ax.set_ylabel("fraction recalled (overlap ≥ 0.95)")
    ax.set_title("Hopfield capacity (Hebb rule)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_trajectory(trajectories: Sequence[np.ndarray], path: PathLike,
                    shape: tuple[int, int] = (28, 28), max_steps: int = 6) -> Path:
    """Rows = examples (each a sequence of states (h*w,)), columns = recall iterations
    (start ... final)."""
    rows = len(trajectories)
    cols = min(max_steps, max(len(t) for t in trajectories))
    fig = new_figure((cols * 1.0, rows * 1.0), "plot_trajectory")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, traj in enumerate(trajectories):
        idx = np.unique(np.linspace(0, len(traj) - 1, cols).round().astype(int))
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(idx):
                ax.imshow(np.asarray(traj[idx[c]]).reshape(shape), cmap="gray")
                if r == 0:
                    ax.set_title("start" if idx[c] == 0 else f"sweep {idx[c]}", fontsize=7)
    return _save(fig, path)


def plot_distribution(target: Mapping[tuple[int, ...], float],
                      model: Mapping[tuple[int, ...], float], path: PathLike) -> Path:
    """Bar chart of a target and a model distribution over binary vectors."""
    keys = sorted(set(target) | set(model))
    x = np.arange(len(keys))
    fig = new_figure((6, 3), "plot_distribution")
    ax = fig.subplots()
    ax.bar(x - 0.2, [target.get(k, 0) for k in keys], 0.4, label="target")
    ax.bar(x + 0.2, [model.get(k, 0) for k in keys], 0.4, label="model samples")
    ax.set_xticks(x, ["".join(map(str, k)) for k in keys])
    ax.set_ylabel("probability")
    ax.legend()
    return _save(fig, path)


def plot_som(weights: np.ndarray, u_matrix: np.ndarray, path: PathLike,
             image_shape: tuple[int, int] | None = None) -> Path:
    """The map (colours, or each unit's weight image) next to its U-matrix.

    ``weights``: (rows, cols, dim); ``u_matrix``: (rows, cols); ``image_shape`` (h, w)
    with ``h * w == dim`` draws each unit's weights as an image.
    """
    rows, cols, dim = weights.shape
    fig = new_figure((9, 4.5), "plot_som")
    a1, a2 = fig.subplots(1, 2)
    if image_shape is None:
        a1.imshow(np.clip(weights, 0, 1), interpolation="nearest")
    else:
        h, w = image_shape
        big = weights.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)
        a1.imshow(big, cmap="gray")
    a1.set_title("map")
    a1.axis("off")
    im = a2.imshow(u_matrix, cmap="viridis")
    a2.set_title("U-matrix")
    a2.axis("off")
    fig.colorbar(im, ax=a2, fraction=0.046)
    return _save(fig, path)
