"""Layer normalisation over the last axis as one fused primitive (``layer_norm_last``).

    y = (x - mean) * rstd * w + b,    rstd = 1 / sqrt(var + eps),   over the last axis

The composite form (mean, var, sub, div, mul, add: a dozen NumPy passes forward and as
many recorded nodes backward) cost a Transformer block five times PyTorch's fused layer
norm. Here the forward keeps x-hat and rstd beside the output in one workspace (the
rules find them as ``y.data.base``, as ``lstm_scan`` does) and the vjp

    dw = sum(g * xhat),  db = sum(g),  dx = rstd * (g w - mean(g w) - xhat mean(g w xhat))

runs in NumPy when no graph of the gradient is recorded; otherwise (create_graph,
forward mode around it) both rules take the composite path in differentiable ops, so
derivatives of every order work. ``F.layer_norm`` uses it for a 1-axis
``normalized_shape`` with weight and bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import ops
from ...autograd.primitive import Each, Joint, const, prim, unrecorded
from ...autograd.tensor import Tensor


def _ln_np(x: np.ndarray, w: np.ndarray, b: np.ndarray, *, eps: float) -> np.ndarray:
    # Row sums by einsum: several times faster than ndarray.mean over a short last axis.
    dtype = np.result_type(x, w, b)
    d = x.shape[-1]
    n, rows = x.size, x.size // max(d, 1)
    ws = np.empty(2 * n + rows, dtype=dtype)
    y, xhat = ws[:n].reshape(x.shape), ws[n:2 * n].reshape(x.shape)
    rstd = ws[2 * n:].reshape(x.shape[:-1] + (1,))
    inv_d = np.asarray(1.0 / max(d, 1), dtype)
    np.subtract(x, np.einsum("...i->...", x)[..., None] * inv_d, out=xhat)
    np.multiply(np.einsum("...i,...i->...", xhat, xhat)[..., None], inv_d, out=rstd)
    rstd += np.asarray(eps, dtype)
    np.sqrt(rstd, out=rstd)
    np.reciprocal(rstd, out=rstd)
    xhat *= rstd
    np.multiply(xhat, w, out=y)
    y += b
    return y


def _saved(y: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """x-hat and rstd (..., 1), kept beside the output."""
    ws, shape = y.data.base, y.shape
    n = y.data.size
    if ws is None or ws.ndim != 1 or ws.size != 2 * n + n // max(shape[-1], 1):
        raise RuntimeError("layer_norm_last: the output's array was replaced, so the values "
                           "saved for backward are gone")
    return ws[n:2 * n].reshape(shape), ws[2 * n:].reshape(shape[:-1] + (1,))


def _composite(x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(xhat, rstd) in differentiable ops."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    c = x - mean
    rstd = 1.0 / ops.sqrt(ops.mean(c * c, axis=-1, keepdims=True) + eps)
    return c * rstd, rstd


def _ln_vjp(g: Tensor, y: Tensor, x: Tensor, w: Tensor, b: Tensor, *, eps: float) -> tuple:
    axes = tuple(range(x.ndim - 1))
    if not unrecorded(g, x, w, b):
        xhat, rstd = _composite(x, eps)
        gw = g * w
        dx = rstd * (gw - ops.mean(gw, axis=-1, keepdims=True)
                     - xhat * ops.mean(gw * xhat, axis=-1, keepdims=True))
        return dx, ops.sum(g * xhat, axis=axes), ops.sum(g, axis=axes)
    xhat, rstd = _saved(y)
    gd = g.data
    d = x.shape[-1]
    dw = np.einsum("ij,ij->j", gd.reshape(-1, d), xhat.reshape(-1, d))
    db = gd.reshape(-1, d).sum(axis=0)
    # dx = rstd (g w - mean(g w) - xhat mean(g w xhat)), row means by einsum
    gw = gd * w.data
    inv_d = np.asarray(1.0 / d, gw.dtype)
    dx = xhat * (np.einsum("...i,...i->...", gw, xhat)[..., None] * inv_d)
    dx += np.einsum("...i->...", gw)[..., None] * inv_d
    np.subtract(gw, dx, out=dx)
    dx *= rstd
    return const(dx), const(dw), const(db)


def _ln_jvp(i: int, t: Tensor, y: Tensor, x: Tensor, w: Tensor, b: Tensor, *,
            eps: float) -> Tensor:
    """Output tangent for a tangent t on argument i (0 x, 1 w, 2 b)."""
    if i == 2:
        return t
    if not unrecorded(t, x, w, b):
        xhat, rstd = _composite(x, eps)
        if i == 1:
            return xhat * t
        dxhat = rstd * (t - ops.mean(t, axis=-1, keepdims=True)
                        - xhat * ops.mean(t * xhat, axis=-1, keepdims=True))
        return dxhat * w
    xhat, rstd = _saved(y)
    if i == 1:
        return const(xhat * t.data)
    td = t.data
    d = td - td.mean(axis=-1, keepdims=True)
    d -= xhat * np.einsum("...i,...i->...", td, xhat)[..., None] / x.shape[-1]
    d *= rstd
    d *= w.data
    return const(d)


layer_norm_last = prim("layer_norm_last", _ln_np, vjp=Joint(_ln_vjp), jvp=Each(_ln_jvp))


def layer_norm_last_axis(x: Tensor, weight: Any, bias: Any, eps: float) -> Tensor:
    """The fused layer norm over x's last axis, with (D,) weight and bias."""
    return layer_norm_last(x, weight, bias, eps=float(eps))
