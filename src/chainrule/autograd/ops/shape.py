"""Movement and indexing: reshape, transpose, broadcast, pad, concatenate, getitem, ...

Movement ops are linear, so each is declared with ``linear``: its jvp is the op itself on
the tangent and its vjp the inverse movement (tinygrad's movement ops): reshape back,
the inverse permutation, ``sum_to`` for ``broadcast_to`` and back, scatter for getitem.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import Each, lift, linear, prim
from ..tensor import Tensor

__all__ = ["broadcast_to", "cast", "cat", "concatenate", "expand", "flatten", "flip", "getitem",
           "pad", "permute", "reshape", "scatter_add", "split", "squeeze", "stack", "sum_to",
           "swapaxes", "transpose", "unsqueeze"]


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """``axis`` (None, an int or a sequence, negatives allowed) as sorted non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ShapeError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(out))


# --------------------------------------------------------------------------- movement


def _sum_to_np(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    return (np.sum(x, axis=axes, keepdims=True) if axes else x).reshape(shape)


_reshape = linear("reshape", lambda x, shape: np.reshape(x, shape),
                  lambda g, y, x, shape: _reshape(g, shape=x.shape))
_transpose = linear("transpose", lambda x, axes: np.transpose(x, axes),
                    lambda g, y, x, axes: _transpose(g, axes=tuple(np.argsort(axes))))
_broadcast_to = linear("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                       lambda g, y, x, shape: _sum_to(g, shape=x.shape))
_sum_to = linear("sum_to", _sum_to_np, lambda g, y, x, shape: _broadcast_to(g, shape=x.shape))
_flip = linear("flip", lambda x, axis: np.flip(x, axis),
               lambda g, y, x, axis: _flip(g, axis=axis))
_cast = linear("cast", lambda x, dtype: x.astype(dtype),
               lambda g, y, x, dtype: _cast(g, dtype=x.dtype))


def _pad_np(x: np.ndarray, widths: tuple, value: float) -> np.ndarray:
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad(g: Tensor, widths: tuple) -> Tensor:
    return getitem(g, tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(widths)))


# affine, not linear, when value != 0: its tangent is padded with zeros
_pad = prim("pad", _pad_np,
            vjp=lambda g, y, x, widths, value: _unpad(g, widths),
            jvp=lambda t, y, x, widths, value: _pad(t, widths=widths, value=0.0))


def reshape(x: Any, shape: Any) -> Tensor:
    x = lift(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if shape == x.shape:
        return x
    return _reshape(x, shape=shape)


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None), as ``np.transpose``."""
    x = lift(x)
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(
        int(a) % builtins.max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    return _transpose(x, axes=axes)


permute = transpose


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    x = lift(x)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    x = lift(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return _broadcast_to(x, shape=shape)


expand = broadcast_to


def sum_to(x: Any, shape: Any) -> Tensor:
    """Sum a broadcast tensor back down to ``shape`` (the transpose of ``broadcast_to``)."""
    x = lift(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return _sum_to(x, shape=shape)


def cast(x: Any, dtype: Any) -> Tensor:
    x = lift(x)
    dtype = np.dtype(dtype)
    return x if dtype == x.dtype else _cast(x, dtype=dtype)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_axis(axis, x.ndim)
    if x.ndim == 0:
        return x
    # as PyTorch: an axis whose size is not 1 is left alone (NumPy raises)
    axes = tuple(a for a in axes if x.shape[a] == 1)
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    x = lift(x)
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    x = lift(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_axis % x.ndim, end_axis % x.ndim
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def flip(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    return _flip(x, axis=normalize_axis(axis, x.ndim))


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as in ``np.pad`` (an int, a pair, or a pair per axis)."""
    x = lift(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width}")
    return _pad(x, widths=tuple(map(tuple, widths.tolist())), value=value)


# --------------------------------------------------------------------------- joining


def _concat_vjp(i: int, g: Tensor, y: Tensor, *xs: Tensor, axis: int) -> Tensor:
    start = int(np.sum([x.shape[axis] for x in xs[:i]], dtype=int))
    key = (slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),)
    return getitem(g, key)


def _concat_jvp(i: int, t: Tensor, y: Tensor, *xs: Tensor, axis: int) -> Tensor:
    before = int(np.sum([x.shape[axis] for x in xs[:i]], dtype=int))
    after = y.shape[axis] - before - xs[i].shape[axis]
    widths = [(0, 0)] * y.ndim
    widths[axis] = (before, after)
    return _pad(t, widths=tuple(widths), value=0.0)


# linear in all arguments together: argument i's tangent lands in its slot, zeros elsewhere
_concatenate = prim("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                    vjp=Each(_concat_vjp), jvp=Each(_concat_jvp))


def concatenate(tensors: Any, axis: int = 0) -> Tensor:
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    return _concatenate(*ts, axis=normalize_axis(axis, ts[0].ndim)[0])


cat = concatenate


def stack(tensors: Any, axis: int = 0) -> Tensor:
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in ts], axis=axis % (ts[0].ndim + 1))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split along ``axis`` as ``np.split``: a number of equal parts or a list of cut points."""
    x = lift(x)
    axis = normalize_axis(axis, x.ndim)[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal parts")
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = list(indices_or_sections)
    bounds = [0, *cuts, n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


# --------------------------------------------------------------------------- indexing


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               for k in key)


def _add_at(buf: np.ndarray, g: np.ndarray, key: tuple) -> None:
    """buf[key] += g, with repeated advanced indices adding up."""
    if _is_basic(key):
        buf[key] += g
    else:
        np.add.at(buf, key, g)


def _scatter_np(g: np.ndarray, key: tuple, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    _add_at(out, g, key)
    return out


_getitem = linear("getitem", lambda x, key: x[key],
                  lambda g, y, x, key: _scatter(g, key=key, shape=x.shape), accumulate=_add_at)
# The transpose of indexing: add the values into a zero tensor at ``key``.
_scatter = linear("scatter_add", _scatter_np,
                  lambda g, y, x, key, shape: _getitem(g, key=key))


def _index_part(k: Any) -> Any:
    if isinstance(k, Tensor):
        k = k.data
    if isinstance(k, list):
        k = np.asarray(k)
    return k


def getitem(x: Any, key: Any) -> Tensor:
    """``x[key]`` with NumPy's basic and advanced indexing; repeated indices add up in the
    gradient (the transpose is ``scatter_add``)."""
    x = lift(x)
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else (_index_part(key),)
    return _getitem(x, key=key)


def scatter_add(values: Any, key: Any, shape: Any) -> Tensor:
    """A zero tensor of ``shape`` with ``values`` added at ``key`` (duplicates accumulate)."""
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else (_index_part(key),)
    return _scatter(lift(values), key=key, shape=tuple(shape))
