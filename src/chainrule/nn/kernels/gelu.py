"""GELU as one fused primitive (``gelu``), PyTorch's two forms:

    approximate="none":  y = x Phi(x),                       Phi(x) = (1 + erf(x / sqrt 2)) / 2
    approximate="tanh":  y = x (1 + tanh(u)) / 2,            u = sqrt(2 / pi) (x + 0.044715 x^3)

The composite form (``chainrule.gelu``: five primitives, SciPy's erf) cost a Transformer
block a third of its training step. Here the forward keeps Phi(x) (or tanh(u)) beside the
output in one workspace, so the vjp needs no erf:

    dy/dx = Phi(x) + x phi(x)                                 phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2) / 2,    t = tanh(u)

Both rules run in NumPy when no graph of the gradient is recorded; otherwise (create_graph,
forward mode around it) the slope is built from differentiable ops, so derivatives of every
order work (as ``layer_norm_last`` does).

Precision. float64 uses the exact normal CDF (SciPy's ``ndtr``; ``math.erfc`` without
SciPy). SciPy's erf takes about 15 ns an element, a third of the whole block's step, so in
float32 (and float16) Phi comes from erf(z) = tanh(z P(z^2)) on |z| <= 4.5 (erf(4) rounds to
1 in float32) with a degree-6 polynomial P fitted by ``experiments/gelu_erf_fit.py``: its
largest error is 3.1e-7 relative to erf (2-3 ulp), and GELU's largest absolute error on
[-8, 8] is 6.6e-7, below PyTorch's float32 GELU's 1.2e-6 (tests/nn/test_gelu.py compares
both with float64). It runs over blocks of the array that stay in cache: about 6x faster
than SciPy's erf. float16 computes it in float32; other dtypes take the exact CDF.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import ops
from ...autograd.primitive import const, prim, unrecorded
from ...autograd.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_C = math.sqrt(2 / math.pi)
_TANH_K = 0.044715
APPROXIMATIONS = ("none", "tanh")

# erf(z) = tanh(z P(z^2)) for |z| <= 4: P's coefficients, lowest order first
# (python experiments/gelu_erf_fit.py prints them and their error).
ERF_TANH_COEFFICIENTS = (1.1283792743083847, 0.10276905576916325, -0.0001918307418879947,
                         -0.0006197847163051116, 8.763735061905453e-05,
                         -5.66847963155643e-06, 1.4185246371050537e-07)
# erf is 1 in float32 from z = 4; at 4.5 the argument of tanh is 14.4, where NumPy's float32
# tanh gives exactly 1, so Phi is exactly 0 far left (x Phi(x) = -0, as PyTorch's)
_ERF_CLAMP = 4.5
_BLOCK = 1 << 15  # elements per block: the few temporaries stay in the L2 cache


def _ndtr(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import ndtr
    except ImportError:  # exact but slower
        return np.vectorize(lambda v: 0.5 * math.erfc(-v * _SQRT_HALF),
                            otypes=[np.float64])(x).astype(x.dtype, copy=False)
    return ndtr(x)


def _cdf_approx(x: np.ndarray, out: np.ndarray) -> None:
    """out = Phi(x) (both flat, contiguous) from the tanh form of erf, block by block."""
    dt = x.dtype.type
    coef = [dt(c) for c in ERF_TANH_COEFFICIENTS]
    lo, hi, scale = dt(-_ERF_CLAMP), dt(_ERF_CLAMP), dt(_SQRT_HALF)
    half = dt(0.5)
    z = np.empty(min(_BLOCK, x.size), x.dtype)
    s = np.empty_like(z)
    for i in range(0, x.size, _BLOCK):
        xi, acc = x[i:i + _BLOCK], out[i:i + _BLOCK]
        n = xi.size
        zi, si = z[:n], s[:n]
        np.multiply(xi, scale, out=zi)
        np.clip(zi, lo, hi, out=zi)
        np.multiply(zi, zi, out=si)
        np.multiply(si, coef[-1], out=acc)
        for c in coef[-2:0:-1]:  # Horner in z^2
            acc += c
            acc *= si
        acc += coef[0]
        acc *= zi
        np.tanh(acc, out=acc)  # erf(z)
        acc *= half
        acc += half


def _gelu_np(x: np.ndarray, *, approximate: str) -> np.ndarray:
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    flat = np.ascontiguousarray(x).reshape(-1)
    n = flat.size
    ws = np.empty(2 * n, dtype=x.dtype)  # [y | Phi(x) or tanh(u)]: see _saved
    y, saved = ws[:n], ws[n:]
    if approximate == "tanh":
        np.multiply(flat, flat, out=saved)
        saved *= x.dtype.type(_TANH_K)
        saved += 1
        saved *= flat
        saved *= x.dtype.type(_TANH_C)
        np.tanh(saved, out=saved)
        np.add(saved, 1, out=y)
        y *= flat
        y *= x.dtype.type(0.5)
    else:
        if x.dtype == np.float32 and n:
            _cdf_approx(flat, saved)
        elif x.dtype == np.float16 and n:
            cdf = np.empty(n, np.float32)
            _cdf_approx(flat.astype(np.float32), cdf)
            saved[...] = cdf
        else:
            saved[...] = _ndtr(flat)
        np.multiply(flat, saved, out=y)
    return y.reshape(x.shape)


def _saved(y: Tensor) -> np.ndarray:
    """Phi(x) (or tanh(u)), kept beside the output."""
    ws = y.data.base
    n = y.data.size
    if ws is None or ws.ndim != 1 or ws.size != 2 * n:
        raise RuntimeError("gelu: the output's array was replaced, so the values saved for "
                           "backward are gone")
    return ws[n:].reshape(y.shape)


def _slope_composite(x: Tensor, approximate: str) -> Tensor:
    """dy/dx in differentiable ops (for derivatives of higher order)."""
    if approximate == "tanh":
        t = ops.tanh(_TANH_C * (x + _TANH_K * x * x * x))
        du = _TANH_C * (1 + 3 * _TANH_K * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    cdf = 0.5 * (1 + ops.erf(x * _SQRT_HALF))
    return cdf + x * (_INV_SQRT_2PI * ops.exp(-0.5 * x * x))


def _slope_block(x: np.ndarray, saved: np.ndarray, v: np.ndarray, out: np.ndarray,
                 approximate: str) -> None:
    """out = v * dy/dx on one block (all flat, of one length)."""
    dt = out.dtype.type
    np.multiply(x, x, out=out)
    if approximate == "tanh":
        # (1 + t) / 2 + x (1 - t^2) c (1 + 3 k x^2) / 2
        out *= dt(1.5 * _TANH_C * _TANH_K)
        out += dt(0.5 * _TANH_C)
        out *= x
        one_minus = np.multiply(saved, saved)
        np.subtract(dt(1), one_minus, out=one_minus)
        out *= one_minus
        np.multiply(saved, dt(0.5), out=one_minus)
        out += one_minus
        out += dt(0.5)
    else:  # Phi(x) + x phi(x)
        out *= dt(-0.5)
        np.exp(out, out=out)
        out *= x
        out *= dt(_INV_SQRT_2PI)
        out += saved
    out *= v


def _slope_np(y: Tensor, x: np.ndarray, v: np.ndarray, approximate: str) -> np.ndarray:
    """v * dy/dx in NumPy, block by block (the temporaries stay in cache)."""
    saved = _saved(y)
    out = np.empty(saved.shape, saved.dtype)
    xf, sf, of = (np.ascontiguousarray(a).reshape(-1) for a in (x, saved, out))
    vf = np.ascontiguousarray(np.broadcast_to(v, out.shape)).reshape(-1)
    for i in range(0, of.size, _BLOCK):
        j = i + _BLOCK
        _slope_block(xf[i:j], sf[i:j], vf[i:j], of[i:j], approximate)
    return out


def _gelu_rule(v: Tensor, y: Tensor, x: Tensor, *, approximate: str) -> Tensor:
    """vjp and jvp alike (a diagonal Jacobian): v * dy/dx."""
    if not unrecorded(v, x):
        return v * _slope_composite(x, approximate)
    return const(_slope_np(y, x.data.astype(y.dtype, copy=False),
                           v.data.astype(y.dtype, copy=False), approximate))


_gelu = prim("gelu", _gelu_np, vjp=_gelu_rule, jvp=_gelu_rule)
_gelu.kind = "elementwise"


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x) as one primitive; ``approximate="tanh"``: PyTorch's tanh form."""
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu(ops.lift(x), approximate=approximate)
