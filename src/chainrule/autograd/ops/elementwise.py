"""Elementwise functions: one derivative each, from which both rules follow.

``elementwise(name, forward, derivative)`` takes f'(y, x) — written with differentiable
ops, in terms of the output ``y`` where that is cheapest — and gives vjp = g * f' and
jvp = t * f'. ``reciprocal(h)`` declares f' = 1 / h, so the rules divide (one NumPy call
fewer). Only sqrt, sign and where keep hand-written rules (one rule serves as vjp and jvp:
an elementwise op's Jacobian is diagonal).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..primitive import (
    const,
    elementwise,
    lift,
    lift_pair,
    mask_like,
    nondiff,
    prim,
    reciprocal,
    zero,
)
from ..tensor import Tensor, _make

__all__ = ["SELU_ALPHA", "SELU_SCALE", "abs", "acos", "acosh", "arccos", "arccosh", "arcsin",
           "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh",
           "clip", "cos",
           "cosh", "elu", "equal", "erf", "exp", "expm1", "gelu", "greater", "greater_equal",
           "hardsigmoid", "hardswish",
           "leaky_relu", "less", "less_equal", "log", "log1p", "log_sigmoid", "maximum", "minimum",
           "not_equal", "relu", "selu", "sigmoid", "sign", "silu", "sin", "sinh", "softplus",
           "sqrt", "tan", "tanh", "where"]


def _sigmoid_np(x: np.ndarray) -> np.ndarray:
    """1/(1 + e^-x) for x >= 0 and e^x/(1 + e^x) below: exp never overflows.

    With SciPy installed, its ufunc ``expit`` (the same stable formula in one call; the
    compiled graph's fused kernels call it too, so both stay bit for bit equal). Without:
    small arrays use exp(-log(1 + e^-x)) (fewer NumPy calls, each call's fixed cost
    dominates there), larger ones the two-branch formula.
    """
    expit = _scipy_expit()
    if expit is not None and x.dtype.kind == "f":
        return np.asarray(expit(x)).astype(x.dtype, copy=False)
    if x.size <= 256:
        return np.exp(-np.logaddexp(x.dtype.type(0), -x))
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


@functools.cache
def _scipy_expit() -> Any:
    """SciPy's ufunc ``expit``, or None without SciPy (looked up once)."""
    try:
        from scipy.special import expit
    except ImportError:
        return None
    return expit


def _erf_np(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ImportError:  # exact but slower fallback
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(erf(x)).astype(x.dtype, copy=False)


def _sqrt_rule(v: Tensor, y: Tensor, x: Tensor) -> Tensor:
    """d sqrt(x) = 1/(2 sqrt x): +inf at 0 (as IEEE, PyTorch, JAX); a zero cotangent stays 0."""
    zero = y.data == 0
    if not zero.any():
        return v / (2 * y)
    inf = np.where(v.data == 0, 0, np.copysign(np.inf, v.data)).astype(v.data.dtype)
    return where(zero, const(inf), v / (2 * where(zero, 1.0, y)))


def _inside(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    keep = np.ones(x.shape, dtype=bool)
    if lo is not None:
        keep &= x >= lo
    if hi is not None:
        keep &= x <= hi
    return keep


def _tie_share(a: Tensor, b: Tensor, like: Tensor) -> Tensor:
    """Weight of ``a`` in max(a, b): 1 where a wins, 1/2 on ties, 0 where b wins."""
    a, b = a.data, b.data
    return const(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(like.data.dtype))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)

# name -> forward, derivative f'(y, x): each line below is a whole primitive
exp = elementwise("exp", np.exp, lambda y, x: y)
log = elementwise("log", np.log, reciprocal(lambda y, x: x))
log1p = elementwise("log1p", np.log1p, reciprocal(lambda y, x: x + 1))
expm1 = elementwise("expm1", np.expm1, lambda y, x: y + 1)
sin = elementwise("sin", np.sin, lambda y, x: cos(x))
cos = elementwise("cos", np.cos, lambda y, x: -sin(x))
tan = elementwise("tan", np.tan, lambda y, x: 1 + y * y)
sinh = elementwise("sinh", np.sinh, lambda y, x: cosh(x))
cosh = elementwise("cosh", np.cosh, lambda y, x: sinh(x))
tanh = elementwise("tanh", np.tanh, lambda y, x: 1 - y * y)
asin = elementwise("asin", np.arcsin, reciprocal(lambda y, x: sqrt(1 - x * x)))
acos = elementwise("acos", np.arccos, reciprocal(lambda y, x: -sqrt(1 - x * x)))
atan = elementwise("atan", np.arctan, reciprocal(lambda y, x: 1 + x * x))
asinh = elementwise("asinh", np.arcsinh, reciprocal(lambda y, x: sqrt(x * x + 1)))
acosh = elementwise("acosh", np.arccosh, reciprocal(lambda y, x: sqrt(x * x - 1)))
atanh = elementwise("atanh", np.arctanh, reciprocal(lambda y, x: 1 - x * x))
_atan2 = elementwise("atan2", np.arctan2, lambda y, a, b: b / (a * a + b * b),
                     lambda y, a, b: -a / (a * a + b * b))
# NumPy's names for the same primitives (PyTorch accepts both)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
erf = elementwise("erf", _erf_np, lambda y, x: _TWO_OVER_SQRT_PI * exp(-x * x))
# sigmoid' = y (1 - y) as one node, so sigmoid's backward is two operations.
_sigmoid_slope = elementwise("sigmoid_slope", lambda y: y * (1 - y), lambda s, y: 1 - 2 * y)
sigmoid = elementwise("sigmoid", _sigmoid_np, lambda y, x: _sigmoid_slope(y))
softplus = elementwise("softplus", lambda x: np.logaddexp(x.dtype.type(0), x),
                       lambda y, x: sigmoid(x))
relu = elementwise("relu", lambda x: np.maximum(x, x.dtype.type(0)),
                   lambda y, x: mask_like(x.data > 0, y))
leaky_relu = elementwise(
    "leaky_relu", lambda x, slope=0.01: np.where(x > 0, x, x * x.dtype.type(slope)),
    lambda y, x, slope=0.01: const(np.where(x.data > 0, 1, slope).astype(y.data.dtype)))
elu = elementwise(
    "elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))
                                         ).astype(x.dtype, copy=False),
    lambda y, x, alpha=1.0: where(x.data > 0, 1.0, y + alpha))
# PyTorch's piecewise-linear activations, with its derivatives at the kinks (x = +-3)
hardsigmoid = elementwise(
    "hardsigmoid", lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    lambda y, x: const(np.where((x.data > -3) & (x.data < 3), 1 / 6, 0).astype(y.data.dtype)))
hardswish = elementwise(
    "hardswish", lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
    lambda y, x: where(x.data <= -3, 0.0, where(x.data >= 3, 1.0, x * (1 / 3) + 0.5)))
abs = elementwise("abs", np.abs, lambda y, x: sign(x))  # noqa: A001  |x|'(0) = 0
_clip = elementwise("clip", lambda x, lo, hi: np.clip(x, lo, hi),
                    lambda y, x, lo, hi: mask_like(_inside(x.data, lo, hi), y))
# ties share the gradient equally
_maximum = elementwise("maximum", np.maximum, lambda y, a, b: _tie_share(a, b, y),
                       lambda y, a, b: _tie_share(b, a, y))
_minimum = elementwise("minimum", np.minimum, lambda y, a, b: _tie_share(b, a, y),
                       lambda y, a, b: _tie_share(a, b, y))

sqrt = prim("sqrt", np.sqrt, vjp=_sqrt_rule, jvp=_sqrt_rule)
sign = prim("sign", np.sign, vjp=zero, jvp=zero)
_where_a = lambda v, y, c, a, b: where(c, v, 0.0)
_where_b = lambda v, y, c, a, b: where(c, 0.0, v)
_where = prim("where", np.where, vjp=(None, _where_a, _where_b), jvp=(None, _where_a, _where_b))


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; the gradient passes where min <= x <= max (inclusive)."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return _clip(lift(x), lo=min, hi=max)


def atan2(a: Any, b: Any) -> Tensor:
    """The angle of the point (b, a), in (-pi, pi]: ``atan2(y, x)`` (NumPy's ``arctan2``)."""
    return _atan2(*lift_pair(a, b))


arctan2 = atan2


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; on ties each side gets half the gradient."""
    return _maximum(*lift_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; on ties each side gets half the gradient."""
    return _minimum(*lift_pair(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (``cond`` is not differentiated)."""
    c = cond if isinstance(cond, Tensor) else _make(np.asarray(cond, dtype=bool))
    if c.data.dtype != bool:
        c = _make(c.data.astype(bool))
    a, b = lift_pair(a, b)
    return _where(c, a, b)


# --------------------------------------------------------------------------- comparisons


def _compare(name: str, fn: Any) -> Any:
    p = nondiff(name, fn)

    def compare(a: Any, b: Any) -> Tensor:
        return p(*lift_pair(a, b))

    compare.__name__ = name
    return compare


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)


# --------------------------------------------------------------------------- composites

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return elu(lift(x), alpha=SELU_ALPHA) * SELU_SCALE


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation (``approximate="tanh"``).

    A composition of primitives (the reference form); ``chainrule.nn.functional.gelu``,
    ``nn.GELU`` and the Transformer layers use the fused primitive of nn/kernels/gelu.py."""
    x = lift(x)
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def log_sigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -softplus(-lift(x))


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (Swish)."""
    x = lift(x)
    return x * sigmoid(x)
