"""Finite differences: the simplest way to differentiate, and the referee for all others.

Conventions
-----------
* Array functions (:func:`numeric_gradient`, :func:`numeric_jacobian`,
  :func:`numeric_hessian`) work in float64 on a private copy of ``x``; the caller's array is
  never modified. ``f`` receives a float64 array of ``x``'s shape. ``f`` must not keep or
  mutate the array it is given (it is reused between evaluations).
* Central differences are used for arrays: error O(eps**2). The step actually taken is
  ``(x + eps) - (x - eps)`` as rounded in float64, which removes one source of rounding error.
* :func:`gradients` is the one-sided forward difference of *Hands-On Machine Learning*,
  appendix D: for ``n`` variables it calls ``func`` exactly ``n + 1`` times. Wrap ``func`` in
  :class:`CountingFunction` to see that cost.
* Bad input (``eps <= 0``, unknown ``method``, a NaN or infinite function value) raises
  :class:`~chainrule.diff.errors.DiffError`, a :class:`ValueError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd.check import finite_scalar as _scalar
from chainrule.autograd.check import numeric_gradient
from chainrule.autograd.check import positive_step as _check_eps
from chainrule.diff.errors import DiffError

__all__ = [
    "CountingFunction",
    "derivative",
    "gradients",
    "numeric_gradient",
    "numeric_hessian",
    "numeric_jacobian",
]


class CountingFunction:
    """Wrap a callable and count how many times it is called.

    >>> f = CountingFunction(lambda x, y: x * x * y + y + 2)
    >>> _ = gradients(f, [3.0, 4.0])
    >>> f.calls          # n + 1 evaluations for n = 2 variables
    3
    >>> f.reset(); f.calls
    0
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise DiffError(f"CountingFunction needs a callable, got {type(func).__name__}")
        self.func = func
        self.calls = 0
        functools.update_wrapper(self, func, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.func(*args, **kwargs)

    def reset(self) -> None:
        """Set the call counter back to zero."""
        self.calls = 0

    def __repr__(self) -> str:
        return f"CountingFunction({self.func!r}, calls={self.calls})"


# ----------------------------------------------------------------------------- checks


def _finite_array(value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise DiffError(f"{where}: function returned non-finite values")
    return arr


def _as_float64_copy(x: Any) -> np.ndarray:
    return np.array(x, dtype=np.float64, copy=True)


# ------------------------------------------------------------------------ array tools


def numeric_jacobian(f: Callable[[np.ndarray], Any], x: Any, eps: float = 1e-6) -> np.ndarray:
    """Jacobian of an array function by central differences.

    Args:
        f: maps a float64 array of ``x``'s shape to an array (any shape ``out.shape``).
        x: point of evaluation; not modified.
        eps: step size (> 0).

    Returns:
        float64 array of shape ``out.shape + x.shape`` with
        ``J[o..., i...] = d f(x)[o...] / d x[i...]``. Costs ``2 * x.size + 1`` calls.
    """
    step = _check_eps(eps)
    work = _as_float64_copy(x)
    out_shape = _finite_array(f(work), "numeric_jacobian").shape
    flat_work = work.reshape(-1)
    jac = np.zeros((int(np.prod(out_shape)), flat_work.size), dtype=np.float64)
    for i in range(flat_work.size):
        orig = flat_work[i]
        hi, lo = orig + step, orig - step
        flat_work[i] = hi
        f_hi = _finite_array(f(work), "numeric_jacobian")
        flat_work[i] = lo
        f_lo = _finite_array(f(work), "numeric_jacobian")
        flat_work[i] = orig
        if f_hi.shape != out_shape or f_lo.shape != out_shape:
            raise DiffError(
                f"numeric_jacobian: output shape changed from {out_shape} to "
                f"{f_hi.shape if f_hi.shape != out_shape else f_lo.shape}"
            )
        jac[:, i] = ((f_hi - f_lo) / (hi - lo)).reshape(-1)
    return jac.reshape(out_shape + work.shape)


def numeric_hessian(f: Callable[[np.ndarray], Any], x: Any, eps: float = 1e-4) -> np.ndarray:
    """Hessian of a scalar function by the four-point central-difference formula.

    ``H[i, j] = (f(x+h e_i+h e_j) - f(x+h e_i-h e_j) - f(x-h e_i+h e_j) + f(x-h e_i-h e_j))
    / (4 h^2)``; only the upper triangle is computed and then mirrored, so the result is
    exactly symmetric.

    Returns:
        float64 array of shape ``x.shape + x.shape``. Costs ``2 n (n + 1)`` calls for
        ``n = x.size``.
    """
    step = _check_eps(eps)
    work = _as_float64_copy(x)
    flat = work.reshape(-1)
    n = flat.size
    hess = np.zeros((n, n), dtype=np.float64)

    def at(shifts: dict[int, float]) -> float:
        saved = {k: flat[k] for k in shifts}
        for k, s in shifts.items():
            flat[k] += s
        value = _scalar(f(work), "numeric_hessian")
        for k, v in saved.items():
            flat[k] = v
        return value

    for i in range(n):
        for j in range(i, n):
            if i == j:
                total = at({i: 2 * step}) - 2 * at({}) + at({i: -2 * step})
            else:
                total = (
                    at({i: step, j: step})
                    - at({i: step, j: -step})
                    - at({i: -step, j: step})
                    + at({i: -step, j: -step})
                )
            hess[i, j] = hess[j, i] = total / (4.0 * step * step)
    return hess.reshape(work.shape + work.shape)


# ----------------------------------------------------------------------- scalar tools


def derivative(
    func: Callable[[float], Any], x: float, eps: float = 1e-6, method: str = "forward"
) -> float:
    """Derivative of a one-variable scalar function.

    ``method="forward"``: ``(f(x + eps) - f(x)) / eps`` (2 calls, error O(eps)).
    ``method="central"``: ``(f(x + eps) - f(x - eps)) / (2 eps)`` (2 calls, error O(eps**2)).
    """
    step = _check_eps(eps)
    if method == "forward":
        f_hi = _scalar(func(x + step), "derivative")
        return (f_hi - _scalar(func(x), "derivative")) / step
    if method == "central":
        f_hi = _scalar(func(x + step), "derivative")
        return (f_hi - _scalar(func(x - step), "derivative")) / (2.0 * step)
    raise DiffError(f"derivative: method must be 'forward' or 'central', got {method!r}")


def gradients(func: Callable[..., Any], vars_list: Sequence[Any], eps: float = 1e-4) -> list[float]:
    """All partial derivatives of ``func(*vars_list)`` by one-sided forward differences.

    This is the approach of *Hands-On ML* appendix D: evaluate ``f0 = func(*vars_list)`` once,
    then for each variable ``i`` evaluate ``func`` with ``vars_list[i] + eps`` and return
    ``(f_i - f0) / eps``. Exactly ``n + 1`` calls for ``n`` variables -- cheap for a few
    inputs, hopeless for a network with millions of parameters.

    >>> gradients(lambda x, y: x * x * y + y + 2, [3, 4])
    [24.000400000048216, 10.000000000047748]
    """
    step = _check_eps(eps)
    values = list(vars_list)
    f0 = _scalar(func(*values), "gradients")
    grads = []
    for i in range(len(values)):
        shifted = list(values)
        shifted[i] = shifted[i] + step
        grads.append((_scalar(func(*shifted), "gradients") - f0) / step)
    return grads
