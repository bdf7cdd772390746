"""Pictures of what representation-learning models learned.

* :func:`image_grid` — a batch of images as a grid of tiles (the one grid routine of the
  package; :func:`chainrule.viz.classic.image_grid` delegates here).
* :func:`plot_reconstructions` — originals above their reconstructions (one row per model).
* :func:`plot_codings` — 2-D codings as a scatter coloured by class (in
  :mod:`chainrule.viz.codings`, re-exported here).
* :func:`interpolate` / :func:`plot_interpolation` — straight (``"linear"``) or spherical
  (``"slerp"``) paths between latent points, decoded by a function you pass.
* :func:`plot_latent_grid` — the VAE "manifold" picture: decode a regular grid over a 2-D
  latent space, spaced by Gaussian quantiles.

Images come in as NumPy arrays (or anything :func:`numpy.asarray` accepts, such as a
chainrule ``Tensor``), a batch of ``N`` in one of these layouts:

============================  ==========================================================
``(N, H, W)``                 grey-scale, drawn with ``cmap``
``(N, 1, H, W)``              grey-scale, channels first
``(N, 3, H, W)``              colour (RGB), channels first (``(N, H, W, 3)`` also works)
``(N, H*W)``                  flat grey-scale; square unless ``shape=(H, W)`` is given
============================  ==========================================================

Value scaling (``value_range``), the same for every tile of a picture so that tiles can
be compared: ``None`` (default) maps ``[0, 1]`` to black..white when all values lie in
``[0, 1]`` (pixel intensities, Bernoulli means), and otherwise the picture's own minimum
and maximum; ``(lo, hi)`` fixes the range (``(-1, 1)`` for tanh outputs) so that several
pictures share one scale, values outside are clipped; ``"tile"`` scales each tile by its
own minimum and maximum (weights, filters).

Every function writes one file and returns its :class:`~pathlib.Path`; the format follows
the suffix (``.png`` normally; ``.pdf`` or ``.svg`` work too) and the file appears only
when complete. Drawing needs matplotlib (``pip install 'chainrule[viz]'``), imported on
first use, through :mod:`chainrule.viz.figures` (no pyplot, no global backend switch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from .codings import plot_codings, reduce_to_2d
from .figures import PathLike, new_figure, require_matplotlib, save_figure

__all__ = ["image_grid", "interpolate", "latent_grid", "plot_codings", "plot_interpolation",
           "plot_latent_grid", "plot_reconstructions", "reduce_to_2d"]

ValueRange = tuple[float, float] | Literal["tile"] | None

_TILE_INCHES = 0.9  # the longer side of one tile
_DPI = 100


# ----------------------------------------------------------------------------- helpers


def _save(fig: Any, path: PathLike) -> Path:
    return save_figure(fig, path, dpi=_DPI, bbox_inches="tight", pad_inches=0.05,
                       facecolor="white")


def _to_tiles(images: Any, name: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """A batch in any accepted layout -> ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour."""
    x = np.asarray(images, dtype=np.float64)
    layouts = ("(N, H, W), (N, 1, H, W), (N, 3, H, W) or flat (N, H*W)")
    if x.ndim == 2:
        n, d = x.shape
        if shape is not None:
            shape = tuple(int(s) for s in shape)
            if math.prod(shape) != d or len(shape) not in (2, 3):
                raise ValueError(f"{name}: cannot reshape flat images of length {d} to "
                                 f"shape={shape}")
            return _to_tiles(x.reshape(n, *shape), name)
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(f"{name}: flat images of length {d} are not square; pass "
                             "shape=(H, W) or reshape them to (N, H, W)")
        x = x.reshape(n, side, side)
    elif x.ndim == 4:
        if x.shape[1] in (1, 3):
            x = x.transpose(0, 2, 3, 1)
        elif x.shape[3] not in (1, 3):
            raise ValueError(f"{name}: 4-D images need 1 or 3 channels (N, C, H, W); got "
                             f"shape {x.shape}")
        if x.shape[3] == 1:
            x = x[..., 0]
    elif x.ndim != 3:
        raise ValueError(f"{name}: expected a batch of images {layouts}; got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name}: no images (shape {x.shape})")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _unit(x: np.ndarray, value_range: ValueRange) -> np.ndarray:
    """Scale tiles ``(N, H, W[, 3])`` to [0, 1] (see the module docstring)."""
    if isinstance(value_range, str):
        if value_range != "tile":
            raise ValueError(f"value_range must be (lo, hi), 'tile' or None; got "
                             f"{value_range!r}")
        axes = tuple(range(1, x.ndim))
        lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    elif value_range is None:
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0
    else:
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must have lo < hi; got {value_range!r}")
    span = np.asarray(hi - lo, dtype=np.float64)
    safe = np.where(span > 0, span, 1.0)
    return np.clip(np.where(span > 0, (x - lo) / safe, 0.0), 0.0, 1.0)


def _rgb(unit: np.ndarray, cmap: str) -> np.ndarray:
    """Grey tiles through the colour map; colour tiles as they are -> ``(N, H, W, 3)``."""
    if unit.ndim == 4:
        return unit
    import matplotlib

    return matplotlib.colormaps[cmap](unit)[..., :3]


def _mosaic_figure(tiles: np.ndarray, ncols: int, titles: Sequence[str] | None = None,
                   row_labels: Sequence[str] | None = None, title: str | None = None,
                   what: str = "image_grid") -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """Draw RGB tiles ``(N, H, W, 3)`` in [0, 1] as one image on one axes.

    Tiles are separated by white gaps; a band for per-tile titles is left above each row
    that has any. Returns the figure, the axes and the data coordinates of the column and
    row centres (for ticks and labels).
    """
    n, h, w, _ = tiles.shape
    nrows = -(-n // ncols)
    pad = max(1, round(max(h, w) / 14))
    band = math.ceil(0.35 * h)
    tops, y = [], pad
    for r in range(nrows):
        row_titles = titles[r * ncols:(r + 1) * ncols] if titles is not None else []
        y += band if any(row_titles) else 0
        tops.append(y)
        y += h + pad
    height, width = y, pad + ncols * (w + pad)
    mosaic = np.ones((height, width, 3))
    lefts = [pad + c * (w + pad) for c in range(ncols)]
    for i in range(n):
        r, c = divmod(i, ncols)
        mosaic[tops[r]:tops[r] + h, lefts[c]:lefts[c] + w] = tiles[i]

    inches = _TILE_INCHES / max(h, w)
    fig = new_figure((width * inches, height * inches), what)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_frame_on(False)
    if titles is not None:
        for i, text in enumerate(titles):
            if text:
                r, c = divmod(i, ncols)
                ax.text(lefts[c] + (w - 1) / 2, tops[r] - 1, str(text), ha="center",
                        va="bottom", fontsize=7, clip_on=False)
    if row_labels is not None:
        for r, text in enumerate(row_labels):
            ax.text(-pad, tops[r] + (h - 1) / 2, str(text), ha="right", va="center",
                    fontsize=8, clip_on=False)
    if title:
        ax.set_title(title, fontsize=10, pad=4)
    xs = np.array(lefts) + (w - 1) / 2
    ys = np.array(tops) + (h - 1) / 2
    return fig, ax, xs, ys


def _check_count(name: str, got: int, want: int, what: str) -> None:
    if got != want:
        raise ValueError(f"{name}: {got} given for {want} {what}")


# ----------------------------------------------------------------------------- grids


def image_grid(images: Any, path: PathLike, ncols: int = 10,
               titles: Sequence[str] | None = None, value_range: ValueRange = None,
               cmap: str = "gray", title: str | None = None,
               shape: Sequence[int] | None = None) -> Path:
    """Save a batch of ``N`` images as a grid of tiles, ``ncols`` per row (row-major).

    ``images``: ``(N, H, W)``, ``(N, 1, H, W)``, ``(N, 3, H, W)`` or flat ``(N, H*W)``
    (square, or ``shape=(H, W)``). ``titles``: ``N`` strings, one above each tile.
    ``value_range``: ``None``, ``(lo, hi)`` or ``"tile"`` (module docstring). ``cmap``
    colours grey-scale images. Returns the path written.
    """
    tiles = _to_tiles(images, "image_grid: images", shape)
    if int(ncols) < 1:
        raise ValueError(f"image_grid: ncols must be >= 1; got {ncols}")
    if titles is not None:
        titles = list(titles)
        _check_count("image_grid: titles", len(titles), len(tiles), "images")
    require_matplotlib("image_grid")
    rgb = _rgb(_unit(tiles, value_range), cmap)
    fig, *_ = _mosaic_figure(rgb, min(int(ncols), len(tiles)), titles=titles, title=title)
    return _save(fig, path)


def plot_reconstructions(originals: Any, reconstructions: Any, path: PathLike, n: int = 10,
                         value_range: ValueRange = None, title: str | None = None,
                         cmap: str = "gray", shape: Sequence[int] | None = None) -> Path:
    """Originals in the top row, their reconstructions below, the first ``n`` of each.

    ``originals``: ``N`` images (any layout of :func:`image_grid`). ``reconstructions``:
    ``N`` images of the same size (flat ones are reshaped to the originals' size), or
    several models' as a dict ``{label: images}`` or a list (one labelled row each). All
    rows share one ``value_range``, so that shades compare across rows.
    """
    orig = _to_tiles(originals, "plot_reconstructions: originals", shape)
    if isinstance(reconstructions, Mapping):
        rows = [(str(k), v) for k, v in reconstructions.items()]
    elif isinstance(reconstructions, (list, tuple)):
        rows = [(f"model {i + 1}", v) for i, v in enumerate(reconstructions)]
    else:
        rows = [("reconstruction", reconstructions)]
    if not rows:
        raise ValueError("plot_reconstructions: no reconstructions given")
    flat_shape = shape if shape is not None else (
        orig.shape[1:] if orig.ndim == 3 else (3, *orig.shape[1:3]))
    recons = []
    for label, images in rows:
        arr = np.asarray(images)
        name = f"plot_reconstructions: reconstructions[{label!r}]"
        rec = _to_tiles(arr, name, flat_shape if arr.ndim == 2 else None)
        if len(rec) != len(orig):
            raise ValueError(f"{name}: {len(rec)} images for {len(orig)} originals")
        if rec.shape[1:] != orig.shape[1:]:
            raise ValueError(f"{name}: image size {rec.shape[1:]} differs from the "
                             f"originals' {orig.shape[1:]}")
        recons.append(rec)
    if int(n) < 1:
        raise ValueError(f"plot_reconstructions: n must be >= 1; got {n}")
    k = min(int(n), len(orig))
    require_matplotlib("plot_reconstructions")
    stack = np.concatenate([orig[:k]] + [r[:k] for r in recons])
    rgb = _rgb(_unit(stack, value_range), cmap)
    labels = ["original"] + [label for label, _ in rows]
    fig, *_ = _mosaic_figure(rgb, k, row_labels=labels, title=title,
                             what="plot_reconstructions")
    return _save(fig, path)


# ----------------------------------------------------------------------------- latents


def interpolate(z_a: Any, z_b: Any, steps: int = 8, method: str = "linear") -> np.ndarray:
    """``steps`` points from ``z_a`` to ``z_b`` (both ``(D,)``) -> ``(steps, D)``.

    The first row is ``z_a`` and the last ``z_b``, exactly. ``"linear"``: evenly spaced on
    the segment. ``"slerp"``: the direction moves at constant angular speed along the
    great circle between the two directions while the norm changes linearly, so every
    point's norm lies between the endpoints' (equal norms stay equal) — the path people
    use for Gaussian latents, whose samples sit near a sphere and whose segment midpoints
    are atypically short. Collinear endpoints fall back to linear; opposite ones raise.
    The dtype is the endpoints' float type (at least float32).
    """
    a, b = np.asarray(z_a), np.asarray(z_b)
    if a.shape != b.shape:
        raise ValueError(f"interpolate: z_a and z_b differ in shape: {a.shape} vs {b.shape}")
    if int(steps) < 2:
        raise ValueError(f"interpolate: steps must be >= 2 (both endpoints); got {steps}")
    if method not in ("linear", "slerp"):
        raise ValueError(f"interpolate: method must be 'linear' or 'slerp'; got {method!r}")
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    t = np.linspace(0.0, 1.0, int(steps))
    fa, fb = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    out = None
    if method == "slerp":
        na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
        if na > 0 and nb > 0:
            ua, ub = fa / na, fb / nb
            omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
            if np.pi - omega < 1e-7:
                raise ValueError("interpolate: z_a and z_b point in opposite directions; "
                                 "the great circle between them is not unique (use "
                                 "method='linear')")
            if omega > 1e-7:
                direction = (np.sin((1 - t) * omega)[:, None] * ua
                             + np.sin(t * omega)[:, None] * ub) / np.sin(omega)
                out = ((1 - t) * na + t * nb)[:, None] * direction
    if out is None:
        out = (1 - t)[:, None] * fa + t[:, None] * fb
    out = out.reshape(len(t), *a.shape).astype(dtype)
    out[0], out[-1] = a, b
    return out


def _decode(decode: Callable[[np.ndarray], Any], z: np.ndarray, name: str,
            shape: Sequence[int] | None) -> np.ndarray:
    images = decode(z)
    tiles = _to_tiles(images, f"{name}: decode(z)", shape)
    if len(tiles) != len(z):
        raise ValueError(f"{name}: decode returned {len(tiles)} images for {len(z)} latent "
                         "points")
    return tiles


def plot_interpolation(decode: Callable[[np.ndarray], Any], z_pairs: Any, path: PathLike,
                       steps: int = 8, method: str = "linear", value_range: ValueRange = None,
                       cmap: str = "gray", title: str | None = None,
                       shape: Sequence[int] | None = None) -> Path:
    """One row per pair ``(z_a, z_b)``: the decoded points of :func:`interpolate`.

    ``z_pairs``: an array ``(P, 2, D)`` or a list of ``(z_a, z_b)``. ``decode`` maps
    latents ``(P * steps, D)`` (one call, rows in pair order) to ``P * steps`` images in
    any layout of :func:`image_grid`; run a model under ``no_grad`` inside it. The top row
    is labelled with the interpolation weights ``t``.
    """
    pairs = [tuple(p) for p in z_pairs]
    if not pairs:
        raise ValueError("plot_interpolation: no latent pairs given")
    for i, p in enumerate(pairs):
        if len(p) != 2:
            raise ValueError(f"plot_interpolation: z_pairs[{i}] has {len(p)} points; give "
                             "pairs (z_a, z_b)")
    z = np.concatenate([interpolate(a, b, steps, method) for a, b in pairs])
    require_matplotlib("plot_interpolation")
    tiles = _decode(decode, z, "plot_interpolation", shape)
    rgb = _rgb(_unit(tiles, value_range), cmap)
    t = np.linspace(0.0, 1.0, int(steps))
    titles = [f"t={v:.2g}" for v in t] + [""] * (len(tiles) - len(t))
    fig, *_ = _mosaic_figure(rgb, int(steps), titles=titles, title=title,
                             what="plot_interpolation")
    return _save(fig, path)


def latent_grid(n: int = 15, span: float | None = None, latent_dim: int = 2,
                dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """The ``n * n`` latent points ``(n*n, latent_dim)`` that :func:`plot_latent_grid` decodes.

    Row-major over the picture: ``z[dims[0]]`` grows left to right, ``z[dims[1]]`` grows
    bottom to top; other coordinates are 0 (the prior's mean). The ``n`` values per axis
    are Gaussian quantiles at probabilities evenly spaced over [0.05, 0.95] (±1.645; the
    standard-normal prior's mass is spread evenly, as in Kingma & Welling's VAE figures)
    when ``span`` is ``None``, else evenly spaced over ``[-span, span]``.
    """
    n, latent_dim = int(n), int(latent_dim)
    if n < 2:
        raise ValueError(f"latent_grid: n must be >= 2; got {n}")
    i, j = (int(d) for d in dims)
    if not (0 <= i < latent_dim and 0 <= j < latent_dim and i != j):
        raise ValueError(f"latent_grid: dims must be two different axes of the {latent_dim}-D "
                         f"latent space; got {dims}")
    if span is None:
        gauss = NormalDist()
        values = np.array([gauss.inv_cdf(p) for p in np.linspace(0.05, 0.95, n)])
    else:
        if not span > 0:
            raise ValueError(f"latent_grid: span must be > 0; got {span}")
        values = np.linspace(-float(span), float(span), n)
    z = np.zeros((n, n, latent_dim), dtype=np.float32)
    z[:, :, i] = values[None, :]
    z[:, :, j] = values[::-1, None]
    return z.reshape(n * n, latent_dim)


def plot_latent_grid(decode: Callable[[np.ndarray], Any], path: PathLike, n: int = 15,
                     span: float | None = None, latent_dim: int = 2,
                     dims: tuple[int, int] = (0, 1), value_range: ValueRange = None,
                     cmap: str = "gray", title: str | None = None,
                     shape: Sequence[int] | None = None) -> Path:
    """Decode an ``n x n`` grid over two latent axes (:func:`latent_grid`) into one picture.

    The classic picture of a VAE with a 2-D latent space. ``decode`` maps float32 latents
    ``(n*n, latent_dim)`` to ``n*n`` images (any layout of :func:`image_grid`). The axes
    are ticked with the latent values at the first, last and (``n`` odd: 0) middle tiles.
    """
    z = latent_grid(n, span, latent_dim, dims)
    require_matplotlib("plot_latent_grid")
    tiles = _decode(decode, z, "plot_latent_grid", shape)
    rgb = _rgb(_unit(tiles, value_range), cmap)
    fig, ax, xs, ys = _mosaic_figure(rgb, int(n), title=title, what="plot_latent_grid")
    values = z[:int(n), dims[0]]
    ticks = [0, int(n) // 2, int(n) - 1] if int(n) % 2 else [0, int(n) - 1]
    shown = np.where(np.abs(values) < 1e-9, 0.0, values)  # the middle quantile prints as 0
    ax.set_xticks(xs[ticks], [f"{shown[k]:.2g}" for k in ticks], fontsize=7)
    ax.set_yticks(ys[ticks], [f"{shown[::-1][k]:.2g}" for k in ticks], fontsize=7)
    ax.tick_params(length=2, pad=1)
    ax.set_xlabel(f"z[{dims[0]}]", fontsize=8)
    ax.set_ylabel(f"z[{dims[1]}]", fontsize=8)
    return _save(fig, path)
