"""Padding and resampling with PyTorch's names and semantics: ``pad`` (constant, reflect,
replicate, circular) and ``interpolate`` (nearest, nearest-exact, linear, bilinear,
trilinear, area; not bicubic).

Both are compositions of the engine's linear primitives, so they are differentiable to any
order with no rule of their own: a reflect / replicate / circular pad is a gather along
each padded axis (``getitem`` with an index array, whose transpose is a scatter-add), a
negative constant width is a crop, nearest resampling is a gather, and (bi/tri)linear
resampling is separable: one constant (out, in) interpolation matrix per spatial axis,
applied with a matrix product.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd.ops import concatenate, getitem, lift, matmul, swapaxes
from ...autograd.ops import pad as pad_constant
from ...autograd.tensor import Tensor
from ...errors import ShapeError
from .pool import adaptive_avg_pool1d, adaptive_avg_pool2d

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _gather(x: Tensor, axis: int, index: np.ndarray) -> Tensor:
    """x taken at ``index`` along ``axis`` (a differentiable gather)."""
    return getitem(x, (slice(None),) * axis + (index,))


def _pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index of every position of an axis of size n padded by (lo, hi)."""
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect, the edge itself not repeated
    i = np.abs(i) % period if period else np.zeros_like(i)
    return np.where(i >= n, period - i, i)


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """PyTorch's ``F.pad``: ``pad`` = (left, right) of the last axis, then (left, right) of
    the one before, and so on. ``constant`` fills with ``value`` (0 by default) and a
    negative width crops; ``reflect`` mirrors without repeating the edge (widths < size),
    ``replicate`` repeats the edge, ``circular`` wraps around (widths <= size)."""
    x = lift(input)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    widths = tuple(pad) if isinstance(pad, (tuple, list)) else None
    if (widths is None or len(widths) % 2 or not all(
            isinstance(w, (int, np.integer)) for w in widths)):
        raise ValueError(f"pad: pad must be a tuple of ints of even length, got {pad!r}")
    k = len(widths) // 2
    if k > x.ndim:
        raise ValueError(f"pad: pad {widths} pads {k} axes but the input has only {x.ndim}")
    if mode != "constant":
        if value not in (None, 0, 0.0):
            raise ValueError(f"pad: value is only used with mode='constant', got {value!r}")
        if k > x.ndim - 1:
            raise ShapeError(f"pad: mode {mode!r} pads at most the last {x.ndim - 1} axes "
                             f"of an input of shape {x.shape} (the first is the batch)")
    pairs = [(0, 0)] * (x.ndim - k) + [(int(widths[2 * i]), int(widths[2 * i + 1]))
                                        for i in reversed(range(k))]
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pairs))
        if any(max(-lo, 0) + max(-hi, 0) > n for n, (lo, hi) in zip(x.shape, pairs)):
            raise ShapeError(f"pad: widths {widths} leave no elements of input shape {x.shape}")
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            x = getitem(x, crop)
        grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
        if any(lo or hi for lo, hi in grow):
            x = pad_constant(x, grow, value=0.0 if value is None else float(value))
        return x
    for axis, (lo, hi) in enumerate(pairs):
        if not (lo or hi):
            continue
        n = x.shape[axis]
        limit = n - 1 if mode == "reflect" else n
        if min(lo, hi) < 0 or max(lo, hi) > limit or (mode == "replicate" and n == 0):
            raise ValueError(f"pad: {mode} widths {(lo, hi)} of axis {axis} must lie in "
                             f"[0, {limit}] for size {n}")
        # only the borders are gathered (their transpose, a scatter-add, stays small)
        index = _pad_index(n, lo, hi, mode)
        parts = ([_gather(x, axis, index[:lo])] if lo else []) + [x] + (
            [_gather(x, axis, index[lo + n:])] if hi else [])
        x = concatenate(parts, axis=axis)
    return x


# --------------------------------------------------------------------------- interpolate

INTERP_MODES = {"nearest": 0, "nearest-exact": 0, "area": 0, "linear": 1, "bilinear": 2,
                "trilinear": 3}


def _source(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """The fractional source coordinate of every output position (PyTorch's rule)."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        return dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    ratio = n_in / n_out if scale is None else 1.0 / scale
    return np.maximum((dst + 0.5) * ratio - 0.5, 0.0)


def _linear_matrix(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype: Any) -> np.ndarray:
    src = _source(n_in, n_out, scale, align_corners)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1.0 - frac)
    np.add.at(m, (rows, i1), frac)
    return m.astype(dtype)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    ratio = n_in / n_out if scale is None else 1.0 / scale
    dst = np.arange(n_out, dtype=np.float64)
    src = np.floor((dst + 0.5) * ratio) if exact else np.floor(dst * ratio)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _spec(value: Any, k: int, name: str, kind: type) -> list | None:
    if value is None:
        return None
    vals = list(value) if isinstance(value, (tuple, list)) else [value] * k
    if len(vals) != k:
        raise ValueError(f"interpolate: {name} must be one value or {k}, got {value!r}")
    return [kind(v) for v in vals]


def interpolate(input: Any, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """PyTorch's ``F.interpolate`` for (N, C, L), (N, C, H, W) and (N, C, D, H, W) inputs.

    Give ``size`` (output sizes) or ``scale_factor`` (output = floor(size * factor));
    with a factor the source coordinates use 1 / factor unless
    ``recompute_scale_factor=True``. ``align_corners`` (linear modes only, default False)
    maps the corner pixels' centres onto each other."""
    x = lift(input)
    if mode not in INTERP_MODES:
        raise ValueError(f"interpolate: mode must be one of {tuple(INTERP_MODES)}, got "
                         f"{mode!r}")
    k = x.ndim - 2
    if k < 1 or k > 3 or INTERP_MODES[mode] not in (0, k):
        raise ShapeError(f"interpolate: mode {mode!r} does not fit an input of shape "
                         f"{x.shape} (expected (N, C) and {INTERP_MODES[mode] or '1 to 3'} "
                         f"spatial axes)")
    if align_corners is not None and INTERP_MODES[mode] == 0:
        raise ValueError(f"interpolate: align_corners is only for the linear modes, not "
                         f"{mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    sizes, scales = _spec(size, k, "size", int), _spec(scale_factor, k, "scale_factor", float)
    if scales is not None:
        if min(scales) <= 0:
            raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
        sizes = [int(math.floor(n * s)) for n, s in zip(x.shape[2:], scales)]
        if recompute_scale_factor:
            scales = None
    if min(sizes) < 1 or min(x.shape[2:]) < 1:
        raise ShapeError(f"interpolate: output size {tuple(sizes)} and input size "
                         f"{x.shape[2:]} must be positive")
    if mode == "area":  # PyTorch's: adaptive average pooling to the output size
        if k == 3:
            raise ShapeError("interpolate: mode 'area' takes (N, C, L) or (N, C, H, W) "
                             f"inputs, got shape {x.shape}")
        return (adaptive_avg_pool1d if k == 1 else adaptive_avg_pool2d)(x, tuple(sizes))
    scales = scales or [None] * k
    for i, (n_in, n_out, s) in enumerate(zip(x.shape[2:], sizes, scales)):
        axis = 2 + i
        if INTERP_MODES[mode] == 0:
            if n_in != n_out or s not in (None, 1.0):
                x = _gather(x, axis, _nearest_index(n_in, n_out, s, mode == "nearest-exact"))
            continue
        m = _linear_matrix(n_in, n_out, s, bool(align_corners), x.dtype)
        # (..., n_in, rest) -> (..., n_out, rest): the axis to the end, a product, back
        moved = swapaxes(x, axis, -1) if axis != x.ndim - 1 else x
        out = matmul(moved, Tensor(np.ascontiguousarray(m.T)))
        x = swapaxes(out, axis, -1) if axis != x.ndim - 1 else out
    return x
