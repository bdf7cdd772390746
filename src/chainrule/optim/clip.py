"""Gradient clipping, in place on ``param.grad`` (PyTorch's ``torch.nn.utils`` semantics).

* :func:`clip_grad_value_` — every element into ``[-clip_value, clip_value]``.
* :func:`clip_grad_norm_` — rescale all gradients together so that their global norm
  ``||(||g_1||_p, ..., ||g_n||_p)||_p`` is at most ``max_norm``; returns that norm
  (before clipping).

Parameters whose ``.grad`` is None are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..autograd.tensor import Tensor, _make
from ..nn.sparse_grad import SparseGrad

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(params: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    """The writable gradient arrays of ``params`` (a read-only one is copied first)."""
    if isinstance(params, Tensor):
        params = [params]
    out = []
    for p in params:
        if p.grad is None:
            continue
        if isinstance(p.grad, SparseGrad):  # coalesced: its rows are the nonzero part
            out.append(p.grad.values)
            continue
        if not p.grad.data.flags.writeable:
            p.grad = _make(p.grad.data.copy())
        out.append(p.grad.data)
    return out


def clip_grad_value_(params: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    c = float(clip_value)
    for g in _grads(params):
        np.clip(g, -c, c, out=g)


def _norm(g: np.ndarray, norm_type: float) -> float:
    if norm_type == math.inf:
        return float(np.max(np.abs(g))) if g.size else 0.0
    if norm_type == 2:
        flat = g.reshape(-1)
        return math.sqrt(float(np.dot(flat, flat)))
    return float(np.sum(np.abs(g) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(params: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Rescale gradients in place so their global ``norm_type``-norm is at most ``max_norm``.

    ``total = ||(||g_1||, ..., ||g_n||)||`` (the norm of all gradients concatenated);
    if ``total > max_norm`` every gradient is multiplied by ``max_norm / (total + 1e-6)``,
    exactly as ``torch.nn.utils.clip_grad_norm_``. ``norm_type`` may be ``math.inf``
    (largest absolute element). Returns ``total`` (before clipping) as a float. A NaN or
    infinite total raises RuntimeError when ``error_if_nonfinite``; otherwise the gradients
    are scaled anyway (and become NaN), as in PyTorch.
    """
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 (or math.inf), got {norm_type}")
    grads = _grads(params)
    if not grads:
        return 0.0
    norms = [_norm(g, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    else:
        total = math.fsum(n ** norm_type for n in norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm is {total}; set "
                           "error_if_nonfinite=False to clip anyway")
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # NaN total: scale anyway (PyTorch does)
        for g in grads:
            g *= coef
    return total


def _clip_each_norm(params: Iterable[Tensor], max_norm: float) -> None:
    """Keras ``clipnorm``: clip each gradient to L2 norm ``max_norm`` on its own.

    ``g <- g * max_norm / max(||g||, max_norm)``.
    """
    for g in _grads(params):
        n = _norm(g, 2)
        if n > max_norm:
            g *= float(max_norm) / n
