"""Arithmetic: add, sub, mul, div, pow, neg, the identity node, and constants.

``mul`` is bilinear (its jvp is mul with the tangent in place of one factor); ``div`` and
``pow`` are elementwise with one partial derivative per argument; add and sub are linear
in both arguments together and keep their one-line rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import _scaled, bilinear, elementwise, lift, lift_pair, linear, prim, reciprocal
from ..tensor import Tensor, _make, _to_array, get_default_dtype
from .elementwise import log, where
from .rounding import _floor_divide, _trunc_divide

__all__ = ["add", "alias", "div", "mul", "neg", "ones", "ones_like", "pow", "stop_gradient", "sub",
           "zeros", "zeros_like"]

_add = prim("add", np.add,
            vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),
            jvp=(lambda t, y, a, b: t, lambda t, y, a, b: t))
_sub = prim("sub", np.subtract,
            vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g),
            jvp=(lambda t, y, a, b: t, lambda t, y, a, b: -t))
_mul = bilinear("mul", np.multiply, lambda g, y, a, b: g * b, lambda g, y, a, b: g * a)
_div = elementwise("div", np.true_divide, reciprocal(lambda y, a, b: b),
                   lambda y, a, b: -y / b)


def _pow_da(y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """b a^(b-1), with the b = 0 terms exactly 0 (no 0 * inf at a = 0, to any order)."""
    zero = b.data == 0
    if not zero.any():
        return b * a ** (b - 1)
    safe_a = where(zero, 1.0, a)
    return where(zero, 0.0, b * safe_a ** (b - 1))


def _pow_db(v: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """v * d(a**b)/db = v a^b log a, with PyTorch's values where a <= 0: 0 for 0 ** (b >= 0),
    -inf * a^b for 0 ** (b < 0) (0 ** -0.3 -> -inf), NaN for a negative base. A zero
    cotangent (or tangent) contributes 0 there: no rule makes NaN out of inf * 0."""
    if (a.data > 0).all():
        return _mul(v, y * log(a))
    shape = np.broadcast_shapes(v.data.shape, y.data.shape)
    pos = np.broadcast_to(a.data > 0, y.data.shape)
    with np.errstate(invalid="ignore"):
        a0, b0 = np.broadcast_to(a.data, y.data.shape), np.broadcast_to(b.data, y.data.shape)
        edge = np.where(a0 < 0, np.nan, np.where(b0 >= 0, 0.0, -np.copysign(np.inf, y.data)))
        vd = np.broadcast_to(v.data, shape)
        edge = np.where(vd == 0, 0.0, vd * edge).astype(y.data.dtype, copy=False)
    inner = where(pos, y, 0.0) * log(where(pos, a, 1.0))
    return where(np.broadcast_to(pos, shape), _mul(v, inner), _make(edge))


_pow_a = _scaled(_pow_da, 2)
_pow = prim("pow", np.power, vjp=(_pow_a, _pow_db), jvp=(_pow_a, _pow_db))
neg = linear("neg", np.negative, lambda g, y, x: -g)
# The identity as a node: gives a tensor its own place in the graph (used by jvp).
alias = prim("alias", lambda x: x, vjp=lambda g, y, x: g, jvp=lambda t, y, x: t)


def add(a: Any, b: Any) -> Tensor:
    return _add(*lift_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return _sub(*lift_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return _mul(*lift_pair(a, b))


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Tensor:
    """a / b; ``rounding_mode="trunc"`` rounds toward zero, ``"floor"`` down (PyTorch's
    ``div``): both have derivative 0."""
    if rounding_mode is None:
        return _div(*lift_pair(a, b))
    if rounding_mode == "floor":
        return _floor_divide(*lift_pair(a, b))
    if rounding_mode == "trunc":
        return _trunc_divide(*lift_pair(a, b))
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """``a ** b``; the exponent may be a tensor. d/db = a^b log a, with PyTorch's values at
    a <= 0 (see ``_pow_db``): 0 for 0 ** (b >= 0), -inf for 0 ** (b < 0), NaN for a < 0."""
    return _pow(*lift_pair(a, b))


# --------------------------------------------------------------------------- constants


def stop_gradient(x: Any) -> Tensor:
    """The same values, treated as a constant by differentiation."""
    return _make(lift(x).data)


def zeros(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def ones(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def zeros_like(x: Any) -> Tensor:
    return _make(np.zeros_like(_to_array(x)))


def ones_like(x: Any) -> Tensor:
    return _make(np.ones_like(_to_array(x)))
