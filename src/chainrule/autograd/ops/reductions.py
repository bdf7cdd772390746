"""Reductions over axes: sum, mean, max, min, prod, logsumexp; var, std, norm; argmax.

Every reduction takes ``axis`` (None = all, an int or a tuple) and ``keepdims``. sum and
mean are linear. The others are declared by their partial derivative d y / d x (in x's
shape): vjp = (g broadcast back over the reduced axes) * partial, jvp = sum(t * partial).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import Primitive, const, elementwise, lift, linear, mask_like, nondiff, prim
from ..tensor import Tensor
from .elementwise import exp, where
from .shape import broadcast_to, normalize_axis, reshape, transpose, unsqueeze

__all__ = ["argmax", "argmin", "logsumexp", "max", "mean", "min", "norm", "prod", "std", "sum",
           "var"]


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _unreduce(g: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """Broadcast a reduced cotangent back over the reduced axes of ``x``."""
    if not keepdims:
        g = reshape(g, _kept_shape(x.data.shape, axis))
    return broadcast_to(g, x.data.shape)


def _keep(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    return y if keepdims else reshape(y, _kept_shape(x.data.shape, axis))


def _count(shape: tuple, axis: tuple | None) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axis)


def _axes(x: Tensor, axis: Any) -> tuple[int, ...] | None:
    """``axis`` normalised for ``x``; a 0-d tensor reduces over axis 0 or -1 (or a tuple of
    them) as over all its axes, as in PyTorch."""
    if x.ndim == 0 and axis is not None:
        for a in (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis):
            if int(a) not in (0, -1):
                raise ShapeError(f"axis {int(a)} is out of range for a 0-d tensor (0 or -1)")
        return None
    return normalize_axis(axis, x.ndim)


def _reduction(name: str, forward: Any, partial: Any) -> Primitive:
    """A reduction from ``partial(y, x, axis, keepdims)``, d y / d x in x's shape."""
    return prim(name, forward,
                vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
                * partial(y, x, axis, keepdims),
                jvp=lambda t, y, x, axis, keepdims: _sum(
                    t * partial(y, x, axis, keepdims), axis=axis, keepdims=keepdims))


_sum = linear("sum", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
              lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims))
_mean = linear("mean", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims)
               / x.dtype.type(_count(x.shape, axis)) if x.dtype.kind == "f"
               else np.mean(x, axis=axis, keepdims=keepdims),
               lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
               / _count(x.shape, axis))


def _extreme_weights(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """Share of each element in a max/min: 1/(number of ties) at the extreme, else 0."""
    hit = x.data == _keep(y, x, axis, keepdims).data
    weights = hit.astype(x.data.dtype)
    counts = hit.sum(axis=axis, keepdims=True)
    if counts.max(initial=0) > 1:
        weights /= counts
    return const(weights)


def _prod_others(x: Tensor, axis: tuple | None) -> Tensor:
    """For each element, the product of the other elements in its reduction group."""
    nd = x.ndim
    axes = tuple(range(nd)) if axis is None else axis
    rest = tuple(i for i in range(nd) if i not in axes)
    moved = transpose(x, rest + axes)
    lead = moved.shape[:len(rest)]
    n = _count(x.shape, axes)
    flat = reshape(moved, lead + (n,))
    eye = np.eye(n, dtype=bool)
    grid = where(eye, 1.0, unsqueeze(flat, -2))  # (..., n, n) with ones on the diagonal
    others = _prod(grid, axis=(len(lead) + 1,), keepdims=False)
    others = reshape(others, moved.shape)
    return transpose(others, tuple(np.argsort(rest + axes)))


def _prod_partials(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """d prod / d x_i for every element (x's shape), exact also where x has zeros."""
    if (x.data != 0).all():
        return broadcast_to(_keep(y, x, axis, keepdims), x.shape) / x
    return _prod_others(x, axis)


def logsumexp_np(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    """log(sum(exp(x))) over ``axis`` in NumPy, shifted by the max (no overflow)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# ties in max/min share the gradient equally
_max = _reduction("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
                  _extreme_weights)
_min = _reduction("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
                  _extreme_weights)
_prod = _reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
                   _prod_partials)
_logsumexp = _reduction("logsumexp", logsumexp_np,
                        lambda y, x, axis, keepdims: exp(x - _keep(y, x, axis, keepdims)))


def _reducer(p: Primitive) -> Any:
    def reduce(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = lift(x)
        nd = x.ndim
        return p(x, axis=normalize_axis(axis, nd) if nd else _axes(x, axis),
                 keepdims=bool(keepdims))

    reduce.__name__ = p.name
    reduce.__doc__ = f"{p.name} over ``axis`` (None = all axes), optionally keeping dims."
    return reduce


sum = _reducer(_sum)  # noqa: A001
mean = _reducer(_mean)
max = _reducer(_max)  # noqa: A001
min = _reducer(_min)  # noqa: A001
prod = _reducer(_prod)
logsumexp = _reducer(_logsumexp)
max.__doc__ = "Max over ``axis``; tied maxima share the gradient equally."
min.__doc__ = "Min over ``axis``; tied minima share the gradient equally."


def _safe_sqrt_slope(y: Tensor, x: Tensor) -> Tensor:
    pos = y.data > 0
    return mask_like(pos, y) / (2 * where(pos, y, 1.0))


# sqrt whose derivative at 0 is taken as 0: the subgradient rule for norm and std at 0.
_safe_sqrt = elementwise("safe_sqrt", np.sqrt, _safe_sqrt_slope)


def var(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis``, dividing by N - correction (PyTorch's default correction=1)."""
    x = lift(x)
    ax = _axes(x, axis)
    n = _count(x.shape, ax)
    d = x - _mean(x, axis=ax, keepdims=True)
    ss = _sum(d * d, axis=ax, keepdims=bool(keepdims))
    if n - correction > 0:
        return ss / (n - correction)
    # as PyTorch: no error, a warning and a division by zero (inf, or NaN for 0 / 0)
    warnings.warn(f"var: degrees of freedom N - correction = {n} - {correction} <= 0 "
                  f"(shape {x.shape}, axis {axis}): the result is inf or NaN",
                  RuntimeWarning, stacklevel=3)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ss / const(np.zeros((), dtype=ss.dtype))


def std(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Standard deviation; its gradient where std = 0 is 0 (the subgradient)."""
    return _safe_sqrt(var(x, axis, keepdims, correction))


def norm(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Euclidean norm over ``axis``; its gradient at 0 is 0 (the subgradient)."""
    x = lift(x)
    return _safe_sqrt(_sum(x * x, axis=_axes(x, axis), keepdims=bool(keepdims)))


_argmax = nondiff("argmax", lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims))
_argmin = nondiff("argmin", lambda x, axis, keepdims: np.argmin(x, axis=axis, keepdims=keepdims))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _argmax(lift(x), axis=axis, keepdims=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _argmin(lift(x), axis=axis, keepdims=keepdims)
