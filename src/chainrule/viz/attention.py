"""Attention maps: one heat map per head, queries down, keys across, tokens on the axes.

* :func:`attention_figure` — the figure (a :class:`matplotlib.figure.Figure`), to show in a
  notebook or to add to;
* :func:`plot_attention` — the same, written to a file (its :class:`~pathlib.Path`).

The weights come as ``(queries, keys)`` for one map or ``(heads, queries, keys)`` (a
``Tensor`` or anything :func:`numpy.asarray` takes), for example the ``average_attn_
weights=False`` output of :class:`chainrule.nn.MultiheadAttention` for one sequence, or
one layer of ``GPT.attention_maps``. Every map shares one colour scale, 0..1 by default
(weights are probabilities), so heads can be compared. Drawing goes through
:mod:`chainrule.viz.figures`: no pyplot, no global backend; without matplotlib one error
names the extra to install.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .figures import PathLike, new_figure, save_figure

__all__ = ["attention_figure", "plot_attention"]

_CELL_INCHES = 0.28  # one query x key cell, for short sequences
_MAX_PANEL_INCHES = 6.0


def _maps(weights: Any) -> np.ndarray:
    w = np.asarray(getattr(weights, "data", weights), dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or 0 in w.shape:
        raise ValueError(f"plot_attention: weights should be (queries, keys) or (heads, "
                         f"queries, keys), got shape {w.shape}")
    return w


def _labels(tokens: Sequence[Any] | None, n: int, what: str) -> list[str] | None:
    if tokens is None:
        return None
    labels = [str(t) for t in tokens]
    if len(labels) != n:
        raise ValueError(f"plot_attention: {len(labels)} {what} tokens for {n} {what} in the "
                         "weights")
    return labels


def attention_figure(weights: Any, query_tokens: Sequence[Any] | None = None,
                     key_tokens: Sequence[Any] | None = None, *,
                     heads: Sequence[int] | None = None, ncols: int | None = None,
                     title: str | None = None, vmax: float | None = 1.0,
                     cmap: str = "viridis") -> Any:
    """Heat maps of attention weights, one panel per head (see the module docstring).

    ``query_tokens``/``key_tokens`` label the rows and columns (one per query / key);
    ``heads`` picks which heads to draw (all by default); ``ncols`` panels per row (up to
    4 by default); ``vmax`` the top of the shared colour scale (``None``: the largest
    weight). Returns the figure.
    """
    w = _maps(weights)
    n_heads, n_q, n_k = w.shape
    rows_lab = _labels(query_tokens, n_q, "query")
    cols_lab = _labels(key_tokens, n_k, "key")
    picked = list(range(n_heads)) if heads is None else [int(h) for h in heads]
    bad = [h for h in picked if not 0 <= h < n_heads]
    if bad or not picked:
        raise ValueError(f"plot_attention: heads {bad or picked} not in 0..{n_heads - 1}")
    ncols = max(1, min(ncols or 4, len(picked)))
    nrows = math.ceil(len(picked) / ncols)
    scale = min(_CELL_INCHES, _MAX_PANEL_INCHES / max(n_q, n_k))
    panel_w, panel_h = max(2.0, n_k * scale + 0.8), max(1.6, n_q * scale + 0.8)
    fig = new_figure((ncols * panel_w + 0.8, nrows * panel_h + (0.4 if title else 0)),
                     "plot_attention", layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    top = float(w.max()) if vmax is None else vmax
    image = None
    for ax, h in zip(axes, picked):
        image = ax.imshow(w[h], cmap=cmap, vmin=0.0, vmax=top, aspect="auto",
                          interpolation="nearest")
        if len(picked) > 1 or heads is not None:
            ax.set_title(f"head {h}", fontsize=9)
        for labels, set_ticks, set_labels, rotation in (
                (cols_lab, ax.set_xticks, ax.set_xticklabels, 90),
                (rows_lab, ax.set_yticks, ax.set_yticklabels, 0)):
            if labels is not None:
                set_ticks(range(len(labels)))
                set_labels(labels, rotation=rotation, fontsize=8)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    for ax in axes[len(picked):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes[:len(picked)]), shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


def plot_attention(weights: Any, path: PathLike, query_tokens: Sequence[Any] | None = None,
                   key_tokens: Sequence[Any] | None = None, **kwargs: Any) -> Path:
    """:func:`attention_figure` written to ``path`` (format from the suffix); returns it."""
    fig = attention_figure(weights, query_tokens, key_tokens, **kwargs)
    return save_figure(fig, path, dpi=100, bbox_inches="tight", facecolor="white")
