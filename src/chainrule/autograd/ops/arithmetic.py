"""Arithmetic: add, sub, mul, div, pow, neg, the identity node, and constants.

``mul`` is bilinear (its jvp is mul with the tangent in place of one factor); ``div`` and
``pow`` are elementwise with one partial derivative per argument; add and sub are linear
in both arguments together and keep their one-line rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import bilinear, elementwise, lift, lift_pair, linear, prim, reciprocal
from ..tensor import Tensor, _make, _to_array, get_default_dtype
from .elementwise import log, where

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


def _log_base(a: Tensor) -> Tensor:
    """log(a) where a > 0, else 0: d(a**b)/db is taken as 0 where the base is not positive."""
    pos = a.data > 0
    return log(where(pos, a, 1.0)) if not pos.all() else log(a)


def _pow_da(y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """b a^(b-1), with the b = 0 terms exactly 0 (no 0 * inf at a = 0, to any order)."""
    zero = b.data == 0
    if not zero.any():
        return b * a ** (b - 1)
    safe_a = where(zero, 1.0, a)
    return where(zero, 0.0, b * safe_a ** (b - 1))


_pow = elementwise("pow", np.power, _pow_da, lambda y, a, b: y * _log_base(a))
neg = linear("neg", np.negative, lambda g, y, x: -g)
# The identity as a node: gives a tensor its own place in the graph (used by jvp).
alias = prim("alias", lambda x: x, vjp=lambda g, y, x: g, jvp=lambda t, y, x: t)


def add(a: Any, b: Any) -> Tensor:
    return _add(*lift_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return _sub(*lift_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return _mul(*lift_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    return _div(*lift_pair(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """``a ** b``; the exponent may be a tensor (d/db uses log a, taken as 0 where a <= 0)."""
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
