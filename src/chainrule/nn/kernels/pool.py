"""Pooling with PyTorch's options: ``ceil_mode``, ``dilation``, ``return_indices`` (and
``max_unpool``), ``count_include_pad=False``, ``divisor_override``; adaptive average and
max pooling; the 1-D forms.

The plain cases (``max_pool2d`` without dilation, ceil mode or indices; ``avg_pool2d``
counting the padding without ceil mode) keep the fused kernels of ``kernels.conv``. The
others are compositions of linear primitives, so they are differentiable to any order:

* max pooling finds each window's first maximum in NumPy (NaN wins, as in PyTorch) and
  gathers it, so the gradient goes to that one element (PyTorch's rule);
* average pooling is separable: y = P_h x P_wᵀ with constant (out, in) matrices whose rows
  hold 1 / divisor over each window, which covers padding, ceil mode, the divisor rule
  and adaptive windows alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd.ops import getitem, lift, matmul, reshape, scatter_add, squeeze, unsqueeze
from ...autograd.tensor import Tensor
from ...errors import ShapeError
from .conv import as_pair
from .conv import avg_pool2d as _avg_pool2d_fused
from .conv import max_pool2d as _max_pool2d_fused


def _pair(v: Any, name: str, op: str, low: int) -> tuple[int, int]:
    pair = as_pair(v, name, op)
    if min(pair) < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {v!r}")
    return pair


def _out_len(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside
        out -= 1
    return out


def _geometry(x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, op: str) -> tuple:
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    k = _pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None or stride == () else _pair(stride, "stride", op, 1)
    p, d = _pair(padding, "padding", op, 0), _pair(dilation, "dilation", op, 1)
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel_size {k}")
    out = tuple(_out_len(n, kk, ss, pp, dd, ceil_mode)
                for n, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d))
    if min(out) < 1:
        raise ShapeError(f"{op}: kernel_size {k} (dilation {d}) is larger than the input "
                         f"{tuple(x.shape[2:])} with padding {p} (output size {out})")
    return k, s, p, d, out


def _gather_flat(x: Tensor, flat: np.ndarray) -> Tensor:
    """x (N, C, H, W) at flat per-map positions ``flat`` (N, C, *out): a gather."""
    n, c = x.shape[:2]
    rows = np.arange(n * c).reshape(n * c, 1)
    picked = getitem(reshape(x, (n * c, -1)), (rows, flat.reshape(n * c, -1)))
    return reshape(picked, flat.shape)


def _first_max(windows: np.ndarray) -> np.ndarray:
    """Index of each window's first maximum over the last axis (NaN counts as the max)."""
    return np.argmax(windows, axis=-1)


def _max_pool_index(xd: np.ndarray, k: tuple, s: tuple, p: tuple, d: tuple,
                    out: tuple) -> np.ndarray:
    n, c, h, w = xd.shape
    hi = [max(0, (o - 1) * ss + dd * (kk - 1) + 1 - size - pp)
          for o, ss, dd, kk, size, pp in zip(out, s, d, k, (h, w), p)]
    fill = -np.inf if xd.dtype.kind == "f" else np.iinfo(xd.dtype).min
    xp = np.pad(xd, ((0, 0), (0, 0), (p[0], hi[0]), (p[1], hi[1])), constant_values=fill)
    s0, s1, s2, s3 = xp.strides
    view = np.lib.stride_tricks.as_strided(
        xp, (n, c, out[0], out[1], k[0], k[1]),
        (s0, s1, s2 * s[0], s3 * s[1], s2 * d[0], s3 * d[1]), writeable=False)
    a = _first_max(view.reshape(n, c, out[0], out[1], k[0] * k[1]))
    ah, aw = np.divmod(a, k[1])
    row = np.arange(out[0])[:, None] * s[0] + ah * d[0] - p[0]
    col = np.arange(out[1])[None, :] * s[1] + aw * d[1] - p[1]
    return np.clip(row, 0, h - 1) * w + np.clip(col, 0, w - 1)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of (N, C, H, W); padding counts as -inf. With ``return_indices``
    also the flat index (h * W + w) of each maximum, for ``max_unpool2d``. The first
    maximum of a window (row-major) takes its gradient, as in PyTorch; without dilation,
    ceil mode or indices the fused kernel runs."""
    if not (ceil_mode or return_indices) and (dilation == 1 or dilation == (1, 1)):
        return _max_pool2d_fused(input, kernel_size, stride, padding)  # the plain case
    x = lift(input)
    k, s, p, d, out = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode,
                                "max_pool2d")
    idx = _max_pool_index(x.data, k, s, p, d, out)
    y = _gather_flat(x, idx)
    return (y, Tensor(idx.astype(np.int64))) if return_indices else y


def _unpool_size(x: Tensor, k: tuple, s: tuple, p: tuple, output_size: Any, op: str) -> tuple:
    default = tuple((n - 1) * ss - 2 * pp + kk for n, ss, pp, kk in zip(x.shape[2:], s, p, k))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)[-2:]
    if len(size) != 2 or any(abs(a - b) >= ss for a, b, ss in zip(size, default, s)):
        raise ValueError(f"{op}: output_size {tuple(output_size)} must be within a stride "
                         f"of the default size {default}")
    return size


def max_unpool2d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """max_pool2d's partial inverse: each value written at its index into zeros of size
    (H - 1) * stride - 2 * padding + kernel_size (or ``output_size``). An index given twice
    is written once (its first value)."""
    x = lift(input)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if x.ndim != 4 or idx.shape != x.shape or idx.dtype.kind not in "iu":
        raise ShapeError(f"max_unpool2d: indices must be integers of the input's shape "
                         f"(N, C, H, W) {x.shape}, got {idx.dtype} of shape {idx.shape}")
    k = _pair(kernel_size, "kernel_size", "max_unpool2d", 1)
    s = k if stride is None else _pair(stride, "stride", "max_unpool2d", 1)
    p = _pair(padding, "padding", "max_unpool2d", 0)
    ho, wo = _unpool_size(x, k, s, p, output_size, "max_unpool2d")
    n, c = x.shape[:2]
    flat = idx.reshape(n * c, -1)
    if flat.size and (flat.min() < 0 or flat.max() >= ho * wo):
        raise ValueError(f"max_unpool2d: indices must lie in [0, {ho * wo}) for output size "
                         f"{(ho, wo)}, got range [{flat.min()}, {flat.max()}]")
    rows = np.broadcast_to(np.arange(n * c)[:, None], flat.shape)
    values = reshape(x, (n * c, -1))
    key = rows * (ho * wo) + flat
    first = np.zeros(key.size, bool)
    first[np.unique(key.reshape(-1), return_index=True)[1]] = True
    if not first.all():  # duplicates: keep each index's first value only
        values = values * Tensor(first.reshape(flat.shape).astype(x.dtype))
    out = scatter_add(values, (rows, flat), (n * c, ho * wo))
    return reshape(out, (n, c, ho, wo))


# --------------------------------------------------------------------------- average


def _avg_matrix(n: int, k: int, s: int, p: int, out: int, count_include_pad: bool,
                divisor: int | None, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """(out, n) window indicator and per-window (padded, clipped) lengths."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    padded = end - start
    lo, hi = np.maximum(start, 0), np.minimum(end, n)
    m = ((np.arange(n) >= lo[:, None]) & (np.arange(n) < hi[:, None])).astype(dtype)
    return m, (padded if count_include_pad else np.maximum(hi - lo, 0))


def _separable(x: Tensor, mh: np.ndarray, mw: np.ndarray) -> Tensor:
    """mh x mwᵀ over the last two axes of x (N, C, H, W)."""
    y = matmul(Tensor(mh.astype(x.dtype)), x)
    return matmul(y, Tensor(np.ascontiguousarray(mw.T).astype(x.dtype)))


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows of (N, C, H, W), PyTorch's divisor: the window's size clipped to
    the padded input (``count_include_pad``), or to the input itself, or
    ``divisor_override``."""
    if not ceil_mode and count_include_pad and divisor_override is None:
        return _avg_pool2d_fused(input, kernel_size, stride, padding)  # the plain case
    x = lift(input)
    k, s, p, _, out = _geometry(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override < 1):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    plain = out == tuple(_out_len(n, kk, ss, pp, 1, False)
                         for n, kk, ss, pp in zip(x.shape[2:], k, s, p))
    if plain and divisor_override is None and (count_include_pad or p == (0, 0)):
        return _avg_pool2d_fused(x, k, s, p)
    (mh, lh), (mw, lw) = (_avg_matrix(n, kk, ss, pp, o, count_include_pad, divisor_override,
                                      np.float64)
                          for n, kk, ss, pp, o in zip(x.shape[2:], k, s, p, out))
    if divisor_override is not None:
        return _separable(x, mh, mw) * (1.0 / divisor_override)
    # the divisor is a product of the two lengths: fold one into each matrix
    return _separable(x, mh / np.maximum(lh, 1)[:, None], mw / np.maximum(lw, 1)[:, None])


def _adaptive_bounds(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_size(x: Tensor, output_size: Any, op: str) -> tuple[int, int]:
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    pair = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(
        output_size)
    if len(pair) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(n if v is None else v for v, n in zip(pair, x.shape[2:]))
    if not all(isinstance(v, (int, np.integer)) and v >= 1 for v in size) or min(
            x.shape[2:]) < 1:
        raise ValueError(f"{op}: output_size must be positive ints (or None), got "
                         f"{output_size!r} for input {x.shape}")
    return int(size[0]), int(size[1])


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows [floor(i·H/Ho), ceil((i+1)·H/Ho))."""
    x = lift(input)
    out = _adaptive_size(x, output_size, "adaptive_avg_pool2d")
    mats = []
    for n, o in zip(x.shape[2:], out):
        lo, hi = _adaptive_bounds(n, o)
        m = (np.arange(n) >= lo[:, None]) & (np.arange(n) < hi[:, None])
        mats.append(m / (hi - lo)[:, None])
    return _separable(x, *mats)


def adaptive_max_pool2d(input: Any, output_size: Any,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over PyTorch's adaptive windows; the first maximum takes the gradient."""
    x = lift(input)
    out = _adaptive_size(x, output_size, "adaptive_max_pool2d")
    (lh, hh), (lw, hw) = (_adaptive_bounds(n, o) for n, o in zip(x.shape[2:], out))
    kh, kw = int((hh - lh).max()), int((hw - lw).max())
    # each window padded to the widest by repeating its last row / column
    rows = np.minimum(lh[:, None] + np.arange(kh), hh[:, None] - 1)  # (Ho, kh)
    cols = np.minimum(lw[:, None] + np.arange(kw), hw[:, None] - 1)  # (Wo, kw)
    xd = x.data
    win = xd[:, :, rows[:, :, None, None], cols[None, None, :, :]]  # (N, C, Ho, kh, Wo, kw)
    n, c = xd.shape[:2]
    a = _first_max(win.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, out[0], out[1], kh * kw))
    ah, aw = np.divmod(a, kw)
    r = rows[np.arange(out[0])[:, None], ah]
    q = cols[np.arange(out[1])[None, :], aw]
    idx = r * xd.shape[3] + q
    y = _gather_flat(x, idx)
    return (y, Tensor(idx.astype(np.int64))) if return_indices else y


# --------------------------------------------------------------------------- 1-D forms


def _as_2d(x: Any, op: str) -> Tensor:
    x = lift(x)
    if x.ndim != 3:
        raise ShapeError(f"{op}: expected input (N, C, L), got shape {x.shape}")
    return unsqueeze(x, 2)


def _one(v: Any, name: str, op: str) -> tuple | None:
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{op}: {name} must be an int, got {v!r}")
        v = v[0]
    return (1, v) if name != "padding" else (0, v)


def _back(y: Any) -> Any:
    if isinstance(y, tuple):
        return squeeze(y[0], 2), Tensor(np.squeeze(y[1].data, 2))
    return squeeze(y, 2)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of a (N, C, L) input (max_pool2d's options)."""
    x = _as_2d(input, "max_pool1d")
    return _back(max_pool2d(x, _one(kernel_size, "kernel_size", "max_pool1d"),
                            _one(stride, "stride", "max_pool1d"),
                            _one(padding, "padding", "max_pool1d"),
                            _one(dilation, "dilation", "max_pool1d"), ceil_mode,
                            return_indices))


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of a (N, C, L) input (avg_pool2d's options)."""
    x = _as_2d(input, "avg_pool1d")
    return _back(avg_pool2d(x, _one(kernel_size, "kernel_size", "avg_pool1d"),
                            _one(stride, "stride", "avg_pool1d"),
                            _one(padding, "padding", "avg_pool1d"), ceil_mode,
                            count_include_pad))


def max_unpool1d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """max_pool1d's partial inverse (see max_unpool2d)."""
    x = _as_2d(input, "max_unpool1d")
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)[:, :, None]
    size = None if output_size is None else (1, tuple(output_size)[-1])
    return squeeze(max_unpool2d(x, idx, _one(kernel_size, "kernel_size", "max_unpool1d"),
                                _one(stride, "stride", "max_unpool1d"),
                                _one(padding, "padding", "max_unpool1d"), size), 2)


def _one_size(output_size: Any, op: str) -> tuple:
    v = output_size[0] if isinstance(output_size, (tuple, list)) and len(output_size) == 1 \
        else output_size
    if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
        raise ValueError(f"{op}: output_size must be a positive int, got {output_size!r}")
    return (1, v)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    x = _as_2d(input, "adaptive_avg_pool1d")
    return squeeze(adaptive_avg_pool2d(x, _one_size(output_size, "adaptive_avg_pool1d")), 2)


def adaptive_max_pool1d(input: Any, output_size: Any,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    x = _as_2d(input, "adaptive_max_pool1d")
    return _back(adaptive_max_pool2d(x, _one_size(output_size, "adaptive_max_pool1d"),
                                     return_indices))

