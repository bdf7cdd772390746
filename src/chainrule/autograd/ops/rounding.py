"""Rounding and remainders: floor, ceil, round, trunc (zero derivative, as PyTorch and JAX),
floor_divide, mod/remainder (the sign of the divisor, Python's ``%``) and fmod (the sign of
the dividend, C's ``fmod``).

The rounding functions are piecewise constant: their derivative is 0 wherever it exists,
and 0 is what PyTorch returns at the jumps too. ``a mod b = a - floor(a / b) b``, so its
partials are 1 and ``-floor(a / b)`` (a piecewise-constant factor: a constant in the rule,
exact to every order); fmod is the same with ``trunc``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import const, lift, prim, zero
from ..tensor import Tensor
from .special import binary

__all__ = ["ceil", "fix", "floor", "floor_divide", "fmod", "mod", "remainder", "round", "trunc"]


def _trunc_divide_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b rounded toward zero; exact integer division for integers (as PyTorch)."""
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        q = np.floor_divide(a, b)
        return q + ((np.mod(a, b) != 0) & ((a < 0) != (b < 0)))
    return np.trunc(np.true_divide(a, b))


def _pass(v: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return v


def _mod_b(v: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return -v * const(np.floor_divide(a.data, b.data))


def _fmod_b(v: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return -v * const(_trunc_divide_np(a.data, b.data))


_STEP = (zero, zero)  # both rules of a piecewise-constant binary op
floor = prim("floor", np.floor, vjp=zero, jvp=zero)
ceil = prim("ceil", np.ceil, vjp=zero, jvp=zero)
trunc = prim("trunc", np.trunc, vjp=zero, jvp=zero)
_round = prim("round", lambda x, decimals=0: np.round(x, decimals), vjp=zero, jvp=zero)
_floor_divide = prim("floor_divide", np.floor_divide, vjp=_STEP, jvp=_STEP)
_trunc_divide = prim("trunc_divide", _trunc_divide_np, vjp=_STEP, jvp=_STEP)
_mod = prim("mod", np.mod, vjp=(_pass, _mod_b), jvp=(_pass, _mod_b))
_fmod = prim("fmod", np.fmod, vjp=(_pass, _fmod_b), jvp=(_pass, _fmod_b))
fix = trunc  # NumPy's other name


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even (NumPy's and PyTorch's rule) to ``decimals`` places; derivative 0."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return _round(lift(x), decimals=int(decimals))


floor_divide = binary(_floor_divide, "floor(a / b) (Python's ``//``); derivative 0.")
trunc_divide = binary(_trunc_divide, "trunc(a / b), rounded toward zero; derivative 0.")
mod = binary(_mod, "a - floor(a / b) b: the remainder with the sign of ``b`` (Python's ``%``, "
             "NumPy's ``mod``/``remainder``, PyTorch's ``remainder``).")
remainder = mod
fmod = binary(_fmod, "a - trunc(a / b) b: the remainder with the sign of ``a`` (C's fmod).")
