"""The smart builder: the operator table's algebra on expressions with cheap local rules.

Derivatives are built through an algebra (see :mod:`.table`): :data:`~.nodes.RAW` writes the
textbook rules as they are, zeros and ones included (``simplify=False``); :data:`SMART` folds
constants and applies the 0 and 1 identities as it goes, before the full simplifier runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .nodes import ONE, ZERO, Add, Const, Div, Expr, Func, Mul, Neg, Pow, Sub

__all__ = ["SMART"]


def _const_value(e: Expr) -> float | None:
    return e.value if isinstance(e, Const) else None


def _fold(fn: Callable[[float, float], float], a: Expr, b: Expr) -> Expr | None:
    va, vb = _const_value(a), _const_value(b)
    if va is None or vb is None:
        return None
    try:
        value = fn(va, vb)
    except (ArithmeticError, ValueError):
        return None
    return Const(value) if isinstance(value, float) and math.isfinite(value) else None


def _real_pow(u: float, v: float) -> float:
    if (u < 0 and not float(v).is_integer()) or (u == 0 and v < 0):
        raise ValueError("outside the real domain")
    return float(u**v)


class _SmartBuilder:
    """Constructors with cheap local rules (constant folding, 0 and 1 identities)."""

    func, c = Func, Const

    @staticmethod
    def add(a: Expr, b: Expr) -> Expr:
        if a is ZERO:
            return b
        if b is ZERO:
            return a
        return _fold(lambda u, v: u + v, a, b) or Add(a, b)

    @staticmethod
    def sub(a: Expr, b: Expr) -> Expr:
        if b is ZERO:
            return a
        if a is ZERO:
            return _SmartBuilder.neg(b)
        if a is b:
            return ZERO
        return _fold(lambda u, v: u - v, a, b) or Sub(a, b)

    @staticmethod
    def mul(a: Expr, b: Expr) -> Expr:
        if a is ZERO or b is ZERO:
            return ZERO
        if a is ONE:
            return b
        if b is ONE:
            return a
        if _const_value(a) == -1.0:
            return _SmartBuilder.neg(b)
        if _const_value(b) == -1.0:
            return _SmartBuilder.neg(a)
        return _fold(lambda u, v: u * v, a, b) or Mul(a, b)

    @staticmethod
    def div(a: Expr, b: Expr) -> Expr:
        if b is ONE:
            return a
        if a is ZERO and b is not ZERO:
            return ZERO
        return _fold(lambda u, v: u / v, a, b) or Div(a, b)

    @staticmethod
    def pow(a: Expr, b: Expr) -> Expr:
        if b is ZERO:
            return ONE
        if b is ONE:
            return a
        return _fold(_real_pow, a, b) or Pow(a, b)

    @staticmethod
    def neg(a: Expr) -> Expr:
        if isinstance(a, Const):
            return Const(-a.value)
        if isinstance(a, Neg):
            return a.args[0]
        return Neg(a)


SMART = _SmartBuilder()
