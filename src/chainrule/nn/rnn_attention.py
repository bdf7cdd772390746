"""Attention for RNN encoder–decoders: Bahdanau (additive) and Luong (multiplicative).

Both score a query (a decoder state) against every key (an encoder output), turn the
scores into weights with a softmax over the keys, and return the weighted sum of the
values (the context) with the weights::

    Luong "dot"      score(q, k) = q · k
    Luong "general"  score(q, k) = q · (W k)               W: (query_size, key_size)
    Bahdanau         score(q, k) = v · tanh(W_q q + W_k k)  v: (units,)

Shapes: ``query`` (batch, query_size) for one decoder step or (batch, T_q, query_size) for
all steps at once (teacher forcing); ``keys`` (batch, T_k, key_size); ``values`` (batch,
T_k, value_size), the keys when omitted (as in Keras's attention layers). ``mask``
(batch, T_k) booleans, True for real keys (padded encoder steps False): masked keys get
weight 0, and a query with no key at all gets weights 0 and a context 0 (finite gradients,
never NaN). Returns ``(context, weights)`` with context (batch, [T_q,] value_size) and
weights (batch, [T_q,] T_k).

Everything is built from differentiable tensor ops, so derivatives of any order work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from ..random import get_rng
from .module import Module, Parameter

__all__ = ["BahdanauAttention", "LuongAttention", "masked_softmax"]

_NEG = -1e30  # stands for -inf in masked scores (exp underflows to exactly 0)


def masked_softmax(scores: Any, mask: Any = None, axis: int = -1) -> Tensor:
    """Softmax over ``axis`` where only the entries with ``mask`` True take part.

    ``mask`` broadcasts against ``scores``; masked entries get 0, and a row with every
    entry masked gets all zeros (not NaN), with a finite gradient.
    """
    scores = ops.lift(scores)
    if mask is None:
        return ops.softmax(scores, axis=axis)
    keep = np.broadcast_to(np.asarray(mask.data if isinstance(mask, Tensor) else mask,
                                      dtype=bool), scores.shape)
    w = ops.softmax(ops.where(keep, scores, _NEG), axis=axis)
    return w if keep.all() else w * Tensor(keep.astype(scores.dtype))


def _uniform(shape: tuple[int, ...], fan_in: int) -> Parameter:
    bound = 1.0 / math.sqrt(fan_in)  # PyTorch's Linear default range
    return Parameter(get_rng().uniform(-bound, bound, shape).astype(get_default_dtype()))


def _positive(layer: str, **sizes: Any) -> None:
    for name, v in sizes.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {v!r}")


class _Attention(Module):
    """Shared checks and the weighting; a subclass gives ``score(q, keys)``."""

    query_size: int
    key_size: int

    def _inputs(self, query: Any, keys: Any, values: Any,
                mask: Any) -> tuple[Tensor, Tensor, Tensor, np.ndarray | None, bool]:
        q, k = ops.lift(query), ops.lift(keys)
        v = k if values is None else ops.lift(values)
        one_step = q.ndim == 2
        if q.ndim not in (2, 3) or q.shape[-1] != self.query_size:
            raise ShapeError(f"{self.label()}: query must be (batch, {self.query_size}) or "
                             f"(batch, T_q, {self.query_size}), got shape {q.shape}")
        if k.ndim != 3 or k.shape[-1] != self.key_size or k.shape[0] != q.shape[0]:
            raise ShapeError(f"{self.label()}: keys must be (batch={q.shape[0]}, T_k, "
                             f"{self.key_size}), got shape {k.shape}")
        if v.ndim != 3 or v.shape[:2] != k.shape[:2]:
            raise ShapeError(f"{self.label()}: values must be (batch, T_k, features) with "
                             f"the keys' (batch, T_k) = {k.shape[:2]}, got shape {v.shape}")
        m = None
        if mask is not None:
            m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if m.shape != k.shape[:2] or m.dtype != bool:
                raise ShapeError(f"{self.label()}: mask must be booleans of shape (batch, "
                                 f"T_k) = {k.shape[:2]}, got {m.dtype} of shape {m.shape}")
        return (ops.reshape(q, (q.shape[0], 1, q.shape[1])) if one_step else q), k, v, m, \
            one_step

    def forward(self, query: Any, keys: Any, values: Any = None,
                mask: Any = None) -> tuple[Tensor, Tensor]:
        """``(context, weights)``; see the module docstring for the shapes."""
        q, k, v, m, one_step = self._inputs(query, keys, values, mask)
        scores = self.score(q, k)                               # (B, T_q, T_k)
        w = masked_softmax(scores, None if m is None else m[:, None, :])
        context = ops.matmul(w, v)                              # (B, T_q, V)
        if one_step:
            return context[:, 0], w[:, 0]
        return context, w


class LuongAttention(_Attention):
    """Multiplicative attention (Luong et al. 2015): ``score="dot"`` (q · k, sizes equal)
    or ``"general"`` (q · W k, the default). ``scale=True`` divides the scores by
    sqrt(key_size), as in scaled dot-product attention."""

    def __init__(self, query_size: int, key_size: int | None = None, score: str = "general",
                 scale: bool = False) -> None:
        super().__init__()
        key_size = query_size if key_size is None else key_size
        _positive("LuongAttention", query_size=query_size, key_size=key_size)
        if score not in ("dot", "general"):
            raise ValueError(f"LuongAttention: score must be 'dot' or 'general', got {score!r}")
        if score == "dot" and key_size != query_size:
            raise ValueError(f"LuongAttention: score='dot' needs query_size == key_size, got "
                             f"{query_size} and {key_size} (use score='general')")
        self.query_size, self.key_size, self.score_kind = int(query_size), int(key_size), score
        self.scale = scale
        self.weight = _uniform((query_size, key_size), key_size) if score == "general" else None

    def score(self, q: Tensor, k: Tensor) -> Tensor:
        if self.weight is not None:
            k = ops.linear(k, self.weight)                      # W k: (B, T_k, query_size)
        s = ops.matmul(q, ops.swapaxes(k, -1, -2))
        return s * (1.0 / math.sqrt(self.key_size)) if self.scale else s

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, score={self.score_kind!r}"


class BahdanauAttention(_Attention):
    """Additive attention (Bahdanau et al. 2014): score = v · tanh(W_q q + W_k k + b)."""

    def __init__(self, query_size: int, key_size: int | None = None,
                 units: int | None = None) -> None:
        super().__init__()
        key_size = query_size if key_size is None else key_size
        units = query_size if units is None else units
        _positive("BahdanauAttention", query_size=query_size, key_size=key_size, units=units)
        self.query_size, self.key_size, self.units = int(query_size), int(key_size), int(units)
        self.query_weight = _uniform((units, query_size), query_size)
        self.key_weight = _uniform((units, key_size), key_size)
        self.bias = _uniform((units,), key_size)
        self.v = _uniform((units,), units)

    def project_keys(self, keys: Any) -> Tensor:
        """W_k k + b for all keys: computed once per source sentence by a decoder."""
        return ops.linear(ops.lift(keys), self.key_weight, self.bias)

    def score(self, q: Tensor, k: Tensor) -> Tensor:
        qw = ops.linear(q, self.query_weight)                   # (B, T_q, U)
        kw = self.project_keys(k)                               # (B, T_k, U)
        b, tq, u = qw.shape
        hidden = ops.tanh(ops.reshape(qw, (b, tq, 1, u)) + ops.reshape(kw, (b, 1, -1, u)))
        return ops.matmul(hidden, self.v)                       # (B, T_q, T_k)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, units={self.units}"
