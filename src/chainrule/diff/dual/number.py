"""The dual number ``a + b*ε`` (``ε**2 = 0``): the :class:`Dual` class, its arithmetic, the
elementary functions and the NumPy ufunc hooks. See :mod:`chainrule.diff.dual` for the
shape conventions."""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.diff.errors import DiffError

__all__ = [
    "Dual",
    "abs",
    "cos",
    "exp",
    "log",
    "pow",
    "relu",
    "sigmoid",
    "sin",
    "sqrt",
    "tan",
    "tanh",
]

Real = float | np.ndarray


# ------------------------------------------------------------------------ conversions


def _as_real(value: Any, what: str = "value") -> Real:
    """A float for scalars, a float64 ndarray otherwise."""
    if type(value) is float:
        return value
    if isinstance(value, Dual):
        raise DiffError(f"nested Dual numbers are not supported (got a Dual as {what})")
    if isinstance(value, (numbers.Complex, np.complexfloating)) and not isinstance(
        value, numbers.Real
    ):
        raise DiffError(f"Dual numbers are real: got complex {what} {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffError(f"cannot use {type(value).__name__} as a real {what}") from None
    return float(arr) if arr.ndim == 0 else arr


def _tidy(value: Any) -> Real:
    """Turn NumPy scalars and 0-d arrays into Python floats; keep other arrays."""
    if type(value) is float:
        return value
    return float(value) if np.ndim(value) == 0 else value


def _make(real: Any, eps: Any) -> Dual:
    """Build a Dual from already-validated parts (no shape checks)."""
    out = object.__new__(Dual)
    out.real = _tidy(real)
    out.eps = _tidy(eps)
    return out


def _lift(value: Any) -> Dual:
    return value if isinstance(value, Dual) else _make(_as_real(value, "operand"), 0.0)


def _is_operand(value: Any) -> bool:
    return isinstance(value, (Dual, numbers.Real, np.ndarray, np.generic, list, tuple))


def _batch_ndim(x: Dual) -> int:
    return max(np.ndim(x.eps) - np.ndim(x.real), 0)


def _align(eps: Real, real_ndim: int, out_ndim: int) -> Real:
    """Insert axes after the batch axes so ``eps`` broadcasts like ``batch + out_shape``."""
    if np.ndim(eps) == 0 or out_ndim == real_ndim:
        return eps
    nb = np.ndim(eps) - real_ndim
    if nb == 0:
        return eps
    shape = eps.shape[:nb] + (1,) * (out_ndim - real_ndim) + eps.shape[nb:]
    return np.reshape(eps, shape)


def _parts(x: Dual, y: Dual) -> tuple[Real, Real, Real, Real]:
    """``(a, b, c, d)`` for ``x = a + bε`` and ``y = c + dε`` with eps aligned for broadcast."""
    out_nd = max(np.ndim(x.real), np.ndim(y.real))
    b = _align(x.eps, np.ndim(x.real), out_nd)
    d = _align(y.eps, np.ndim(y.real), out_nd)
    return x.real, b, y.real, d


def _fmt(value: Real) -> str:
    return str(value) if isinstance(value, float) else np.array2string(np.asarray(value))


# ------------------------------------------------------------------------------- Dual


def _operator_pair(rule: Callable[[Dual, Dual], Dual]) -> tuple[Callable, Callable]:
    """``__op__`` and ``__rop__`` for an arithmetic ``rule`` of two Duals (other operands are
    lifted to constants; unrelated types get NotImplemented)."""

    def forward(self: Dual, other: Any) -> Dual:
        return rule(self, _lift(other)) if _is_operand(other) else NotImplemented

    def reflected(self: Dual, other: Any) -> Dual:
        return rule(_lift(other), self) if _is_operand(other) else NotImplemented

    return forward, reflected


def _comparison(compare: Callable[[Any, Any], Any]) -> Callable[[Dual, Any], Any]:
    """A comparison method acting on the real parts."""

    def method(self: Dual, other: Any) -> Any:
        return compare(self.real, _real_of(other))

    return method



class Dual:
    """A dual number ``real + eps*ε`` with ``ε**2 = 0``.

    ``real`` and ``eps`` are floats or float64 arrays (see the module docstring for shapes).

    >>> x = Dual(3.0, 1.0)            # seed: dx/dx = 1
    >>> y = x * x * 4 + 4 + 2         # f(x, 4) = x*x*y + y + 2 at x = 3
    >>> y.real, y.eps
    (42.0, 24.0)
    >>> str(3 + Dual(3, 4))
    '6.0 + 4.0ε'
    """

    __slots__ = ("real", "eps")
    real: Real
    eps: Real

    def __init__(self, real: Any, eps: Any = 0.0) -> None:
        r = _as_real(real, "real part")
        e = _as_real(eps, "eps part")
        if np.ndim(e) > 0:
            e = self._check_eps_shape(r, e)
        self.real, self.eps = r, e

    @staticmethod
    def _check_eps_shape(real: Real, eps: np.ndarray) -> np.ndarray:
        rshape = np.shape(real)
        if eps.ndim < len(rshape):
            try:
                return np.broadcast_to(eps, rshape).copy()
            except ValueError:
                raise DiffError(
                    f"Dual: eps shape {eps.shape} does not broadcast to real shape {rshape}"
                ) from None
        tail = eps.shape[eps.ndim - len(rshape) :]
        try:
            np.broadcast_shapes(tail, rshape)
        except ValueError:
            raise DiffError(
                f"Dual: eps shape {eps.shape} must be batch + real shape {rshape}"
            ) from None
        return np.broadcast_to(eps, eps.shape[: eps.ndim - len(rshape)] + rshape).copy()

    # -- display ------------------------------------------------------------------
    def __str__(self) -> str:
        if isinstance(self.eps, float):
            sign = "-" if self.eps < 0 else "+"
            return f"{_fmt(self.real)} {sign} {_fmt(math.fabs(self.eps))}ε"
        return f"{_fmt(self.real)} + {_fmt(self.eps)}ε"

    def __repr__(self) -> str:
        return f"Dual({self.real!r}, {self.eps!r})"

    # -- array-like helpers -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the real part."""
        return np.shape(self.real)

    @property
    def ndim(self) -> int:
        return np.ndim(self.real)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a scalar Dual")
        return self.shape[0]

    def __getitem__(self, index: Any) -> Dual:
        if self.ndim == 0:
            raise TypeError("a scalar Dual cannot be indexed")
        real = self.real[index]
        if np.ndim(self.eps) == 0:
            return _make(real, self.eps)
        idx = index if isinstance(index, tuple) else (index,)
        return _make(real, self.eps[(slice(None),) * _batch_ndim(self) + idx])

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False):
        """Sum over the real axes (``axis`` as in NumPy); the seed axes are kept."""
        if out is not None:
            raise DiffError("Dual.sum does not support out=")
        nd = self.ndim
        axes = tuple(range(nd)) if axis is None else _normalize_axes(axis, nd)
        real = np.sum(self.real, axis=axes, keepdims=keepdims)
        eps = np.broadcast_to(self.eps, np.shape(self.eps)[: _batch_ndim(self)] + self.shape)
        nb = _batch_ndim(self)
        eps = np.sum(eps, axis=tuple(nb + a for a in axes), keepdims=keepdims)
        return _make(real, eps)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Dual:
        total = self.sum(axis=axis, keepdims=keepdims)
        count = np.size(self.real) / max(np.size(total.real), 1)
        return _make(total.real / count, total.eps / count)

    # -- arithmetic ---------------------------------------------------------------
    __add__, __radd__ = _operator_pair(lambda x, y: _add(x, y))
    __sub__, __rsub__ = _operator_pair(lambda x, y: _sub(x, y))
    __mul__, __rmul__ = _operator_pair(lambda x, y: _mul(x, y))
    __truediv__, __rtruediv__ = _operator_pair(lambda x, y: _div(x, y))
    __matmul__, __rmatmul__ = _operator_pair(lambda x, y: _matmul(x, y))

    def __pow__(self, other: Any) -> Dual:
        return _pow(self, other) if _is_operand(other) else NotImplemented

    def __rpow__(self, other: Any) -> Dual:
        return _pow(_lift(other), self) if _is_operand(other) else NotImplemented

    def __neg__(self) -> Dual:
        return _make(-self.real, -self.eps)

    def __pos__(self) -> Dual:
        return self

    def __abs__(self) -> Dual:
        return abs(self)

    # -- comparisons act on the real part -----------------------------------------
    __eq__ = _comparison(operator.eq)  # type: ignore[assignment]
    __ne__ = _comparison(operator.ne)  # type: ignore[assignment]
    __lt__ = _comparison(operator.lt)
    __le__ = _comparison(operator.le)
    __gt__ = _comparison(operator.gt)
    __ge__ = _comparison(operator.ge)

    def __hash__(self) -> int:
        if isinstance(self.real, float):
            return hash(self.real)
        raise TypeError("unhashable: Dual with an array real part")

    # -- NumPy interop: np.exp(d), array * d, ... -----------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        rule = _UFUNCS.get(ufunc)
        if method != "__call__" or kwargs or rule is None:
            return NotImplemented
        return rule(*inputs)


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise DiffError(f"axis {a} is out of bounds for a Dual with {ndim} dimensions")
        out.append(a % ndim)
    return tuple(out)


def _real_of(value: Any) -> Any:
    return value.real if isinstance(value, Dual) else value


# ------------------------------------------------------------- arithmetic rules


def _add(x: Dual, y: Dual) -> Dual:
    a, b, c, d = _parts(x, y)
    return _make(a + c, b + d)


def _sub(x: Dual, y: Dual) -> Dual:
    a, b, c, d = _parts(x, y)
    return _make(a - c, b - d)


def _mul(x: Dual, y: Dual) -> Dual:
    a, b, c, d = _parts(x, y)
    return _make(a * c, a * d + b * c)


def _div(x: Dual, y: Dual) -> Dual:
    """``(a + bε) / (c + dε) = a/c + (b c - a d)/c**2 ε``."""
    a, b, c, d = _parts(x, y)
    if np.any(np.asarray(c) == 0):
        raise DiffError(f"division by zero: the denominator has real part {_fmt(c)}")
    return _make(a / c, (b * c - a * d) / (c * c))


def _pow(x: Any, y: Any) -> Any:
    """``x ** y`` for Duals or plain numbers; see :func:`pow`."""
    if not isinstance(y, Dual) or (np.ndim(y.eps) == 0 and y.eps == 0.0):
        return _pow_const(x, _as_real(y.real if isinstance(y, Dual) else y, "exponent"))
    x = _lift(x)
    a, b, c, d = _parts(x, y)
    if np.any(np.asarray(a) <= 0):
        raise DiffError(
            f"pow: the base must be positive when the exponent carries a derivative, "
            f"got base {_fmt(a)}"
        )
    value = np.power(a, c)
    return _make(value, c * np.power(a, c - 1.0) * b + value * np.log(a) * d)


def _pow_const(x: Any, p: Real) -> Any:
    """``x ** p`` with a constant exponent: derivative ``p x**(p-1)``."""
    a = x.real if isinstance(x, Dual) else _as_real(x, "base")
    a_arr, p_arr = np.asarray(a), np.asarray(p)
    if np.any((a_arr < 0) & (p_arr != np.round(p_arr))):
        raise DiffError(f"pow: negative base {_fmt(a)} with non-integer exponent {_fmt(p)}")
    if np.any((a_arr == 0) & (p_arr < 0)):
        raise DiffError(f"pow: division by zero, 0 raised to negative exponent {_fmt(p)}")
    value = np.power(a, p)
    if not isinstance(x, Dual):
        return _tidy(value)
    if np.any((a_arr == 0) & (p_arr > 0) & (p_arr < 1)):
        raise DiffError(f"pow: derivative of x**{_fmt(p)} is infinite at x = 0")
    slope = np.where(p_arr == 0, 0.0, p_arr * np.power(a, np.where(p_arr == 0, 1.0, p - 1.0)))
    return _make(value, slope * x.eps)


def _matmul(x: Dual, y: Dual) -> Dual:
    """``(a + bε) @ (c + dε) = a@c + (a@d + b@c)ε`` keeping seed axes leading."""
    a, b, c, d = x.real, x.eps, y.real, y.eps
    if np.ndim(a) == 0 or np.ndim(c) == 0:
        raise DiffError("matmul: scalar operands are not allowed, use *")
    value = np.matmul(a, c)
    b = np.broadcast_to(b, np.shape(b)[: _batch_ndim(x)] + np.shape(a))
    d = np.broadcast_to(d, np.shape(d)[: _batch_ndim(y)] + np.shape(c))
    return _make(value, _mm_tangent(a, d, _batch_ndim(y)) + np.matmul(b, c))


def _mm_tangent(a: Real, d: np.ndarray, d_batch: int) -> np.ndarray:
    """``a @ d`` where ``d`` may carry leading seed axes and a 1-D real shape."""
    if d_batch > 0 and d.ndim - d_batch == 1:
        return np.matmul(a, d[..., None])[..., 0]
    return np.matmul(a, d)


# ------------------------------------------------------------ elementary functions


def _unary(
    name: str,
    value_fn: Callable[[Real], Real],
    slope_fn: Callable[[Real, Real], Real],
    check: Callable[[Real, bool], None] | None = None,
) -> Callable[[Any], Any]:
    """Build an elementary function from its value and its slope ``f'(a)`` (given f(a))."""

    def fn(x: Any) -> Any:
        if isinstance(x, Dual):
            a = x.real
            if check is not None:
                check(a, True)
            fa = value_fn(a)
            return _make(fa, slope_fn(a, fa) * x.eps)
        a = _as_real(x, f"argument of {name}")
        if check is not None:
            check(a, False)
        return _tidy(value_fn(a))

    fn.__name__ = fn.__qualname__ = name
    return fn


def _positive(name: str, allow_zero_plain: bool) -> Callable[[Real, bool], None]:
    def check(a: Real, is_dual: bool) -> None:
        arr = np.asarray(a)
        bad = arr < 0 if (allow_zero_plain and not is_dual) else arr <= 0
        if np.any(bad):
            where = "real part" if is_dual else "argument"
            raise DiffError(f"{name}: {where} must be positive, got {_fmt(a)}")

    return check


def _stable_sigmoid(a: Real) -> Real:
    e = np.exp(-np.abs(a))
    return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


exp = _unary("exp", np.exp, lambda a, fa: fa)
exp.__doc__ = "``e**x``; derivative ``e**x``."
log = _unary("log", np.log, lambda a, fa: 1.0 / a, _positive("log", False))
log.__doc__ = "Natural log; the argument (real part) must be positive. Derivative ``1/x``."
sqrt = _unary("sqrt", np.sqrt, lambda a, fa: 0.5 / fa, _positive("sqrt", True))
sqrt.__doc__ = (
    "Square root. Plain numbers must be >= 0; a Dual's real part must be > 0 "
    "(the derivative ``1/(2 sqrt x)`` is infinite at 0)."
)
sin = _unary("sin", np.sin, lambda a, fa: np.cos(a))
sin.__doc__ = "Sine; derivative ``cos x``."
cos = _unary("cos", np.cos, lambda a, fa: -np.sin(a))
cos.__doc__ = "Cosine; derivative ``-sin x``."
tan = _unary("tan", np.tan, lambda a, fa: 1.0 + fa * fa)
tan.__doc__ = "Tangent; derivative ``1 + tan(x)**2``."
tanh = _unary("tanh", np.tanh, lambda a, fa: 1.0 - fa * fa)
tanh.__doc__ = "Hyperbolic tangent; derivative ``1 - tanh(x)**2``."
sigmoid = _unary("sigmoid", _stable_sigmoid, lambda a, fa: fa * (1.0 - fa))
sigmoid.__doc__ = "Logistic ``1/(1+e**-x)``, overflow-safe; derivative ``s(1-s)``."
relu = _unary(
    "relu", lambda a: np.where(np.asarray(a) > 0, a, 0.0), lambda a, fa: np.where(a > 0, 1.0, 0.0)
)
relu.__doc__ = "``max(x, 0)``; derivative 1 for x > 0 and 0 otherwise (relu'(0) = 0)."
abs = _unary("abs", np.abs, lambda a, fa: np.sign(a))
abs.__doc__ = "Absolute value; derivative ``sign(x)`` with ``|x|'(0) = 0``."


def pow(x: Any, y: Any) -> Any:
    """``x ** y`` for Duals, numbers or arrays.

    Constant exponent ``p``: derivative ``p x**(p-1)`` (negative bases allowed for integer
    ``p``). Dual exponent ``c + dε``: ``a**c + (c a**(c-1) b + a**c log(a) d)ε``, which needs
    ``a > 0``.
    """
    return _pow(x, y)


_UFUNCS: dict[Any, Callable[..., Any]] = {
    np.add: lambda u, v: _add(_lift(u), _lift(v)),
    np.subtract: lambda u, v: _sub(_lift(u), _lift(v)),
    np.multiply: lambda u, v: _mul(_lift(u), _lift(v)),
    np.true_divide: lambda u, v: _div(_lift(u), _lift(v)),
    np.power: _pow,
    np.matmul: lambda u, v: _matmul(_lift(u), _lift(v)),
    np.negative: lambda u: -u,
    np.positive: lambda u: u,
    np.absolute: abs,
    np.exp: exp,
    np.log: log,
    np.sqrt: sqrt,
    np.sin: sin,
    np.cos: cos,
    np.tan: tan,
    np.tanh: tanh,
    np.less: lambda u, v: _real_of(u) < _real_of(v),
    np.less_equal: lambda u, v: _real_of(u) <= _real_of(v),
    np.greater: lambda u, v: _real_of(u) > _real_of(v),
    np.greater_equal: lambda u, v: _real_of(u) >= _real_of(v),
    np.equal: lambda u, v: _real_of(u) == _real_of(v),
    np.not_equal: lambda u, v: _real_of(u) != _real_of(v),
}
