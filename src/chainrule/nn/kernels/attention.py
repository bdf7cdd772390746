"""Scaled dot-product attention as ONE fused primitive (``scaled_dot_product_attention``).

    S = scale * Q K^T + bias        (..., L, S)   bias: the masks, additive (-inf = masked)
    P = softmax(S) over the keys    fully masked rows give P = 0 (not NaN)
    O = (P * D) V                   D: the dropout mask (kept / (1 - p)), or none

The forward runs in NumPy with the softmax in place on the score block (max-subtracted),
and keeps P for backward: the output is a view into one workspace that holds P beside O,
and the rules find it as ``y.data.base`` (as ``lstm_scan`` does). The vjp

    dV = (P D)^T G,   dS = P * ((G V^T) D - rowsum(G * O)),   dQ = scale dS K,
    dK = scale dS^T Q,   dbias = dS

runs in NumPy when no graph of the gradient is recorded; when one is (``create_graph``,
or forward mode around it) both rules take the composite path: the same formulas in
differentiable ops, with P recomputed from differentiable ops, so second and higher
derivatives work in both modes. Batch dimensions broadcast as in ``np.matmul``; the
engine sums the cotangents back to each argument's shape.

Layout, for speed (a Transformer block's training step, benchmarks/bench_transformer.py):
P is kept transposed, (..., S, L), because NumPy's max and sum across rows are vectorised
passes, about three times faster than along 128-long rows; and a (..., heads, T, E)
output or cotangent is stored heads-last, (..., T, heads, E), so that MultiheadAttention
merges and splits its heads by views, without copies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import ops
from ...autograd.primitive import Each, Joint, const, prim, unrecorded
from ...autograd.tensor import Tensor
from ...errors import ShapeError
from ...random import get_rng

_NAME = "scaled_dot_product_attention"


# --------------------------------------------------------------------------- NumPy kernel


def _shapes(q: np.ndarray, k: np.ndarray, v: np.ndarray,
            bias: np.ndarray | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of P^T (..., S, L) and of the output O (..., L, Ev)."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                () if bias is None else bias.shape[:-2])
    return batch + (k.shape[-2], q.shape[-2]), batch + (q.shape[-2], v.shape[-1])


def _softmax_keys_inplace(st: np.ndarray) -> None:
    """Softmax over the keys of S^T (..., S, L) in place: each column (one query) sums to
    one; columns with no finite entry become zeros.

    The keys are on axis -2 rather than -1 because NumPy reduces across rows with
    vectorised elementwise passes, about three times faster than along short rows.
    """
    m = st.max(axis=-2, keepdims=True)
    if not np.isfinite(m).all():
        m[~np.isfinite(m)] = 0.0
    st -= m
    np.exp(st, out=st)
    z = st.sum(axis=-2, keepdims=True)
    if not z.all():
        z[z == 0] = np.inf  # fully masked queries: 0 / inf = 0
    np.reciprocal(z, out=z)
    st *= z


def _heads_last(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An array of ``shape`` on ``buffer``; a (..., heads, T, E) one is stored as
    (..., T, heads, E), so that merging the heads (transpose, reshape to
    (..., T, heads * E)) in MultiheadAttention is a view, forward and backward."""
    if len(shape) < 4:
        return buffer.reshape(shape)
    return buffer.reshape(shape[:-3] + (shape[-2], shape[-3], shape[-1])).swapaxes(-2, -3)


def _empty_heads_last(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return _heads_last(np.empty(math.prod(shape), dtype), shape)


def _sdpa_np(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None,
             *, scale: float, drop: np.ndarray | None = None) -> np.ndarray:
    pt_shape, o_shape = _shapes(q, k, v, bias)
    dtype = np.result_type(q, k, v)
    n = math.prod(pt_shape)
    ws = np.empty(n + math.prod(o_shape), dtype=dtype)
    pt = ws[:n].reshape(pt_shape)  # P^T: keys on axis -2 (see _softmax_keys_inplace)
    out = _heads_last(ws[n:], o_shape)
    np.matmul(k, (q * np.asarray(scale, dtype)).swapaxes(-1, -2), out=pt)
    if bias is not None:
        pt += bias.swapaxes(-1, -2)
    _softmax_keys_inplace(pt)
    p = pt.swapaxes(-1, -2)
    np.matmul(p if drop is None else p * drop, v, out=out)
    return out


def _saved_t(y: Tensor, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> np.ndarray:
    """P^T (..., S, L), kept beside the output in one workspace (module docstring)."""
    pt_shape, o_shape = _shapes(q.data, k.data, v.data, None if bias is None else bias.data)
    ws = y.data.base
    n = math.prod(pt_shape)
    if ws is None or ws.ndim != 1 or ws.size != n + math.prod(o_shape):
        raise RuntimeError(f"{_NAME}: the output's array was replaced, so the attention "
                           "weights saved for backward are gone")
    return ws[:n].reshape(pt_shape)


def _saved(y: Tensor, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> np.ndarray:
    """P (..., L, S): a transposed view of the saved P^T."""
    return _saved_t(y, q, k, v, bias).swapaxes(-1, -2)


# --------------------------------------------------------------------------- composite path


def attention_probs(q: Tensor, k: Tensor, bias: Tensor | None, scale: float) -> Tensor:
    """softmax(scale Q K^T + bias) in differentiable ops; fully masked rows are zeros.

    The row maximum is subtracted as a constant (softmax does not depend on it), and the
    masked entries (-inf) are zeroed by a constant mask, so no NaN appears anywhere.
    """
    s = ops.matmul(q * scale, ops.swapaxes(k, -1, -2))
    if bias is not None:
        s = s + bias
    masked = ~np.isfinite(s.data)
    if masked.any():
        s = ops.where(masked, 0.0, s)
    m = np.where(masked, -np.inf, s.data).max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    e = ops.exp(s - const(m))
    if masked.any():
        e = ops.where(masked, 0.0, e)
    z = ops.sum(e, axis=-1, keepdims=True)
    return e / ops.where(z.data == 0, 1.0, z)


def _composite_vjp(g: Tensor, y: Tensor, q: Tensor, k: Tensor, v: Tensor,
                   bias: Tensor | None, scale: float, drop: np.ndarray | None) -> tuple:
    p = attention_probs(q, k, bias, scale)
    pd = p if drop is None else p * const(drop)
    out = ops.matmul(pd, v)
    dv = ops.matmul(ops.swapaxes(pd, -1, -2), g)
    dp = ops.matmul(g, ops.swapaxes(v, -1, -2))
    if drop is not None:
        dp = dp * const(drop)
    ds = p * (dp - ops.sum(g * out, axis=-1, keepdims=True))
    dq = ops.matmul(ds, k) * scale
    dk = ops.matmul(ops.swapaxes(ds, -1, -2), q) * scale
    return (dq, dk, dv) if bias is None else (dq, dk, dv, ds)


def _sdpa_vjp(g: Tensor, y: Tensor, q: Tensor, k: Tensor, v: Tensor,
              bias: Tensor | None = None, *, scale: float,
              drop: np.ndarray | None = None) -> tuple:
    if not unrecorded(g, q, k, v, *([] if bias is None else [bias])):
        return _composite_vjp(g, y, q, k, v, bias, scale, drop)
    pt = _saved_t(y, q, k, v, bias)  # everything below in the transposed layout (..., S, L)
    gd, vd = g.data, v.data
    dt = None if drop is None else drop.swapaxes(-1, -2)
    dv = _empty_heads_last(pt.shape[:-2] + v.shape[-2:], pt.dtype)
    np.matmul(pt if dt is None else pt * dt, gd, out=dv)
    dst = np.matmul(vd, gd.swapaxes(-1, -2))  # dP^T, then dS^T in place
    if dt is not None:
        dst *= dt
    dst -= np.einsum("...i,...i->...", gd, y.data)[..., None, :]
    dst *= pt
    sc = np.asarray(scale, dst.dtype)
    batch = pt.shape[:-2]
    dq = _empty_heads_last(batch + q.shape[-2:], dst.dtype)
    np.matmul(dst.swapaxes(-1, -2), k.data * sc, out=dq)
    dk = _empty_heads_last(batch + k.shape[-2:], dst.dtype)
    np.matmul(dst, q.data * sc, out=dk)
    grads = (const(dq), const(dk), const(dv))
    return grads if bias is None else grads + (const(dst.swapaxes(-1, -2)),)


def _sdpa_jvp(i: int, t: Tensor, y: Tensor, q: Tensor, k: Tensor, v: Tensor,
              bias: Tensor | None = None, *, scale: float,
              drop: np.ndarray | None = None) -> Tensor:
    """Output tangent for a tangent ``t`` on argument i (0 q, 1 k, 2 v, 3 bias)."""
    if not unrecorded(t, q, k, v, *([] if bias is None else [bias])):
        p = attention_probs(q, k, bias, scale)
        if i == 2:
            return ops.matmul(p if drop is None else p * const(drop), t)
        ds = (ops.matmul(t * scale, ops.swapaxes(k, -1, -2)) if i == 0 else
              ops.matmul(q * scale, ops.swapaxes(t, -1, -2)) if i == 1 else t)
        dp = p * (ds - ops.sum(p * ds, axis=-1, keepdims=True))
        return ops.matmul(dp if drop is None else dp * const(drop), v)
    p = _saved(y, q, k, v, bias)
    td = t.data
    if i == 2:
        return const(np.matmul(p if drop is None else p * drop, td))
    sc = np.asarray(scale, p.dtype)
    if i == 0:
        ds = np.matmul(td * sc, k.data.swapaxes(-1, -2))
    elif i == 1:
        ds = np.matmul(q.data * sc, td.swapaxes(-1, -2))
    else:
        ds = np.broadcast_to(td, p.shape).copy()
    ds[p == 0] = 0.0  # masked entries (a -inf bias has no finite tangent there)
    ds -= np.einsum("...i,...i->...", p, ds)[..., None]
    ds *= p
    if drop is not None:
        ds *= drop
    return const(np.matmul(ds, v.data))


sdpa = prim(_NAME, _sdpa_np, vjp=Joint(_sdpa_vjp), jvp=Each(_sdpa_jvp))


# --------------------------------------------------------------------------- the function


def _check_mask(mask: Any, shape: tuple[int, ...], where: str) -> Tensor:
    """A mask as a Tensor, with a clear error for a wrong dtype or shape."""
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    kind = m.data.dtype.kind
    if kind not in "bf":
        raise TypeError(f"{where}: attn_mask must be boolean (True = take part) or a float "
                        f"additive mask, got dtype {m.data.dtype}")
    try:
        np.broadcast_shapes(m.shape, shape)
        if m.ndim < 2 and m.ndim != 0 and m.shape[-1] not in (1, shape[-1]):
            raise ValueError
    except ValueError:
        raise ShapeError(f"{where}: attn_mask of shape {m.shape} does not broadcast to the "
                         f"attention weights' shape {shape} (..., L, S)") from None
    return m


def _bias_from(mask: Tensor, dtype: np.dtype) -> Tensor:
    if mask.data.dtype == bool:
        return const(np.where(mask.data, 0.0, -np.inf).astype(dtype))
    if mask.data.dtype != dtype:
        return ops.cast(mask, dtype)
    return mask


def causal_bias(L: int, S: int, dtype: Any = np.float64) -> np.ndarray:  # noqa: N803
    """The additive causal mask (L, S): 0 where key j <= query i, -inf above (top-left
    aligned, as PyTorch's ``is_causal``)."""
    return np.where(np.tri(L, S, dtype=bool), 0.0, -np.inf).astype(dtype)


def scaled_dot_product_attention(q: Any, k: Any, v: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(Q K^T * scale + mask) V, PyTorch's ``F.scaled_dot_product_attention``.

    q: (..., L, E), k: (..., S, E), v: (..., S, Ev) -> (..., L, Ev); the leading (batch,
    heads) dimensions broadcast. ``attn_mask``: boolean (True = the query may attend to
    the key) or a float mask added to the scores, broadcastable to (..., L, S).
    ``is_causal``: query i sees keys 0..i (a top-left aligned lower triangle).
    ``scale`` defaults to 1/sqrt(E). ``dropout_p``: dropout on the attention weights,
    drawn from ``chainrule.random`` (pass 0 in evaluation, as in PyTorch). A query whose
    keys are all masked gets a zero output and a zero (finite) gradient.
    """
    q, k, v = ops.lift(q), ops.lift(k), ops.lift(v)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError(f"{_NAME}: q, k, v need at least 2 dimensions (..., L, E), got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{_NAME}: q {q.shape} and k {k.shape} need the same embedding "
                         f"size, k and v {v.shape} the same number of keys")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ShapeError(f"{_NAME}: the batch dimensions of q {q.shape}, k {k.shape} and v "
                         f"{v.shape} do not broadcast") from None
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{_NAME}: dropout_p must be in [0, 1), got {dropout_p}")
    dtype = np.result_type(q.data, k.data, v.data)
    L, S = q.shape[-2], k.shape[-2]  # noqa: N806
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    bias = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{_NAME}: give attn_mask or is_causal=True, not both")
        bias = _bias_from(_check_mask(attn_mask, batch + (L, S), _NAME), dtype)
    elif is_causal:
        bias = const(causal_bias(L, S, dtype))
    return attend(q, k, v, bias, scale, dropout_p)[0]


def attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float,
           dropout_p: float = 0.0, need_weights: bool = False) -> tuple[Tensor, Any]:
    """The fused primitive on checked arguments: (output, weights or None).

    ``bias``: the additive mask (-inf = masked), broadcastable to (..., L, S). The weights
    are the attention probabilities after dropout, (..., L, S), as PyTorch's
    MultiheadAttention returns them: a constant copy of the kernel's own when no graph is
    recorded, else recomputed in differentiable ops (with the same dropout mask).
    """
    drop = None
    if dropout_p > 0.0:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                    () if bias is None else bias.shape[:-2])
        keep = get_rng().random(batch + (q.shape[-2], k.shape[-2])) >= dropout_p
        drop = (keep / (1.0 - dropout_p)).astype(np.result_type(q.data, k.data, v.data))
    args = (q, k, v) if bias is None else (q, k, v, bias)
    out = sdpa(*args, scale=scale, drop=drop)
    if not need_weights:
        return out, None
    if unrecorded(*args):
        p = _saved(out, q, k, v, bias)
        return out, const(p.copy() if drop is None else p * drop)
    p = attention_probs(q, k, bias, scale)
    return out, (p if drop is None else p * const(drop))
