"""Triangles and creation: tril, triu (linear masks); arange, linspace, eye, full, meshgrid.

``tril``/``triu`` keep the lower/upper triangle of the last two axes and zero the rest: a
linear op that is its own transpose. A 1-D input is first broadcast to a square (NumPy's
rule; PyTorch needs 2-D). The creation functions make constant tensors (``requires_grad``
as PyTorch's keyword); ``meshgrid`` and ``full_like`` differentiate through their inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import lift, linear
from ..tensor import Tensor, _make, get_default_dtype
from .shape import broadcast_to, reshape

__all__ = ["arange", "eye", "full", "full_like", "linspace", "meshgrid", "tril", "triu"]


_tril = linear("tril", lambda x, k: np.tril(x, k), lambda g, y, x, k: _tril(g, k=k))
_triu = linear("triu", lambda x, k: np.triu(x, k), lambda g, y, x, k: _triu(g, k=k))


def _triangle(p: Any, x: Any, diagonal: Any) -> Tensor:
    x = lift(x)
    if x.ndim == 0:
        raise ShapeError(f"{p.name}: input must have at least 1 dimension, got a 0-d tensor")
    if not isinstance(diagonal, (int, np.integer)):
        raise TypeError(f"{p.name}: diagonal must be an int, got {type(diagonal).__name__}")
    if x.ndim == 1:
        x = broadcast_to(x, (x.shape[0], x.shape[0]))
    return p(x, k=int(diagonal))


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """Lower triangle of the last two axes: elements with ``j - i <= diagonal`` are kept."""
    return _triangle(_tril, x, diagonal)


def triu(x: Any, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two axes: elements with ``j - i >= diagonal`` are kept."""
    return _triangle(_triu, x, diagonal)


# --------------------------------------------------------------------------- creation


def _number_dtype(*values: Any) -> np.dtype:
    """PyTorch's inference: bool -> bool, ints -> int64, any float -> the default dtype."""
    vals = [v.item() if isinstance(v, (Tensor, np.generic)) else v for v in values]
    if all(isinstance(v, (bool, np.bool_)) for v in vals):
        return np.dtype(bool)
    if all(isinstance(v, (int, np.integer)) for v in vals):
        return np.dtype(np.int64)
    return get_default_dtype()


def _new(arr: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return Tensor(arr, requires_grad=requires_grad) if requires_grad else _make(arr)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(n)`` counts from 0), as torch.arange:
    int64 when all arguments are ints, else the default float dtype."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    inferred = _number_dtype(start, end, step)
    if inferred.kind == "b":
        inferred = np.dtype(np.int64)
    arr = np.arange(start, end, step, dtype=np.float64 if inferred.kind == "f" else inferred)
    return _new(arr.astype(inferred, copy=False), dtype, requires_grad)


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (torch.linspace)."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    arr = np.linspace(float(start), float(end), int(steps)).astype(get_default_dtype())
    return _new(arr, dtype, requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False
        ) -> Tensor:
    """The ``n`` x ``m`` identity (ones on the diagonal), in the default float dtype."""
    for arg, v in (("n", n), ("m", m)):
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError(f"eye: {arg} must be a non-negative int, got {v!r}")
    return _new(np.eye(n, m, dtype=get_default_dtype()), dtype, requires_grad)


def _size(size: Any) -> tuple:
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if any(not isinstance(s, (int, np.integer)) or s < 0 for s in shape):
        raise ValueError(f"full: size must be non-negative ints, got {size!r}")
    return tuple(int(s) for s in shape)


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
         ) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred as in PyTorch)."""
    dt = np.dtype(dtype) if dtype is not None else _number_dtype(fill_value)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _new(np.full(_size(size), value, dtype=dt), None, requires_grad)


def full_like(x: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
              ) -> Tensor:
    """A tensor shaped like ``x`` (and of its dtype unless given) filled with ``fill_value``;
    a constant, as in PyTorch (no gradient flows to ``x`` or ``fill_value``)."""
    x = lift(x)
    dt = np.dtype(dtype) if dtype is not None else x.dtype
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _new(np.full(x.shape, value, dtype=dt), None, requires_grad)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D (or 0-d) tensors, differentiable in each; ``indexing="ij"``
    (PyTorch's default: matrix order) or ``"xy"`` (NumPy's default: the first two grid
    axes swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f'meshgrid: indexing must be "ij" or "xy", got {indexing!r}')
    ts = [lift(t) for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: tensor {i} must be 0-d or 1-D, got shape {t.shape}")
    ts = [reshape(t, (-1,)) for t in ts]
    sizes = [t.shape[0] for t in ts]
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[o] for o in order)
    out = []
    for i, t in enumerate(ts):
        where = order.index(i)
        view = [1] * len(ts)
        view[where] = sizes[i]
        out.append(broadcast_to(reshape(t, tuple(view)), shape))
    return tuple(out)
