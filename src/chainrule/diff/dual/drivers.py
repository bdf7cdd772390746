"""Forward-mode drivers: ``f'(x)``, partials, a gradient or a Jacobian of a Python function by
pushing :class:`~.number.Dual` numbers through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.diff.dual.number import Dual, _as_real, _batch_ndim, _lift, _make
from chainrule.diff.errors import DiffError

__all__ = ["derivative", "gradient", "jacobian", "partials"]


# ----------------------------------------------------------------- derivative helpers


def _tangent(result: Any, shape: tuple[int, ...]) -> np.ndarray | float:
    """The eps part of ``result`` (zero for a plain constant), broadcast to ``shape``."""
    eps = result.eps if isinstance(result, Dual) else 0.0
    if shape == () and np.ndim(eps) == 0:
        return float(eps)
    return np.broadcast_to(np.asarray(eps, dtype=np.float64), shape).copy()


def _stack_output(result: Any) -> Any:
    """Allow a function to return a list/tuple of Duals: stack into one Dual."""
    if not isinstance(result, (list, tuple)):
        return result
    items = [_lift(r) for r in result]
    nb = max(_batch_ndim(r) for r in items) if items else 0
    seeds = next((np.shape(r.eps)[:nb] for r in items if _batch_ndim(r) == nb), ())
    eps = [np.broadcast_to(r.eps, seeds + np.shape(r.real)) for r in items]
    return _make(np.stack([r.real for r in items]), np.stack(eps, axis=len(seeds)))


def derivative(f: Callable[[Any], Any], x: Any) -> Any:
    """``f'(x)`` by one forward pass of ``f(Dual(x, 1))``.

    ``x`` may be a number (returns a float) or an array, in which case the seed is all ones and
    the result (shape of ``f(x)``) is the elementwise derivative of an elementwise ``f``.
    """
    real = _as_real(x, "x")
    result = _stack_output(f(Dual(real, 1.0)))
    return _tangent(result, np.shape(result.real if isinstance(result, Dual) else result))


def partials(f: Callable[..., Any], *args: Any) -> list[Any]:
    """All partial derivatives of ``f(*args)``, one forward pass per argument.

    This is the textbook's cost: ``n`` passes for ``n`` inputs. Each argument may be a number or
    an array (seeded with ones, giving the elementwise/summed-direction derivative).

    >>> partials(lambda x, y: x * x * y + y + 2, 3.0, 4.0)
    [24.0, 10.0]
    """
    reals = [_as_real(a, "argument") for a in args]
    out = []
    for i in range(len(reals)):
        seeded = [Dual(r, 1.0) if j == i else r for j, r in enumerate(reals)]
        result = _stack_output(f(*seeded))
        out.append(_tangent(result, np.shape(result.real if isinstance(result, Dual) else result)))
    return out


def gradient(f: Callable[..., Any], *args: Any) -> list[Any]:
    """Gradient of a scalar ``f(*args)`` in ONE forward pass.

    All ``N`` scalar inputs (arguments may be numbers or arrays; ``N`` counts their entries)
    are seeded at once: input entry ``k`` gets ``eps`` equal to row ``k`` of the ``N x N``
    identity, so the output's ``eps`` has shape ``(N,)`` and is the whole gradient. Returns a
    list with one entry per argument: a float for a number, an array of its shape otherwise.

    >>> gradient(lambda x, y: x * x * y + y + 2, 3.0, 4.0)
    [24.0, 10.0]
    """
    reals = [_as_real(a, "argument") for a in args]
    sizes = [int(np.size(r)) for r in reals]
    eye = np.eye(sum(sizes))
    seeded, start = [], 0
    for r, n in zip(reals, sizes, strict=True):
        seeded.append(Dual(r, eye[:, start : start + n].reshape((-1,) + np.shape(r))))
        start += n
    result = _stack_output(f(*seeded))
    if np.ndim(result.real if isinstance(result, Dual) else result) != 0:
        raise DiffError("gradient: f must return a scalar; use jacobian for vector outputs")
    flat = _tangent(result, (sum(sizes),))
    pieces = np.split(flat, np.cumsum(sizes)[:-1])
    shaped = zip(pieces, reals, strict=True)
    return [float(p[0]) if np.ndim(r) == 0 else p.reshape(np.shape(r)) for p, r in shaped]


def jacobian(f: Callable[[Any], Any], x: Any) -> np.ndarray:
    """Jacobian of ``f`` at ``x`` in ONE forward pass (identity seeds in ``eps``).

    Returns an array of shape ``out.shape + x.shape`` (same convention as
    :func:`chainrule.diff.numeric.numeric_jacobian`). ``f`` may return a Dual, a plain
    constant, or a list/tuple of scalar Duals.
    """
    real = _as_real(x, "x")
    n = int(np.size(real))
    seeds = np.eye(n).reshape((n,) + np.shape(real))
    result = _stack_output(f(Dual(real, seeds)))
    out_shape = np.shape(result.real if isinstance(result, Dual) else result)
    tangent = np.asarray(_tangent(result, (n,) + out_shape))
    return np.moveaxis(tangent, 0, -1).reshape(out_shape + np.shape(real))
