"""Sampled softmax cross-entropy (Hands-On ML chapter 16, exercise 7; Jean et al. 2015).

With a large output vocabulary, the full softmax costs one logit per class. Sampled softmax
scores the target class and ``num_sampled`` classes drawn from a proposal distribution
``q`` (shared by the batch, with replacement) and estimates the partition sum by
importance sampling:

    Z ≈ exp(s_y) + Σ_{j in S, j != y} exp(s_j) / (m q_j)

loss = log Ẑ - s_y. The estimate of Z is unbiased, so the loss approaches the full softmax
cross-entropy as ``num_sampled`` grows (its expectation is a little lower, by Jensen's
inequality, and the gap shrinks like 1/m). TensorFlow's ``sampled_softmax_loss`` also
subtracts log(m q_y) from the target's logit; that changes the loss by a term that does not
depend on the parameters, so the gradients agree, but here the value stays comparable with
``cross_entropy``. Use it for training only; evaluate with the full softmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor
from ..random import get_rng

__all__ = ["sampled_softmax_cross_entropy"]


def _proposal(sampler: str, num_classes: int) -> np.ndarray:
    if sampler == "uniform":
        return np.full(num_classes, 1.0 / num_classes)
    if sampler == "log_uniform":  # Zipf's law over class ids (frequent words first)
        c = np.arange(num_classes, dtype=np.float64)
        q = np.log((c + 2) / (c + 1)) / np.log(num_classes + 1)
        return q / q.sum()
    raise ValueError(f"sampled_softmax_cross_entropy: sampler must be 'uniform' or "
                     f"'log_uniform', got {sampler!r}")


def sampled_softmax_cross_entropy(input: Any, weight: Any, bias: Any, target: Any,
                                  num_sampled: int, sampler: str = "log_uniform",
                                  remove_accidental_hits: bool = True,
                                  reduction: str = "mean",
                                  generator: np.random.Generator | None = None) -> Tensor:
    """Cross-entropy of the output layer ``input @ weight.T + bias`` estimated from
    ``num_sampled`` sampled classes.

    ``input`` (N, D) hidden states, ``weight`` (C, D) and ``bias`` (C,) or None the output
    layer, ``target`` (N,) class ids. ``sampler``: ``"log_uniform"`` (Zipfian, for
    vocabularies sorted by frequency) or ``"uniform"``. ``remove_accidental_hits`` drops
    sampled copies of an example's own target. ``generator``: the random generator
    (default: the library's, see ``chainrule.manual_seed``). ``reduction``: "mean", "sum"
    or "none".
    """
    x, w = ops.lift(input), ops.lift(weight)
    b = None if bias is None else ops.lift(bias)
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    name = "sampled_softmax_cross_entropy"
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ShapeError(f"{name}: input (N, D) and weight (C, D) must share D, got "
                         f"{x.shape} and {w.shape}")
    n, c = x.shape[0], w.shape[0]
    if b is not None and b.shape != (c,):
        raise ShapeError(f"{name}: bias must have shape ({c},), got {b.shape}")
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ShapeError(f"{name}: target must be {n} integer class ids, got {y.dtype} of "
                         f"shape {y.shape}")
    if n and (y.min() < 0 or y.max() >= c):
        raise IndexError(f"{name}: target ids must lie in [0, {c}), got range "
                         f"[{y.min()}, {y.max()}]")
    if not isinstance(num_sampled, (int, np.integer)) or num_sampled < 1:
        raise ValueError(f"{name}: num_sampled must be a positive integer, got {num_sampled!r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    q = _proposal(sampler, c)
    rng = get_rng() if generator is None else generator
    sampled = rng.choice(c, size=int(num_sampled), p=q)
    true_logit = ops.sum(x * w[y], axis=-1)                       # (N,)
    logits = ops.matmul(x, ops.swapaxes(w[sampled], 0, 1))        # (N, m)
    if b is not None:
        true_logit = true_logit + b[y]
        logits = logits + b[sampled]
    logits = logits - Tensor(np.log(num_sampled * q[sampled]).astype(x.dtype))
    if remove_accidental_hits:
        logits = ops.where(sampled[None, :] != y[:, None], logits, -1e30)
    both = ops.concatenate([ops.reshape(true_logit, (n, 1)), logits], axis=1)
    loss = ops.logsumexp(both, axis=1) - true_logit
    if reduction == "none":
        return loss
    return ops.sum(loss) if reduction == "sum" else ops.mean(loss)
