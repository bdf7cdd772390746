"""Scans along one axis: cumsum, cumprod, cummax, cummin, logcumsumexp.

``cumsum`` is linear (its transpose is the reversed cumulative sum). ``cumprod`` and
``logcumsumexp`` have a triangular Jacobian ``J[i, j] = d y_j / d x_i`` (zero for
``j < i``); their rules contract it with the cotangent or tangent. For ``cumprod`` the fast
form ``J[i, j] = y_j / x_i`` is used when ``x`` has no zeros; otherwise the exact products
of the other factors (an n x n grid per scan, n = length of the axis). For
``logcumsumexp`` ``J[i, j] = exp(x_i - y_j) <= 1`` for ``j >= i``, so the rules never
overflow; at first order (nothing records the rule) they are O(n) instead: the sums
``sum_j g_j exp(x_i - y_j)`` are taken in logs, the positive and negative parts of ``g``
apart (as PyTorch). ``cummax``/``cummin`` return values and int64 indices; the values are a
``gather`` at the indices, so their gradient goes to the element that held the running
extreme (the latest one among ties, and NaN propagating, as PyTorch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import const, lift, linear, prim, unrecorded
from ..tensor import Tensor, _make
from .elementwise import exp, where
from .indexing import ValuesIndices, _axis, _gather
from .linalg import einsum
from .shape import flip, reshape, transpose

__all__ = ["cummax", "cummin", "cumprod", "cumsum", "logcumsumexp"]


def _rev_cumsum(g: Tensor, axis: int) -> Tensor:
    return flip(_cumsum(flip(g, axis), axis=axis), axis)


_cumsum = linear("cumsum", lambda x, axis: np.cumsum(x, axis=axis),
                 lambda g, y, x, axis: _rev_cumsum(g, axis))


def _last(x: Tensor, axis: int) -> tuple[Tensor, tuple]:
    """``x`` with ``axis`` moved last, and the permutation that moves it back."""
    nd = x.ndim
    perm = tuple(d for d in range(nd) if d != axis) + (axis,)
    back = tuple(int(i) for i in np.argsort(perm))
    return (x if axis == nd - 1 else transpose(x, perm)), back


def _back(y: Tensor, back: tuple) -> Tensor:
    return y if back == tuple(range(len(back))) else transpose(y, back)


_UPPER: dict[int, np.ndarray] = {}


def _upper(n: int) -> np.ndarray:
    """The mask ``j >= i`` of an n x n Jacobian (rows i: inputs, columns j: outputs)."""
    if n not in _UPPER:
        _UPPER[n] = np.triu(np.ones((n, n), dtype=bool))
    return _UPPER[n]


def _cumprod_jac(y: Tensor, x: Tensor, axis: int) -> Tensor:
    """``J[..., i, j] = prod_{k <= j, k != i} x_k`` for ``j >= i``, else 0 (axis last)."""
    xl, _ = _last(x, axis)
    n = xl.shape[-1]
    eye = np.eye(n, dtype=bool)
    grid = where(eye, 1.0, reshape(xl, xl.shape[:-1] + (1, n)))  # row i: x with x_i = 1
    return where(_upper(n), _cumprod(grid, axis=xl.ndim), 0.0)


def _cumprod_vjp(g: Tensor, y: Tensor, x: Tensor, axis: int) -> Tensor:
    if (x.data != 0).all():
        return _rev_cumsum(g * y, axis) / x
    gl, back = _last(g, axis)
    return _back(einsum("...ij,...j->...i", _cumprod_jac(y, x, axis), gl), back)


def _cumprod_jvp(t: Tensor, y: Tensor, x: Tensor, axis: int) -> Tensor:
    if (x.data != 0).all():
        return y * _cumsum(t / x, axis=axis)
    tl, back = _last(t, axis)
    return _back(einsum("...ij,...i->...j", _cumprod_jac(y, x, axis), tl), back)


_cumprod = prim("cumprod", lambda x, axis: np.cumprod(x, axis=axis),
                vjp=_cumprod_vjp, jvp=_cumprod_jvp)


def _lcse_jac(y: Tensor, x: Tensor, axis: int) -> Tensor:
    """``J[..., i, j] = exp(x_i - y_j)`` for ``j >= i`` (at most 1), else 0 (axis last)."""
    xl, _ = _last(x, axis)
    yl, _ = _last(y, axis)
    n = xl.shape[-1]
    diff = reshape(xl, xl.shape + (1,)) - reshape(yl, yl.shape[:-1] + (1, n))
    return exp(where(_upper(n), diff, -np.inf))


def _lcse_np(x: np.ndarray, axis: int) -> np.ndarray:
    return np.logaddexp.accumulate(x, axis=axis) if x.size else x.copy()


def _signed_lcse(v: np.ndarray, shift: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """``(cumsum(v * exp(shift)))`` along ``axis`` (reversed: from the end), as
    ``exp(lp) - exp(ln)`` kept in logs: the positive and negative parts of ``v`` apart."""
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for part in (np.maximum(v, 0), np.maximum(-v, 0)):
            a = np.log(part) + shift
            out.append(np.flip(_lcse_np(np.flip(a, axis), axis), axis) if reverse
                       else _lcse_np(a, axis))
    return out[0], out[1]


def _lcse_vjp(g: Tensor, y: Tensor, x: Tensor, axis: int) -> Tensor:
    if unrecorded(g, y, x):  # first order: O(n), sum_{j >= i} g_j exp(x_i - y_j) in logs
        lp, ln = _signed_lcse(g.data, -y.data, axis, reverse=True)
        with np.errstate(invalid="ignore"):  # -inf inputs give NaN, as in PyTorch
            return const(np.exp(x.data + lp) - np.exp(x.data + ln))
    gl, back = _last(g, axis)
    return _back(einsum("...ij,...j->...i", _lcse_jac(y, x, axis), gl), back)


def _lcse_jvp(t: Tensor, y: Tensor, x: Tensor, axis: int) -> Tensor:
    if unrecorded(t, y, x):  # first order: O(n), sum_{i <= j} t_i exp(x_i - y_j) in logs
        lp, ln = _signed_lcse(t.data, x.data, axis, reverse=False)
        with np.errstate(invalid="ignore"):  # y = -inf: 0, as PyTorch's forward mode
            out = np.exp(lp - y.data) - np.exp(ln - y.data)
        return const(np.where(np.isneginf(y.data), 0, out).astype(out.dtype, copy=False))
    tl, back = _last(t, axis)
    return _back(einsum("...ij,...i->...j", _lcse_jac(y, x, axis), tl), back)


_logcumsumexp = prim("logcumsumexp", _lcse_np, vjp=_lcse_vjp, jvp=_lcse_jvp)


def _scan_axis(op: str, x: Any, dim: Any) -> tuple[Tensor, int, bool]:
    """The input (a 0-d one as 1-D, as PyTorch scans it) and the normalised axis."""
    x = lift(x)
    if dim is None:
        raise TypeError(f"{op}: dim must be an int, got None")
    if x.ndim == 0:
        _axis(op, dim, 0)
        return reshape(x, (1,)), 0, True
    return x, _axis(op, dim, x.ndim), False


def _scan(p: Any, op: str, x: Any, dim: Any) -> Tensor:
    xs, axis, scalar = _scan_axis(op, x, dim)
    if xs.dtype.kind in "biu" and p is not _cumsum and p is not _cumprod:
        raise TypeError(f"{op}: input must be floating point, got {xs.dtype}")
    if xs.dtype.kind == "b":
        xs = _make(xs.data.astype(np.int64))
    y = p(xs, axis=axis)
    return reshape(y, ()) if scalar else y


def cumsum(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim`` (PyTorch's signature; ints and bools sum as int64)."""
    y = _scan(_cumsum, "cumsum", x, dim)
    return y if dtype is None else y.astype(dtype)


def cumprod(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim``; its gradient is exact where the input has zeros."""
    y = _scan(_cumprod, "cumprod", x, dim)
    return y if dtype is None else y.astype(dtype)


def logcumsumexp(x: Any, dim: int) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``dim``, computed without overflow."""
    return _scan(_logcumsumexp, "logcumsumexp", x, dim)


def _cum_extreme(op: str, accumulate: Any, x: Any, dim: Any) -> ValuesIndices:
    xs, axis, scalar = _scan_axis(op, x, dim)
    a = xs.data
    running = accumulate(a, axis=axis)  # NaN propagates from the first NaN on, as PyTorch
    # the index is the latest i <= j that holds the running extreme (the latest NaN after
    # a NaN): such an i is a place where x equals its own running extreme, or a NaN
    held = (a == running) | np.isnan(a) if a.dtype.kind == "f" else a == running
    shape = [1] * a.ndim
    shape[axis] = a.shape[axis]
    where_held = np.where(held, np.arange(a.shape[axis]).reshape(shape), 0)
    idx = np.maximum.accumulate(where_held, axis=axis).astype(np.int64)
    values = _gather(xs, index=idx, axis=axis) if xs.dtype.kind in "fc" else _make(running)
    if scalar:
        return ValuesIndices(reshape(values, ()), const(idx.reshape(())))
    return ValuesIndices(values, const(idx))


def cummax(x: Any, dim: int) -> ValuesIndices:
    """Running maximum along ``dim``: ``(values, indices)`` as PyTorch's cummax."""
    return _cum_extreme("cummax", np.maximum.accumulate, x, dim)


def cummin(x: Any, dim: int) -> ValuesIndices:
    """Running minimum along ``dim``: ``(values, indices)`` as PyTorch's cummin."""
    return _cum_extreme("cummin", np.minimum.accumulate, x, dim)
