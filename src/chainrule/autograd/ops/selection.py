"""PyTorch's indexing functions: scatter family, index_select, masks, nonzero, one_hot,
topk, sort with indices, repeat_interleave, ``Tensor.unfold``.

Nothing here is a new derivative: each function is an index computation in NumPy (a
constant) followed by differentiable ops — ``gather``/``scatter_add_axis`` (``indexing``),
``getitem``, ``where`` and the reductions — so first and second derivatives, in both
modes, come from those. ``scatter_reduce`` lays every target's contributions out in a
padded row and reduces the rows with ``sum``/``prod``/``max``/``min``: the exact
gradients of those (ties in amax/amin share the gradient equally, as PyTorch; zeros in
prod are exact) carry over.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import const, lift, prim
from ..tensor import Tensor, _make
from .elementwise import abs as _abs
from .elementwise import exp, log, where
from .indexing import (
    ValuesIndices,
    _argsort_np,
    _axis,
    _gather,
    _grid,
    _index_array,
    _scatter_add_axis,
)
from .reductions import max as _rmax
from .reductions import min as _rmin
from .reductions import prod as _rprod
from .reductions import sum as _rsum
from .shape import broadcast_to, concatenate, getitem, reshape, transpose

__all__ = ["index_select", "masked_fill", "masked_select", "nonzero", "one_hot",
           "repeat_interleave", "scatter_reduce", "topk", "unfold_axis"]


def _src_for(op: str, src: Any, index: np.ndarray, x: Tensor) -> Tensor:
    """``src`` cut to ``index``'s shape (PyTorch reads only that corner of it)."""
    if not isinstance(src, Tensor) and np.ndim(src) == 0:
        return const(np.full(index.shape, src, dtype=x.dtype))
    src = lift(src, x)
    if src.ndim != index.ndim:
        raise ShapeError(f"{op}: src must have as many dimensions as index ({index.ndim}), "
                         f"got shape {src.shape}")
    if any(s < i for s, i in zip(src.shape, index.shape)):
        raise ShapeError(f"{op}: src of shape {src.shape} is smaller than index "
                         f"{index.shape}")
    if src.shape != index.shape:
        src = getitem(src, tuple(slice(0, n) for n in index.shape))
    return src


def _prepare(op: str, x: Any, dim: Any, index: Any) -> tuple[Tensor, int, np.ndarray]:
    x = lift(x)
    axis = _axis(op, dim, x.ndim)
    idx = _index_array(op, index, x, axis)
    if x.ndim == 0:
        idx = idx.reshape(())
    return x, axis, idx


def _hit_mask(idx: np.ndarray, axis: int, shape: tuple) -> np.ndarray:
    hit = np.zeros(shape, dtype=bool)
    if shape:
        hit[_grid(idx, axis)] = True
    else:
        hit[()] = idx.size > 0
    return hit


def _scatter_np(x: np.ndarray, s: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    out = x.copy()
    if x.ndim == 0:
        return s.reshape(()).copy() if s.size else out
    out[_grid(index, axis)] = s
    return out


def _scatter_x(g: Tensor, y: Tensor, x: Tensor, s: Tensor, index: np.ndarray, axis: int
               ) -> Tensor:
    return g * const((~_hit_mask(index, axis, x.shape)).astype(g.dtype))


# linear in (x, src) together: the written places come from src, the others from x
_scatter = prim("scatter", _scatter_np,
                vjp=(_scatter_x,
                     lambda g, y, x, s, index, axis: _gather(g, index=index, axis=axis)),
                jvp=(_scatter_x,
                     lambda t, y, x, s, index, axis: _scatter(
                         const(np.zeros(x.shape, t.dtype)), t, index=index, axis=axis)))


def scatter(x: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """PyTorch's scatter: a copy of ``x`` with ``x[index[i][j]][j] = src[i][j]`` (dim=0);
    ``value=`` writes a number. Repeated indices: one of the writes wins (as PyTorch,
    unspecified) and each gets the gradient of the place it wrote."""
    if reduce is not None:
        kinds = {"add": "sum", "multiply": "prod"}
        if reduce not in kinds:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        return scatter_reduce(x, dim, index, src if src is not None else value, kinds[reduce])
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src and value")
    x, axis, idx = _prepare("scatter", x, dim, index)
    s = _src_for("scatter", src if src is not None else value, idx, x)
    return _scatter(x, s, index=idx, axis=axis)


def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Tensor:
    """PyTorch's scatter_add: ``x`` with ``src[i][j]`` added at ``[index[i][j]][j]``
    (dim=0); repeated indices add up. (``chainrule.scatter_add(values, key, shape)`` is
    the transpose of NumPy indexing, another function.)"""
    x, axis, idx = _prepare("scatter_add", x, dim, index)
    s = _src_for("scatter_add", src, idx, x)
    return x + _scatter_add_axis(s, index=idx, axis=axis, shape=x.shape)


_REDUCERS = {"sum": (_rsum, 0.0), "mean": (_rsum, 0.0), "prod": (_rprod, 1.0),
             "amax": (_rmax, -np.inf), "amin": (_rmin, np.inf)}


def _padded(x: Tensor, s: Tensor, target: np.ndarray, counts: np.ndarray, reduce: str,
            include_self: bool) -> Tensor:
    """Every place's contributions in one padded row, reduced with sum/prod/max/min (their
    exact rules: zeros in prod, ties, inf and NaN). Memory: places x most contributions."""
    total = x.size
    fn, identity = _REDUCERS[reduce]
    parts = ([reshape(x, (-1,))] if include_self else []) + [reshape(s, (-1,))]
    values = concatenate([*parts, const(np.full(1, identity, dtype=x.dtype))])
    slots = np.full((total, max(int(counts.max(initial=0)), 1)), values.shape[0] - 1,
                    dtype=np.int64)
    fill = np.zeros(total, dtype=np.int64)
    if include_self:
        slots[:, 0] = np.arange(total)
        fill += 1
    order = np.argsort(target, kind="stable")
    sorted_t = target[order]
    col = np.arange(len(sorted_t)) - np.searchsorted(sorted_t, sorted_t) + fill[sorted_t]
    slots[sorted_t, col] = (total if include_self else 0) + order
    return reshape(fn(getitem(values, (slots,)), axis=1), x.shape)


def _extreme(x: Tensor, s: Tensor, idx: np.ndarray, axis: int, target: np.ndarray,
             reduce: str, include_self: bool) -> Tensor:
    """amax/amin as a weighted scatter_add: the tied extremes of a place get 1/ties each,
    so the value is the extreme and the gradient is shared among ties (O(size))."""
    total, flat_s = x.size, s.data.reshape(-1)
    pick = np.maximum if reduce == "amax" else np.minimum
    ref = np.full(total, -np.inf if reduce == "amax" else np.inf, dtype=x.dtype)
    pick.at(ref, target, flat_s)
    if include_self:
        ref = pick(ref, x.data.reshape(-1))
    tie_s = flat_s == ref[target]
    tie_x = (x.data.reshape(-1) == ref) & include_self
    ties = np.bincount(target, weights=tie_s, minlength=total) + tie_x
    ties = np.maximum(ties, 1).astype(x.dtype)
    w_s = const((tie_s / ties[target]).astype(x.dtype).reshape(idx.shape))
    out = _scatter_add_axis(s * w_s, index=idx, axis=axis, shape=x.shape)
    if include_self:
        out = out + x * const((tie_x / ties).astype(x.dtype).reshape(x.shape))
    return out


def _log_prod(x: Tensor, s: Tensor, idx: np.ndarray, axis: int, target: np.ndarray,
              include_self: bool) -> Tensor:
    """prod without zeros: sign * exp(scatter_add(log|v|)), O(size); d/dv = out / v."""
    negative = np.bincount(target, weights=s.data.reshape(-1) < 0, minlength=x.size)
    logs = _scatter_add_axis(log(_abs(s)), index=idx, axis=axis, shape=x.shape)
    if include_self:
        negative = negative + (x.data.reshape(-1) < 0)
        logs = logs + log(_abs(x))
    sign = np.where(negative.reshape(x.shape) % 2 == 1, -1, 1).astype(x.dtype)
    return const(sign) * exp(logs)


def scatter_reduce(x: Any, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """PyTorch's scatter_reduce with ``reduce`` in sum, prod, mean, amax, amin: every place
    of ``x`` reduced with the ``src`` values scattered onto it (and with itself when
    ``include_self``); places nothing is scattered onto keep ``x``'s value. Ties in
    amax/amin share the gradient; prod is exact at zeros (as PyTorch)."""
    if reduce not in _REDUCERS:
        raise ValueError(f"scatter_reduce: reduce must be one of {sorted(_REDUCERS)}, "
                         f"got {reduce!r}")
    x, axis, idx = _prepare("scatter_reduce", x, dim, index)
    s = _src_for("scatter_reduce", src, idx, x)
    shape, total = x.shape, x.size
    target = (np.arange(total).reshape(shape)[_grid(idx, axis)] if shape else np.zeros(
        idx.shape, dtype=np.int64)).reshape(-1)
    hits = np.bincount(target, minlength=total)
    counts = hits + (1 if include_self else 0)
    finite = np.isfinite(s.data).all() and not (include_self and not np.isfinite(x.data).all())
    if reduce in ("sum", "mean"):
        out = _scatter_add_axis(s, index=idx, axis=axis, shape=shape)
        out = x + out if include_self else out
        if reduce == "mean":
            out = out / const(np.maximum(counts, 1).astype(x.dtype).reshape(shape))
    elif reduce in ("amax", "amin") and finite:
        out = _extreme(x, s, idx, axis, target, reduce, include_self)
    elif reduce == "prod" and finite and (s.data != 0).all() and not (
            include_self and (x.data == 0).any()):
        out = _log_prod(x, s, idx, axis, target, include_self)
    else:  # zeros in prod, inf or NaN: the padded rows and the reductions' own rules
        out = _padded(x, s, target, counts, reduce, include_self)
    if include_self:
        return out
    return where(const(hits.reshape(shape) > 0), out, x)


def index_select(x: Any, dim: int, index: Any) -> Tensor:
    """The entries of ``x`` at ``index`` (1-D) along ``dim``."""
    x = lift(x)
    axis = _axis("index_select", dim, x.ndim)
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 0-d or 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    if idx.dtype.kind not in "iu" and idx.size:
        raise TypeError(f"index_select: index must hold integers, got dtype {idx.dtype}")
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"index_select: index value {bad} is out of range for dimension "
                         f"{axis} of size {n}")
    idx = idx.astype(np.int64)
    if x.ndim == 0:  # as PyTorch: one index, a 0-d result
        if idx.size != 1:
            raise ShapeError(f"index_select: a 0-d input takes one index, got {idx.size}")
        return getitem(reshape(x, (1,)), (idx.reshape(()),))
    return getitem(x, (slice(None),) * axis + (idx,))


def _bool_mask(op: str, mask: Any) -> np.ndarray:
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {m.dtype}")
    return m


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` where ``mask`` (broadcast to ``x``'s shape) is true."""
    x = lift(x)
    m = _bool_mask("masked_fill", mask)
    try:
        m = np.broadcast_to(m, x.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {m.shape} does not broadcast to the "
                         f"input's shape {x.shape}") from None
    v = value if isinstance(value, Tensor) else lift(value, x)
    if v.ndim:
        raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{v.shape}")
    if v.dtype != x.dtype and x.dtype.kind in "fc":
        v = v.astype(x.dtype)
    return where(m, v, x)


def masked_select(x: Any, mask: Any) -> Tensor:
    """The entries of ``x`` where ``mask`` is true (both broadcast), as a 1-D tensor."""
    x = lift(x)
    m = _bool_mask("masked_select", mask)
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {m.shape} and input of shape "
                         f"{x.shape} do not broadcast") from None
    return getitem(broadcast_to(x, shape), (np.broadcast_to(m, shape),))


def nonzero(x: Any, *, as_tuple: bool = False) -> Any:
    """Indices of the nonzero entries: int64 ``(N, ndim)``, or one 1-D tensor per axis."""
    a = np.asarray(x.data if isinstance(x, Tensor) else x)
    if as_tuple:
        return tuple(_make(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(a)))
    return _make(np.argwhere(a).astype(np.int64))


def one_hot(x: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot codes of the class indices in ``x`` (a new last axis)."""
    a = np.asarray(x.data if isinstance(x, Tensor) else x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"one_hot: input must hold integers (class indices), got {a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {a.min()}")
    n = int(a.max()) + 1 if num_classes == -1 and a.size else num_classes
    if num_classes == -1 and not a.size:
        raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
    if a.size and a.max() >= n:
        raise ValueError(f"one_hot: class value {a.max()} is out of range for "
                         f"num_classes={n}")
    return _make((a[..., None] == np.arange(n)).astype(np.int64))


def _sort_prepare(op: str, x: Any, dim: int) -> tuple[Tensor, int, bool]:
    x = lift(x)
    if x.ndim == 0:
        _axis(op, dim, 0)
        return reshape(x, (1,)), 0, True
    return x, _axis(op, dim, x.ndim), False


def _values(x: Tensor, idx: np.ndarray, axis: int) -> Tensor:
    if x.dtype.kind in "fc":
        return _gather(x, index=idx, axis=axis)
    return _make(np.take_along_axis(x.data, idx, axis))


def sort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> ValuesIndices:
    """PyTorch's sort: ``(values, indices)`` along ``dim`` (stable in either direction).
    ``chainrule.numpy.sort`` is NumPy's (values only)."""
    xs, axis, scalar = _sort_prepare("sort", x, dim)
    idx = _argsort_np(xs.data, axis, bool(descending))
    values = _values(xs, idx, axis)
    if scalar:
        return ValuesIndices(reshape(values, ()), _make(idx.reshape(())))
    return ValuesIndices(values, _make(idx))


def argsort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """PyTorch's argsort: int64 indices that sort ``x`` along ``dim``."""
    xs, axis, scalar = _sort_prepare("argsort", x, dim)
    idx = _argsort_np(xs.data, axis, bool(descending))
    return _make(idx.reshape(()) if scalar else idx)


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
         ) -> ValuesIndices:
    """The ``k`` largest (smallest) entries along ``dim``: ``(values, indices)``."""
    xs, axis, scalar = _sort_prepare("topk", x, dim)
    n = xs.shape[axis]
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k={k!r} must be an int in [0, {n}] (size of dimension "
                         f"{axis})")
    idx = np.take(_argsort_np(xs.data, axis, bool(largest)), np.arange(k), axis=axis)
    values = _values(xs, idx, axis)
    if scalar:
        return ValuesIndices(reshape(values, values.shape[1:] if k == 1 else values.shape),
                             _make(idx.reshape(()) if k == 1 else idx))
    return ValuesIndices(values, _make(idx))


def repeat_interleave(x: Any, repeats: Any, dim: int | None = None) -> Tensor:
    """Each entry repeated ``repeats`` times (a number, or one count per entry) along
    ``dim`` (None: the flattened input)."""
    x = lift(x)
    if dim is None:
        x, axis = reshape(x, (-1,)), 0
    else:
        axis = _axis("repeat_interleave", dim, x.ndim)
        if x.ndim == 0:
            x = reshape(x, (1,))
    n = x.shape[axis]
    reps = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if reps.dtype.kind not in "iu":
        raise TypeError(f"repeat_interleave: repeats must be integers, got {reps.dtype}")
    if reps.ndim > 1 or (reps.ndim == 1 and reps.shape[0] not in (1, n)):
        raise ShapeError(f"repeat_interleave: repeats must be a number or have {n} entries "
                         f"(size of dimension {axis}), got shape {reps.shape}")
    if (reps < 0).any():
        raise ValueError("repeat_interleave: repeats must be non-negative")
    idx = np.repeat(np.arange(n), reps.reshape(-1) if reps.ndim else int(reps))
    return getitem(x, (slice(None),) * axis + (idx,))


def unfold_axis(x: Any, dim: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: the windows of ``size`` entries every ``step`` along ``dim``; the
    window axis replaces ``dim`` and the entries form a new last axis."""
    x = lift(x)
    if x.ndim == 0:  # as PyTorch: one window of the single entry, shape (size,)
        _axis("unfold", dim, 0)
        return reshape(unfold_axis(reshape(x, (1,)), 0, size, step), (size,))
    axis = _axis("unfold", dim, x.ndim)
    n = x.shape[axis]
    if not isinstance(size, (int, np.integer)) or not 0 <= size <= n:
        raise ValueError(f"unfold: size={size!r} must be in [0, {n}] (size of dimension "
                         f"{axis})")
    if not isinstance(step, (int, np.integer)) or step <= 0:
        raise ValueError(f"unfold: step={step!r} must be a positive int")
    windows = np.arange((n - size) // step + 1)[:, None] * step + np.arange(size)[None, :]
    y = getitem(x, (slice(None),) * axis + (windows,))  # (..., nw, size, ...)
    nd = y.ndim
    perm = tuple(d for d in range(nd) if d != axis + 1) + (axis + 1,)
    return transpose(y, perm)
