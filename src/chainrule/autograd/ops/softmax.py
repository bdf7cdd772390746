"""The softmax family: softmax, log-softmax and the fused softmax cross-entropy.

softmax's Jacobian diag(y) - y yᵀ is symmetric, so one rule serves as vjp and jvp.
``softmax_cross_entropy`` exists for speed and stability; it is gradchecked against
``-sum(target * log_softmax(logits))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ShapeError
from ..primitive import const, lift, prim
from ..tensor import Tensor
from .elementwise import exp
from .reductions import _sum, logsumexp_np
from .shape import normalize_axis, reshape, unsqueeze

__all__ = ["log_softmax", "softmax", "softmax_cross_entropy"]


def _softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    return x - logsumexp_np(x, axis, True)


def _softmax_rule(v: Tensor, y: Tensor, x: Tensor, axis: int) -> Tensor:
    return y * (v - _sum(v * y, axis=(axis,), keepdims=True))


_softmax = prim("softmax", _softmax_np, vjp=_softmax_rule, jvp=_softmax_rule)
_log_softmax = prim("log_softmax", _log_softmax_np,
                    vjp=lambda g, y, x, axis: g - exp(y) * _sum(g, axis=(axis,), keepdims=True),
                    jvp=lambda t, y, x, axis: t - _sum(exp(y) * t, axis=(axis,), keepdims=True))


def _of_0d(p: Any, x: Tensor, axis: Any) -> Tensor:
    """As PyTorch: a 0-d tensor is normalised over axis 0 or -1 (as a 1-element vector)."""
    if int(axis) not in (0, -1):
        raise ShapeError(f"{p.name}: axis {int(axis)} is out of range for a 0-d tensor "
                         f"(0 or -1)")
    return reshape(p(reshape(x, (1,)), axis=0), ())


def softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    if x.ndim:
        return _softmax(x, axis=normalize_axis(axis, x.ndim)[0])
    return _of_0d(_softmax, x, axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    if x.ndim:
        return _log_softmax(x, axis=normalize_axis(axis, x.ndim)[0])
    return _of_0d(_log_softmax, x, axis)


# --------------------------------------------------------------------------- cross-entropy


def _target_probs(target: np.ndarray, logits_shape: tuple, dtype: Any) -> np.ndarray:
    if target.dtype.kind in "iu":
        probs = np.zeros(logits_shape, dtype=dtype)
        probs.reshape(-1, logits_shape[-1])[np.arange(target.size), target.reshape(-1)] = 1
        return probs
    return target


def _sce_np(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    logp = _log_softmax_np(z, -1)
    if target.dtype.kind in "iu":
        flat = logp.reshape(-1, logp.shape[-1])
        return -flat[np.arange(target.size), target.reshape(-1)].reshape(target.shape)
    return -np.sum(target * logp, axis=-1)


def _probs(target: Tensor, z: Tensor) -> Tensor:
    """The target as a probability tensor (one-hot constants for class indices)."""
    if target.data.dtype.kind in "iu":
        return const(_target_probs(target.data, z.data.shape, z.data.dtype))
    return target


def _sce_vjp(g: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    if target.data.dtype.kind in "iu":
        return unsqueeze(g, -1) * (softmax(z, -1) - _probs(target, z))
    # d/dz of -sum(t * log_softmax(z)) = softmax(z) * sum(t) - t (sum(t) = 1 for a distribution)
    mass = _sum(target, axis=(z.ndim - 1,), keepdims=True)
    return unsqueeze(g, -1) * (softmax(z, -1) * mass - target)


def _sce_vjp_target(g: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    return -unsqueeze(g, -1) * log_softmax(z, -1)


def _sce_jvp(t: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    last = (z.ndim - 1,)
    return -_sum(_probs(target, z) * (t - _sum(softmax(z, -1) * t, axis=last, keepdims=True)),
                 axis=last, keepdims=False)


_softmax_ce = prim("softmax_cross_entropy", _sce_np,
                   vjp=(_sce_vjp, _sce_vjp_target),
                   jvp=(_sce_jvp, lambda t, y, z, target: -_sum(
                       t * log_softmax(z, -1), axis=(z.ndim - 1,), keepdims=False)))


def softmax_cross_entropy(logits: Any, target: Any) -> Tensor:
    """Per-example cross-entropy of softmax(logits) against ``target``, fused and stable.

    logits: (..., C). target: integer class indices (...) or probabilities (..., C).
    Returns shape (...). The gradient w.r.t. logits is softmax(logits) - target.
    """
    z = lift(logits)
    t = target if isinstance(target, Tensor) else Tensor(target)
    if t.data.dtype.kind in "iu":
        if t.shape != z.shape[:-1]:
            raise ShapeError(f"softmax_cross_entropy: class-index target of shape {t.shape} "
                             f"does not match logits of shape {z.shape} (expected "
                             f"{z.shape[:-1]})")
        if t.data.size and (t.data.min() < 0 or t.data.max() >= z.shape[-1]):
            raise ValueError(f"softmax_cross_entropy: class indices must lie in "
                             f"[0, {z.shape[-1]}), got range [{t.data.min()}, {t.data.max()}]")
    elif t.shape != z.shape:
        raise ShapeError(f"softmax_cross_entropy: probability target of shape {t.shape} "
                         f"does not match logits of shape {z.shape}")
    return _softmax_ce(z, t)
