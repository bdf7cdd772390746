"""Special elementwise functions: other bases (log2, log10, exp2), logaddexp, hypot, sinc,
reciprocal, rsqrt, angle conversion, NaN-aware max/min, copysign, lerp, nan_to_num, and
the floating-point predicates (isnan, isinf, isfinite, isclose).

Each differentiable one is a row of the rule table: its NumPy forward and its partial
derivatives (``elementwise``), or its transpose where it is linear (``linear``). Where
NumPy and PyTorch name one function differently, both names are the same primitive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..primitive import (
    const,
    elementwise,
    lift,
    lift_pair,
    linear,
    mask_like,
    nondiff,
    prim,
    zero,
)
from ..primitive import reciprocal as _over
from ..tensor import Tensor
from .elementwise import cos, sigmoid, where

__all__ = ["copysign", "deg2rad", "degrees", "exp2", "fmax", "fmin", "hypot", "isclose",
           "isfinite", "isinf", "isnan", "lerp", "log2", "log10", "logaddexp", "logaddexp2",
           "nan_to_num", "rad2deg", "radians", "reciprocal", "rsqrt", "sinc"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEG = math.pi / 180.0


def _sinc_slope(y: Tensor, x: Tensor) -> Tensor:
    """sinc'(x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0 (the limit, as PyTorch). At 0 the
    slope is written -pi^2 x / 3 (its Taylor term), so derivatives there are exact to the
    third order (PyTorch's masked form gives 0 for the second)."""
    at0 = x.data == 0
    if not at0.any():
        return (cos(math.pi * x) - y) / x
    safe = where(at0, 1.0, x)
    return where(at0, (-math.pi ** 2 / 3) * x, (cos(math.pi * safe) - y) / safe)


def _copysign_slope(v: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """d copysign(a, b) / da = +-1 (y / a), 0 where a = 0 (PyTorch's convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(a.data == 0, 0, y.data / np.where(a.data == 0, 1, a.data))
    return v * const(s.astype(y.data.dtype, copy=False))


def _keep_first(first_wins: np.ndarray, like: Tensor) -> Tensor:
    return mask_like(first_wins, like)


def _lerp_np(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """start + w (end - start), from the nearer end (exact at w = 0 and w = 1, as PyTorch)."""
    d = b - a
    return np.where(np.abs(w) < 0.5, a + w * d, b - d * (1 - w))


# name -> forward, derivative(s): each line below is a whole primitive
log2 = elementwise("log2", np.log2, _over(lambda y, x: x * _LN2))
log10 = elementwise("log10", np.log10, _over(lambda y, x: x * _LN10))
exp2 = elementwise("exp2", np.exp2, lambda y, x: y * _LN2)
reciprocal = elementwise("reciprocal", lambda x: 1 / x, lambda y, x: -(y * y))
rsqrt = elementwise("rsqrt", lambda x: 1 / np.sqrt(x), lambda y, x: -0.5 * (y * y * y))
sinc = elementwise("sinc", np.sinc, _sinc_slope)  # sin(pi x) / (pi x), NumPy's and PyTorch's
deg2rad = linear("deg2rad", np.deg2rad, lambda g, y, x: g * _DEG)
rad2deg = linear("rad2deg", np.rad2deg, lambda g, y, x: g * (1 / _DEG))
_logaddexp = elementwise("logaddexp", np.logaddexp, lambda y, a, b: sigmoid(a - b),
                         lambda y, a, b: sigmoid(b - a))
_logaddexp2 = elementwise("logaddexp2", np.logaddexp2, lambda y, a, b: sigmoid((a - b) * _LN2),
                          lambda y, a, b: sigmoid((b - a) * _LN2))
_hypot = elementwise("hypot", np.hypot, lambda y, a, b: a / y, lambda y, a, b: b / y)
# fmax/fmin ignore NaN; the gradient goes to the first argument on ties (as PyTorch)
_fmax = elementwise(
    "fmax", np.fmax, lambda y, a, b: _keep_first((a.data >= b.data) | np.isnan(b.data), y),
    lambda y, a, b: _keep_first(~((a.data >= b.data) | np.isnan(b.data)), y))
_fmin = elementwise(
    "fmin", np.fmin, lambda y, a, b: _keep_first((a.data <= b.data) | np.isnan(b.data), y),
    lambda y, a, b: _keep_first(~((a.data <= b.data) | np.isnan(b.data)), y))
_lerp = elementwise("lerp", _lerp_np, lambda y, a, b, w: 1 - w, lambda y, a, b, w: w,
                    lambda y, a, b, w: b - a)
_nan_to_num = elementwise(
    "nan_to_num", lambda x, nan, posinf, neginf: np.nan_to_num(x, nan=nan, posinf=posinf,
                                                               neginf=neginf),
    lambda y, x, nan, posinf, neginf: mask_like(np.isfinite(x.data), y))
_copysign = prim("copysign", np.copysign, vjp=(_copysign_slope, zero),
                 jvp=(_copysign_slope, zero))
radians, degrees = deg2rad, rad2deg  # NumPy's other names

isnan = nondiff("isnan", np.isnan)
isinf = nondiff("isinf", np.isinf)
isfinite = nondiff("isfinite", np.isfinite)
_isclose = nondiff("isclose", lambda a, b, rtol, atol, equal_nan: np.isclose(
    a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def binary(p: Any, doc: str) -> Any:
    """The public function of a two-argument primitive: lifts numbers and arrays (a Python
    number takes the other operand's dtype), then applies ``p``."""
    def op(a: Any, b: Any) -> Tensor:
        return p(*lift_pair(a, b))

    op.__name__ = op.__qualname__ = p.name
    op.__doc__ = doc
    return op


logaddexp = binary(_logaddexp, "log(e^a + e^b) without overflow.")
logaddexp2 = binary(_logaddexp2, "log2(2^a + 2^b) without overflow.")
hypot = binary(_hypot, "sqrt(a^2 + b^2) without overflow.")
fmax = binary(_fmax, "Elementwise max ignoring NaN (NaN only where both are NaN).")
fmin = binary(_fmin, "Elementwise min ignoring NaN (NaN only where both are NaN).")
copysign = binary(_copysign, "|a| with the sign of b; the gradient flows to ``a`` only.")


def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """start + weight * (end - start); ``weight`` a number or a tensor (PyTorch's lerp)."""
    start, end = lift_pair(start, end)
    return _lerp(start, end, lift(weight, start))


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN -> ``nan``, +-inf -> ``posinf``/``neginf`` (default: the dtype's largest finite
    values); the gradient passes where x is finite and is 0 at the replaced entries."""
    return _nan_to_num(lift(x), nan=nan, posinf=posinf, neginf=neginf)


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol |b|, elementwise (a boolean tensor)."""
    return _isclose(*lift_pair(a, b), rtol=rtol, atol=atol, equal_nan=equal_nan)
