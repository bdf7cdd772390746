"""gradcheck and gradgradcheck: analytic derivatives against central finite differences.

Both run in float64. For a function ``f(*inputs) -> tensor``:

* the **vjp** check draws a random output direction ``u`` and compares the reverse-mode
  gradient of ``<u, f(x)>`` with its finite-difference gradient, element by element;
* the **jvp** check draws random input directions ``v`` and compares the forward-mode
  ``J v`` with ``(f(x + eps v) - f(x - eps v)) / 2 eps``, element by element.

A failure raises ``GradcheckError`` naming the check, the input and the worst element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import DiffError, GradcheckError
from . import engine, ops
from .functional import jvp
from .tensor import Tensor, _make


def positive_step(eps: Any) -> float:
    """A finite-difference step as a positive finite float, or DiffError."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise DiffError(f"eps must be a positive finite number, got {eps!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise DiffError(f"eps must be a positive finite number, got {eps!r}")
    return value


def finite_scalar(value: Any, where: str) -> float:
    """A function value as a finite Python float, or DiffError naming ``where``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise DiffError(f"{where}: function must return a scalar, got shape {arr.shape}")
    out = float(arr.reshape(()))
    if not math.isfinite(out):
        raise DiffError(f"{where}: function returned a non-finite value ({out})")
    return out


def numeric_gradient(f: Callable[[np.ndarray], Any], x: Any, eps: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function by central differences.

    Args:
        f: maps a float64 array of ``x``'s shape to a scalar (float, 0-d or size-1 array).
        x: point of evaluation, any shape; not modified.
        eps: step size (> 0).

    Returns:
        float64 array of ``x``'s shape; entry ``i`` is ``(f(x + eps e_i) - f(x - eps e_i)) / h``
        with ``h`` the step actually taken. Costs ``2 * x.size`` calls of ``f``.
    """
    step = positive_step(eps)
    work = np.array(x, dtype=np.float64, order="C", copy=True)  # reshape(-1) must be a view
    grad = np.zeros_like(work)
    flat_work, flat_grad = work.reshape(-1), grad.reshape(-1)
    for i in range(flat_work.size):
        orig = flat_work[i]
        hi, lo = orig + step, orig - step
        flat_work[i] = hi
        f_hi = finite_scalar(f(work), "numeric_gradient")
        flat_work[i] = lo
        f_lo = finite_scalar(f(work), "numeric_gradient")
        flat_work[i] = orig
        flat_grad[i] = (f_hi - f_lo) / (hi - lo)
    return grad


def _inputs64(inputs: Any) -> list[np.ndarray]:
    if isinstance(inputs, (Tensor, np.ndarray, float, int)):
        inputs = (inputs,)
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64, order="C")
              for x in inputs]
    return arrays


def _call(f: Callable, arrays: Sequence[np.ndarray]) -> np.ndarray:
    out = f(*[_make(a) for a in arrays])
    return np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)


def _worst(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float
           ) -> tuple[bool, tuple, float, float]:
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if excess.size == 0:
        return True, (), 0.0, 0.0
    k = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return bool(excess[k] <= 0), tuple(int(i) for i in k), float(analytic[k]), float(numeric[k])


def gradcheck(f: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, check_vjp: bool = True,
              check_jvp: bool = True) -> bool:
    """Check ``f``'s vjp and jvp against central differences; True or ``GradcheckError``.

    ``inputs``: an array-like or a sequence of them (all differentiated, in float64).
    """
    xs = _inputs64(inputs)
    rng = np.random.default_rng(seed)
    y0 = _call(f, xs)
    if check_vjp:
        u = rng.standard_normal(y0.shape)
        leaves = [_make(x.copy(), requires_grad=True) for x in xs]
        out = f(*leaves)
        out = out if isinstance(out, Tensor) else Tensor(out)
        grads = engine.grad([out], leaves, [u]) if out._rg else [None] * len(xs)
        for i, (x, g) in enumerate(zip(xs, grads)):
            analytic = np.zeros_like(x) if g is None else np.asarray(g.data, np.float64)

            def phi(xi: np.ndarray, i: int = i) -> float:
                args = list(xs)
                args[i] = xi
                return float(np.sum(_call(f, args) * u))

            numeric = numeric_gradient(phi, x, eps)
            ok, k, a, n = _worst(analytic, numeric, atol, rtol)
            if not ok:
                raise GradcheckError(
                    f"vjp check failed for input {i} (shape {x.shape}) at element {k}: "
                    f"analytic {a!r} vs numeric {n!r} (atol={atol}, rtol={rtol})")
    if check_jvp:
        vs = [rng.standard_normal(x.shape) for x in xs]
        _, tan = jvp(f, [_make(x) for x in xs], [_make(v) for v in vs])
        analytic = np.asarray(tan.data, np.float64)
        plus = _call(f, [x + eps * v for x, v in zip(xs, vs)])
        minus = _call(f, [x - eps * v for x, v in zip(xs, vs)])
        numeric = (plus - minus) / (2 * eps)
        ok, k, a, n = _worst(analytic.reshape(numeric.shape), numeric, atol, rtol)
        if not ok:
            raise GradcheckError(
                f"jvp check failed at output element {k} (output shape {y0.shape}, random "
                f"tangents on all {len(xs)} inputs): analytic {a!r} vs numeric {n!r} "
                f"(atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(f: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0, check_jvp: bool = True,
                  check_forward_first: bool = True) -> bool:
    """Check second derivatives in every combination of modes.

    gradcheck of ``(x, u) -> vjp of f at x along u`` (built with ``create_graph=True``)
    in both modes exercises reverse-over-reverse and forward-over-reverse; with
    ``check_forward_first``, gradcheck of ``(x, v) -> jvp of f at x along v`` exercises
    reverse-over-forward and (with ``check_jvp``) forward-over-forward: nested jvps.
    """
    xs = _inputs64(inputs)
    y0 = _call(f, xs)
    u0 = np.random.default_rng(seed + 1).standard_normal(y0.shape)
    n = len(xs)

    def first_derivative(*args: Tensor) -> Tensor:
        leaves = [a if a._rg else _alias_leaf(a) for a in args[:n]]
        u = args[n]
        out = f(*leaves)
        grads = engine.grad([out], leaves, [u], create_graph=True)
        flat = [ops.flatten(_make(np.zeros(x.shape)) if g is None else g)
                for g, x in zip(grads, leaves)]
        return ops.concatenate(flat)

    gradcheck(first_derivative, [*xs, u0], eps=eps, atol=atol, rtol=rtol, seed=seed,
              check_jvp=check_jvp)
    if check_forward_first:
        rng = np.random.default_rng(seed + 2)
        v0 = [rng.standard_normal(x.shape) for x in xs]

        def first_tangent(*args: Tensor) -> Tensor:
            return jvp(f, args[:n], args[n:])[1]

        try:
            gradcheck(first_tangent, [*xs, *v0], eps=eps, atol=atol, rtol=rtol, seed=seed,
                      check_jvp=check_jvp)
        except GradcheckError as e:
            raise GradcheckError(f"second derivative through forward mode (x, v -> J v): "
                                 f"{e}") from None
    return True


def _alias_leaf(a: Tensor) -> Tensor:
    leaf = _make(a.data, requires_grad=True)
    leaf._tangent = a._tangent
    return leaf
