"""Codings drawn in two dimensions: :func:`plot_codings` scatters ``(N, D)`` codes coloured
by class; :func:`reduce_to_2d` brings ``D > 2`` down to 2 (PCA with NumPy, or t-SNE from
scikit-learn when it is installed). Drawing goes through :mod:`chainrule.viz.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .figures import PathLike, new_figure, require_matplotlib, save_figure

__all__ = ["plot_codings", "reduce_to_2d"]


def _pca(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(N, D)`` onto its first two principal axes -> points, variance ratios.

    Signs are fixed so that each axis's largest loading is positive (deterministic).
    """
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:2]
    big = np.abs(vt).argmax(axis=1)
    vt = vt * np.sign(vt[np.arange(len(vt)), big])[:, None]
    points = centred @ vt.T
    if points.shape[1] < 2:  # a single sample or a single feature
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    total = float((s ** 2).sum())
    ratio = (s[:2] ** 2) / total if total > 0 else np.zeros(len(s[:2]))
    return points, np.pad(ratio, (0, 2 - len(ratio)))


def _tsne_class() -> Any:
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError("method='tsne' needs scikit-learn: pip install 'chainrule[tsne]' "
                          "(or use method='pca')") from None
    return TSNE


def _sklearn_available() -> bool:
    try:
        _tsne_class()
    except ImportError:
        return False
    return True


def _as_codes(codes: Any, name: str) -> np.ndarray:
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"{name}: codes must be (N, D) with D >= 2; got shape {x.shape}")
    x = x.reshape(len(x), -1)
    if x.shape[1] < 2:
        raise ValueError(f"{name}: codes must have at least 2 dimensions; got shape "
                         f"{x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: codes contain NaN or infinite values")
    return x


_METHODS = ("auto", "tsne", "pca", "none")


def _reduce(x: np.ndarray, method: str, seed: int, name: str) -> tuple[np.ndarray, list[str]]:
    if method not in _METHODS:
        raise ValueError(f"{name}: method must be one of {_METHODS}; got {method!r}")
    d = x.shape[1]
    if method == "auto":
        method = "none" if d == 2 else ("tsne" if _sklearn_available() else "pca")
    if method == "none":
        if d != 2:
            raise ValueError(f"{name}: method='none' needs 2-D codes; got {d} dimensions "
                             "(use 'pca', 'tsne' or 'auto')")
        return x.copy(), ["code[0]", "code[1]"]
    if method == "pca":
        points, ratio = _pca(x)
        return points, [f"PC {i + 1} ({100 * r:.1f} % of variance)" for i, r in
                        enumerate(ratio)]
    tsne = _tsne_class()
    if len(x) < 2:
        raise ValueError(f"{name}: t-SNE needs at least 2 points; got {len(x)}")
    if d > 50:  # the usual first step: PCA to 50 dimensions, then t-SNE
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        x = centred @ vt[:50].T
    perplexity = min(30.0, max(1.0, (len(x) - 1) / 3))
    model = tsne(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                 random_state=seed)
    return np.asarray(model.fit_transform(x), dtype=np.float64), ["t-SNE 1", "t-SNE 2"]


def reduce_to_2d(codes: Any, method: str = "auto", seed: int = 0) -> np.ndarray:
    """Codings ``(N, D)`` (trailing dimensions are flattened) -> points ``(N, 2)``.

    ``method``: ``"pca"`` (NumPy SVD: centred codes on the first two principal axes, each
    axis signed so that its largest loading is positive), ``"tsne"`` (scikit-learn's TSNE
    with PCA initialisation, perplexity ``min(30, (N - 1) / 3)``, after PCA to 50
    dimensions when ``D > 50``), ``"none"`` (``D`` must be 2) or ``"auto"`` (the codes as
    they are when ``D == 2``, else t-SNE when scikit-learn is importable, else PCA).
    """
    x = _as_codes(codes, "reduce_to_2d")
    return _reduce(x, method, seed, "reduce_to_2d")[0]


def _discrete(labels: np.ndarray) -> bool:
    if labels.dtype.kind in "biuUSOM":
        return labels.dtype.kind not in "iu" or len(np.unique(labels)) <= 20
    if labels.dtype.kind == "f":
        return bool(np.all(labels == np.round(labels))) and len(np.unique(labels)) <= 20
    return True


def _class_name(value: Any, class_names: Sequence[str] | Mapping[Any, str] | None) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(class_names, Mapping):
        return str(class_names.get(value, value))
    if class_names is not None and isinstance(value, int) and 0 <= value < len(class_names):
        return str(class_names[value])
    return str(value)


def plot_codings(codes: Any, labels: Any, path: PathLike, method: str = "auto",
                 class_names: Sequence[str] | Mapping[Any, str] | None = None, seed: int = 0,
                 max_points: int | None = 5000, title: str | None = None) -> Path:
    """Scatter codings ``(N, D)`` in 2-D, coloured by ``labels`` ``(N,)``.

    Codings with ``D > 2`` are reduced by :func:`reduce_to_2d` (``method``). At most
    ``max_points`` points, a random subset drawn with ``seed`` before reducing. Labels
    with at most 20 distinct values (integers, strings) are classes: one colour each and a
    legend, named by ``class_names`` (a list indexed by the label, or a dict); other
    numeric labels get a colour bar; ``labels=None`` draws one colour.
    """
    x = _as_codes(codes, "plot_codings")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            labels = labels.reshape(-1) if labels.size == len(x) else labels
        if labels.ndim != 1 or len(labels) != len(x):
            raise ValueError(f"plot_codings: {labels.shape} labels for {len(x)} codes; "
                             "give one label per code")
    if method not in _METHODS:
        raise ValueError(f"plot_codings: method must be one of {_METHODS}; got {method!r}")
    if method == "none" and x.shape[1] != 2:
        raise ValueError(f"plot_codings: method='none' needs 2-D codes; got {x.shape[1]} "
                         "dimensions (use 'pca', 'tsne' or 'auto')")
    require_matplotlib("plot_codings")
    rng = np.random.default_rng(seed)
    if max_points is not None and len(x) > int(max_points):
        if int(max_points) < 1:
            raise ValueError(f"plot_codings: max_points must be >= 1; got {max_points}")
        keep = np.sort(rng.choice(len(x), int(max_points), replace=False))
        x = x[keep]
        labels = labels[keep] if labels is not None else None
    points, axis_names = _reduce(x, method, seed, "plot_codings")

    order = rng.permutation(len(points))  # no class drawn wholly on top of the others
    size = float(np.clip(3000 / len(points), 3, 30))
    fig = new_figure((6.4, 5.0), "plot_codings")
    ax = fig.add_subplot()
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7, linewidths=0)
    elif _discrete(labels):
        import matplotlib
        from matplotlib.lines import Line2D

        classes = np.unique(labels)
        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        index = np.searchsorted(classes, labels)
        colours = cmap(index % cmap.N)
        ax.scatter(points[order, 0], points[order, 1], c=colours[order], s=size, alpha=0.7,
                   linewidths=0)
        handles = [Line2D([], [], ls="", marker="o", color=cmap(i % cmap.N),
                          label=_class_name(c, class_names)) for i, c in enumerate(classes)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  fontsize=8, frameon=False)
    else:
        sc = ax.scatter(points[order, 0], points[order, 1], c=labels[order].astype(float),
                        cmap="viridis", s=size, alpha=0.7, linewidths=0)
        fig.colorbar(sc, ax=ax, fraction=0.05)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title if title is not None else f"codings ({len(points)} points)",
                 fontsize=10)
    return save_figure(fig, path, dpi=100, bbox_inches="tight", pad_inches=0.05,
                       facecolor="white")


