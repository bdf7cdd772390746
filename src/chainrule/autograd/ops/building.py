"""Shape and array building with NumPy's names: diag, diagonal, trace, tile, roll, the stacks, the
splits, kron, cross, diff, tensordot, ...

Every op here is a composite of differentiable primitives (getitem and its transpose
scatter_add, reshape, transpose, broadcast_to, concatenate, mul, einsum), so each has
reverse and forward rules of every order without a rule of its own. Semantics follow NumPy
(``np.diag``, ``np.repeat``, ``np.r_``, ...), including its argument names.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import lift, lift_pair
from ..tensor import Tensor
from .linalg import diagonal_last, einsum
from .reductions import sum as _rsum
from .shape import (
    broadcast_to,
    cast,
    concatenate,
    getitem,
    reshape,
    scatter_add,
    split,
    stack,
    transpose,
)

__all__ = ["append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "c_",
           "column_stack", "cross", "diag", "diagonal", "diff", "dot", "dsplit", "dstack",
           "hsplit", "hstack", "inner", "kron", "moveaxis", "outer", "r_", "ravel", "repeat",
           "roll", "rollaxis", "row_stack", "tensordot", "tile", "trace", "vsplit", "vstack"]


def _axis(op: str, axis: Any, ndim: int) -> int:
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return a % ndim


def ravel(a: Any) -> Tensor:
    """The elements as a 1-D tensor (C order), as ``np.ravel``."""
    return reshape(lift(a), (-1,))


# --------------------------------------------------------------------------- diagonals


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal over ``axis1``/``axis2``, appended as the last axis (``np.diagonal``)."""
    x = lift(a)
    if x.ndim < 2:
        raise ShapeError(f"diagonal: a must be at least 2-D, got shape {x.shape}")
    a1, a2 = _axis("diagonal", axis1, x.ndim), _axis("diagonal", axis2, x.ndim)
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    return diagonal_last(x, a1, a2, int(offset))


def diag(v: Any, k: int = 0) -> Tensor:
    """A 1-D ``v`` as the k-th diagonal of a square matrix; the k-th diagonal of a 2-D one."""
    x = lift(v)
    if x.ndim == 2:
        return diagonal_last(x, 0, 1, int(k))
    if x.ndim != 1:
        raise ShapeError(f"diag: v must be 1-D or 2-D, got shape {x.shape}")
    n = x.shape[0] + builtins.abs(k)
    i = np.arange(x.shape[0])
    return scatter_add(x, (i + builtins.max(-k, 0), i + builtins.max(k, 0)), (n, n))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum along a diagonal, as ``np.trace``."""
    return _rsum(diagonal(a, offset, axis1, axis2), axis=-1)


# --------------------------------------------------------------------------- repeating, moving


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Repeat each element (along ``axis``; flattened when None), as ``np.repeat``."""
    x = lift(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = _axis("repeat", axis, x.ndim)
    reps = np.asarray(repeats)
    if reps.dtype.kind not in "iu" or (reps < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    index = np.repeat(np.arange(x.shape[axis]), reps)
    return getitem(x, (slice(None),) * axis + (index,))


def tile(A: Any, reps: Any) -> Tensor:  # noqa: N803  (NumPy's name)
    """Repeat the whole tensor ``reps`` times along each axis, as ``np.tile``."""
    x = lift(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    d = builtins.max(len(reps), x.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - x.ndim) + x.shape
    # (1, s0, 1, s1, ...) broadcast to (r0, s0, r1, s1, ...), then merged pairwise
    x = reshape(x, tuple(v for s in shape for v in (1, s)))
    x = broadcast_to(x, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape)))


def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements cyclically along ``axis`` (the flattened tensor when None)."""
    x = lift(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    total: dict[int, int] = {}
    for s, ax in zip(shifts.ravel().tolist(), axes.ravel().tolist()):
        ax = _axis("roll", ax, x.ndim)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = x.shape[ax]
        if n and s % n:
            x = getitem(x, (slice(None),) * ax + ((np.arange(n) - s) % n,))
    return x


def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move axes to new positions, the others keeping their order (``np.moveaxis``)."""
    x = lift(a)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         f"elements, got {source} and {destination}")
    src = [_axis("moveaxis", s, x.ndim) for s in src]
    dst = [_axis("moveaxis", d, x.ndim) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in {source} or {destination}")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, tuple(order))


def rollaxis(a: Any, axis: int, start: int = 0) -> Tensor:
    """Roll ``axis`` backwards until it lies before ``start`` (``np.rollaxis``)."""
    x = lift(a)
    axis = _axis("rollaxis", axis, x.ndim)
    if not -x.ndim <= start <= x.ndim:
        raise ShapeError(f"rollaxis: start {start} is out of range for {x.ndim} dimensions")
    start = start + x.ndim if start < 0 else start
    if axis < start:
        start -= 1
    if axis == start:
        return x
    order = [i for i in range(x.ndim) if i != axis]
    order.insert(start, axis)
    return transpose(x, tuple(order))


# --------------------------------------------------------------------------- stacking


def _atleast(x: Any, n: int) -> Tensor:
    x = lift(x)
    if x.ndim >= n:
        return x
    if n == 3 and x.ndim == 1:
        return reshape(x, (1, x.shape[0], 1))
    if n == 3 and x.ndim == 2:
        return reshape(x, x.shape + (1,))
    return reshape(x, (1,) * (n - x.ndim) + x.shape)


def _atleast_all(arys: tuple, n: int) -> Any:
    out = [_atleast(a, n) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    """Each input as a tensor with at least one axis (one result for one input)."""
    return _atleast_all(arys, 1)


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least two axes; a 1-D (N,) becomes (1, N)."""
    return _atleast_all(arys, 2)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least three axes: (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    return _atleast_all(arys, 3)


def _seq(op: str, tup: Any) -> list:
    if isinstance(tup, Tensor) or not isinstance(tup, (list, tuple)):
        raise TypeError(f"{op}: tup must be a list or tuple of arrays, got {type(tup).__name__}")
    if not tup:
        raise ValueError(f"{op}: need at least one array")
    return list(tup)


def vstack(tup: Any) -> Tensor:
    """Stack along the first axis after ``atleast_2d`` (``np.vstack``)."""
    return concatenate([_atleast(t, 2) for t in _seq("vstack", tup)], axis=0)


row_stack = vstack


def hstack(tup: Any) -> Tensor:
    """Stack along the second axis (the first for 1-D inputs), as ``np.hstack``."""
    ts = [_atleast(t, 1) for t in _seq("hstack", tup)]
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1)


def dstack(tup: Any) -> Tensor:
    """Stack along the third axis after ``atleast_3d`` (``np.dstack``)."""
    return concatenate([_atleast(t, 3) for t in _seq("dstack", tup)], axis=2)


def column_stack(tup: Any) -> Tensor:
    """1-D inputs as columns, 2-D ones as they are, stacked along axis 1."""
    ts = [lift(t) for t in _seq("column_stack", tup)]
    ts = [reshape(t, (t.shape[0], 1)) if t.ndim == 1 else _atleast(t, 2) for t in ts]
    return concatenate(ts, axis=1)


def append(arr: Any, values: Any, axis: int | None = None) -> Tensor:
    """``arr`` with ``values`` added at the end (both flattened when ``axis`` is None)."""
    a, v = lift_pair(arr, values)
    if axis is None:
        return concatenate([ravel(a), ravel(v)], axis=0)
    return concatenate([a, v], axis=axis)


# --------------------------------------------------------------------------- splitting


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """``np.array_split``: like ``split``, but n sections need not divide the axis evenly."""
    x = lift(ary)
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"array_split: number of sections must be positive, got {k}")
        n = x.shape[_axis("array_split", axis, x.ndim)]
        size, extra = divmod(n, k)
        sizes = [size + 1] * extra + [size] * (k - extra)
        indices_or_sections = np.cumsum(sizes)[:-1].tolist()
    return split(x, indices_or_sections, axis)


def _split_nd(op: str, ary: Any, indices_or_sections: Any, axis: int, min_ndim: int) -> list:
    x = lift(ary)
    if x.ndim < min_ndim:
        raise ShapeError(f"{op}: ary must have at least {min_ndim} dimensions, got shape "
                         f"{x.shape}")
    return split(x, indices_or_sections, axis)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """``split`` along axis 0 of a tensor with at least 2 dimensions."""
    return _split_nd("vsplit", ary, indices_or_sections, 0, 2)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """``split`` along axis 1 (axis 0 of a 1-D tensor)."""
    x = lift(ary)
    return _split_nd("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, 1)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Tensor]:
    """``split`` along axis 2 of a tensor with at least 3 dimensions."""
    return _split_nd("dsplit", ary, indices_or_sections, 2, 3)


# --------------------------------------------------------------------------- products


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum products over the given axes of ``a`` and ``b``, as ``np.tensordot``."""
    a, b = lift_pair(a, b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > builtins.min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={n} does not fit shapes {a.shape} and {b.shape}")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ShapeError(f"tensordot: axes {axes} pair up unequal numbers of axes")
        ax_a = [_axis("tensordot", i, a.ndim) for i in ax_a]
        ax_b = [_axis("tensordot", i, b.ndim) for i in ax_b]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if a.ndim + b.ndim - len(ax_a) > len(letters):
        raise ShapeError(f"tensordot: too many axes ({a.shape}, {b.shape})")
    sa = letters[:a.ndim]
    free = iter(letters[a.ndim:])
    sb = "".join(sa[ax_a[ax_b.index(j)]] if j in ax_b else next(free) for j in range(b.ndim))
    out = "".join(c for i, c in enumerate(sa) if i not in ax_a) + "".join(
        c for j, c in enumerate(sb) if j not in ax_b)
    return einsum(f"{sa},{sb}->{out}", a, b)


def dot(a: Any, b: Any) -> Tensor:
    """``np.dot``: products with a scalar, inner product of vectors, matrix product, and
    over the last axis of ``a`` and the second-to-last of ``b`` in general."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1 if b.ndim == 1 else -2]))


def inner(a: Any, b: Any) -> Tensor:
    """Sum of products over the last axes (``np.inner``); a scalar operand multiplies."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of the flattened inputs: (M,) x (N,) -> (M, N)."""
    a, b = lift_pair(a, b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def kron(a: Any, b: Any) -> Tensor:
    """Kronecker product, as ``np.kron`` (the shorter shape padded with leading ones)."""
    a, b = lift_pair(a, b)
    d = builtins.max(a.ndim, b.ndim)
    sa, sb = (1,) * (d - a.ndim) + a.shape, (1,) * (d - b.ndim) + b.shape
    prod = reshape(a, tuple(v for s in sa for v in (s, 1))) * reshape(
        b, tuple(v for s in sb for v in (1, s)))
    return reshape(prod, tuple(p * q for p, q in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Tensor:
    """Cross product of 3-vectors along the given axes (broadcasting the others)."""
    a, b = lift_pair(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, _axis("cross", axisa, a.ndim), -1)
    b = moveaxis(b, _axis("cross", axisb, b.ndim), -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ShapeError(f"cross: vectors must have 3 components along the axis, got shapes "
                         f"{a.shape} and {b.shape} (2-component vectors are not supported)")
    a0, a1, a2 = (getitem(a, (Ellipsis, i)) for i in range(3))
    b0, b1, b2 = (getitem(b, (Ellipsis, i)) for i in range(3))
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, _axis("cross", axisc, c.ndim))


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None
         ) -> Tensor:
    """The n-th forward difference along ``axis``, as ``np.diff`` (with prepend/append)."""
    x = lift(a)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative, got n={n}")
    if x.ndim == 0:
        raise ShapeError("diff: a must be at least 1-D")
    axis = _axis("diff", axis, x.ndim)
    edge = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    ts = [x]
    if prepend is not None:
        p = lift(prepend, x)
        ts.insert(0, broadcast_to(p, edge) if p.ndim == 0 else p)
    if append is not None:
        p = lift(append, x)
        ts.append(broadcast_to(p, edge) if p.ndim == 0 else p)
    x = concatenate(ts, axis=axis) if len(ts) > 1 else x
    lead = (slice(None),) * axis
    for _ in range(n):
        x = getitem(x, lead + (slice(1, None),)) - getitem(x, lead + (slice(None, -1),))
    return x


# --------------------------------------------------------------------------- r_ and c_


class _Concatenator:
    """``r_[...]``/``c_[...]``: slices become ranges, scalars and arrays are concatenated;
    an optional leading string ``'axis[,ndmin[,trans1d]]'`` as in NumPy."""

    def __init__(self, axis: int, ndmin: int, trans1d: int) -> None:
        self.defaults = (axis, ndmin, trans1d)

    def __getitem__(self, key: Any) -> Tensor:
        items = list(key) if isinstance(key, tuple) else [key]
        axis, ndmin, trans1d = self.defaults
        if items and isinstance(items[0], str):
            try:
                vals = [int(v) for v in items.pop(0).split(",")]
            except ValueError:
                raise ValueError("r_/c_: only the 'axis[,ndmin[,trans1d]]' directive is "
                                 "supported") from None
            axis, ndmin, trans1d = (*vals, *self.defaults[len(vals):])[:3]
        parts = []
        for item in items:
            if isinstance(item, slice):
                step = 1 if item.step is None else item.step
                start = 0 if item.start is None else item.start
                if isinstance(step, complex):
                    t = lift(np.linspace(start, item.stop, int(builtins.abs(step))))
                else:
                    t = lift(np.arange(start, item.stop, step))
                t = _ndmin(t, ndmin, trans1d)
            else:
                t = _ndmin(lift(item), ndmin, trans1d)
            parts.append(t)
        if not parts:
            raise ValueError("r_/c_: nothing to concatenate")
        return concatenate(_common_float(parts), axis=axis)


def _ndmin(t: Tensor, ndmin: int, trans1d: int) -> Tensor:
    if t.ndim >= ndmin:
        return t
    k2 = ndmin - t.ndim
    old = t.ndim
    t = reshape(t, (1,) * k2 + t.shape)
    if trans1d != -1 and old > 0:
        k1 = trans1d + k2 + 1 if trans1d < 0 else trans1d
        axes = list(range(ndmin))
        t = transpose(t, tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))
    return t


def _common_float(ts: list) -> list:
    dtype = np.result_type(*[t.dtype for t in ts])
    return [cast(t, dtype) for t in ts]


r_ = _Concatenator(0, 1, -1)
c_ = _Concatenator(-1, 2, 0)
