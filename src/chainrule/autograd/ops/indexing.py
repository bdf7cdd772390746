"""Indexing along an axis: gather and its transpose, sort, topk, scatter, masks, one_hot.

Two linear primitives carry every derivative here, as ``getitem``/``scatter_add`` do for
NumPy keys: ``gather`` (PyTorch's ``out[..., i, ...] = x[..., index[..., i, ...], ...]``
along ``axis``, index no larger than ``x`` in the other axes) and its transpose
``scatter_add_axis`` (add values into a zero tensor at those places; repeated indices add
up). ``sort``, ``topk``, ``partition``, ``unfold`` and the scatters are built from them, so
their second derivatives follow. Indices are parameters (constants), never differentiated.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from ...errors import ShapeError
from ..primitive import lift, linear, nondiff
from ..tensor import Tensor, _make
from .shape import broadcast_to, reshape

__all__ = ["ValuesIndices", "argsort", "gather", "partition", "sort", "take_along_axis"]


class ValuesIndices(NamedTuple):
    """What PyTorch's sort, topk, cummax and cummin return: ``(values, indices)``, also as
    ``.values`` and ``.indices``."""

    values: Tensor
    indices: Tensor


def _axis(op: str, axis: Any, ndim: int, arg: str = "dim") -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: {arg} must be an int, got {type(axis).__name__}")
    if not -builtins.max(ndim, 1) <= axis < builtins.max(ndim, 1):
        raise ShapeError(f"{op}: {arg}={axis} is out of range for a tensor with {ndim} "
                         f"dimensions")
    return int(axis) % builtins.max(ndim, 1)


def _grid(index: np.ndarray, axis: int) -> tuple:
    """The advanced-index tuple that reads ``x[..., index, ...]`` along ``axis`` at every
    position of ``index`` (open ranges over the other axes)."""
    nd = index.ndim
    return tuple(index if d == axis else
                 np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(index.shape))


def _gather_np(x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    if x.ndim == 0:
        return x[()] * np.ones(index.shape, x.dtype)
    return x[_grid(index, axis)]


def _scatter_add_axis_np(v: np.ndarray, index: np.ndarray, axis: int, shape: tuple
                         ) -> np.ndarray:
    if not shape:
        return np.asarray(v.sum(), dtype=v.dtype)
    if v.dtype.kind == "f":  # bincount sums in float64: an order faster than np.add.at
        flat = np.ravel_multi_index(np.broadcast_arrays(*_grid(index, axis)), shape)
        sums = np.bincount(flat.reshape(-1), weights=v.reshape(-1), minlength=int(np.prod(shape)))
        return sums.reshape(shape).astype(v.dtype, copy=False)
    out = np.zeros(shape, dtype=v.dtype)
    np.add.at(out, _grid(index, axis), v)
    return out


_gather = linear("gather", _gather_np, lambda g, y, x, index, axis: _scatter_add_axis(
    g, index=index, axis=axis, shape=x.shape))
_scatter_add_axis = linear("scatter_add_axis", _scatter_add_axis_np,
                           lambda g, y, v, index, axis, shape: _gather(g, index=index,
                                                                       axis=axis))


def _index_array(op: str, index: Any, x: Tensor, axis: int, arg: str = "index",
                 negative: bool = False) -> np.ndarray:
    """``index`` as an int64 array with ``x``'s number of axes, checked against ``x``;
    negative values count from the end only with ``negative`` (NumPy; PyTorch refuses)."""
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: {arg} must hold integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise ShapeError(f"{op}: {arg} must have as many dimensions as the input "
                         f"({x.ndim}), got shape {idx.shape}")
    if x.ndim == 0:
        n = 1
    else:
        for d in range(x.ndim):
            if d != axis and idx.shape[d] > x.shape[d]:
                raise ShapeError(f"{op}: {arg} of shape {idx.shape} is larger than the input "
                                 f"{x.shape} in dimension {d}")
        n = x.shape[axis]
    low = -n if negative else 0
    if idx.size and (idx.min() < low or idx.max() >= n):
        bad = idx.min() if idx.min() < low else idx.max()
        raise IndexError(f"{op}: {arg} value {bad} is out of range for dimension {axis} of "
                         f"size {n}")
    idx = idx.astype(np.int64, copy=False)
    return np.where(idx < 0, idx + n, idx) if idx.size and idx.min() < 0 else idx


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """PyTorch's gather: ``out[i][j] = x[index[i][j]][j]`` for ``dim=0`` (and so on);
    ``index`` has ``x``'s number of dimensions and is no larger in the others."""
    x = lift(x)
    axis = _axis("gather", dim, x.ndim)
    idx = _index_array("gather", index, x, axis)
    if x.ndim == 0:
        idx = idx.reshape(())
    return _gather(x, index=idx, axis=axis)


def take_along_axis(x: Any, indices: Any, axis: int | None) -> Tensor:
    """NumPy's take_along_axis (``axis=None`` works on the flattened array)."""
    x = lift(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis("take_along_axis", axis, x.ndim, "axis")
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.ndim == x.ndim and idx.shape != x.shape:  # NumPy broadcasts the other axes
        shape = list(np.broadcast_shapes(tuple(1 if d == axis else s
                                               for d, s in enumerate(x.shape)),
                                         tuple(1 if d == axis else s
                                               for d, s in enumerate(idx.shape))))
        shape[axis] = idx.shape[axis]
        idx = np.broadcast_to(idx, shape)
        xs = list(shape)
        xs[axis] = x.shape[axis]
        x = broadcast_to(x, tuple(xs))
    idx = _index_array("take_along_axis", idx, x, axis, "indices", negative=True)
    return _gather(x, index=idx, axis=axis)


# --------------------------------------------------------------------------- sorting


def _sort_axis(op: str, x: Tensor, axis: Any) -> tuple[Tensor, int]:
    if axis is None:
        return reshape(x, (-1,)), 0
    if x.ndim == 0:
        _axis(op, axis, 0, "axis")
        return reshape(x, (1,)), 0
    return x, _axis(op, axis, x.ndim, "axis")


def _squeeze0(x0: Tensor, y: Tensor) -> Tensor:
    return reshape(y, ()) if x0.ndim == 0 else y


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Tensor:
    """NumPy's sort: the values in ascending order along ``axis`` (None: flattened);
    the gradient goes back to where each value came from (ties: stable order)."""
    a0 = lift(a)
    x, ax = _sort_axis("sort", a0, axis)
    idx = np.argsort(x.data, axis=ax, kind="stable")
    return _squeeze0(a0, _gather(x, index=idx, axis=ax))


_argsort = nondiff("argsort", lambda x, axis, descending: _argsort_np(x, axis, descending))


def _argsort_np(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    # stable descending: sort the reversed array ascending by -x would break NaN order;
    # flip, stable-sort, flip back and re-map the indices
    n = x.shape[axis]
    flipped = np.flip(x, axis)
    idx = np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)
    return (n - 1 - idx).astype(np.int64)


def argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Tensor:
    """NumPy's argsort (stable): int64 indices that sort ``a`` along ``axis``."""
    a0 = lift(a)
    x, ax = _sort_axis("argsort", a0, axis)
    out = _argsort(x, axis=ax, descending=False)
    return _make(out.data.reshape(())) if a0.ndim == 0 else out


def partition(a: Any, kth: Any, axis: int | None = -1, kind: Any = None,
              order: Any = None) -> Tensor:
    """NumPy's partition: the ``kth`` element in its sorted place, smaller ones before it
    and larger ones after (same arrangement as ``np.partition``); differentiable."""
    a0 = lift(a)
    x, ax = _sort_axis("partition", a0, axis)
    n = x.shape[ax]
    for k in np.atleast_1d(kth):
        if not -n <= int(k) < n:
            raise IndexError(f"partition: kth={int(k)} is out of range for an axis of size {n}")
    idx = np.argpartition(x.data, kth, axis=ax)
    return _squeeze0(a0, _gather(x, index=idx, axis=ax))
