"""A decoder-only Transformer (GPT) for characters, with a key/value cache for generation.

    from chainrule.models import create_model
    from chainrule.models.gpt import generate

    model = create_model("gpt", vocab_size=65, context=128, layers=4, heads=4, width=128)
    logits = model(ids)                                  # ids (B, T) -> logits (B, T, V)
    out = generate(model, prompt_ids, 200, temperature=0.8, top_k=10, seed=0)

The architecture is GPT-2's (as in nanoGPT): token and learned position embeddings, then
``layers`` pre-norm blocks ``x + attn(ln1(x))``, ``x + mlp(ln2(x))`` with causal multi-head
self-attention (one fused scaled-dot-product primitive) and an MLP of width ``4 * width``
(GELU, or ReLU: ``activation``), a final LayerNorm and a linear head to the vocabulary.
Weights start as in GPT-2: every Linear and Embedding weight N(0, 0.02), the residual
projections (the attention's output and the MLP's second layer) N(0, 0.02 / sqrt(2 *
layers)), biases 0, LayerNorms 1 and 0.

Generation keeps each layer's keys and values (:class:`KVCache`), so a new character costs
one position's forward pass (attention over the cached keys), not the whole context's.
When the context is full the cache is rebuilt from the last ``context // 2`` characters
(absolute position embeddings cannot slide), so each character is predicted from between
``context // 2`` and ``context`` characters before it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import nn
from ..autograd import ops
from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ..nn import functional as F
from ..random import get_rng
from .registry import register_model

__all__ = ["GPT", "Block", "CausalSelfAttention", "KVCache", "generate"]


class KVCache:
    """Each layer's keys and values for the positions seen so far, for one batch.

    ``keys[i]``/``values[i]`` are preallocated arrays (B, H, context, D); ``length`` is the
    number of positions filled. :meth:`GPT.forward` with ``cache=`` appends to it.
    """

    def __init__(self, layers: int, batch: int, heads: int, context: int, head_dim: int,
                 dtype: Any) -> None:
        shape = (batch, heads, context, head_dim)
        self.keys = [np.zeros(shape, dtype) for _ in range(layers)]
        self.values = [np.zeros(shape, dtype) for _ in range(layers)]
        self.batch, self.context, self.length = batch, context, 0

    def reset(self) -> None:
        self.length = 0


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: one Linear to queries, keys and values, the fused
    attention, one output Linear. x: (B, T, width) -> (B, T, width)."""

    def __init__(self, width: int, heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"CausalSelfAttention: width {width} is not divisible by heads "
                             f"{heads}")
        self.width, self.heads, self.dropout = width, heads, dropout
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.drop = nn.Dropout(dropout)
        self.keep_weights, self.weights = False, None

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        b, t, _ = x.shape
        h, d = self.heads, self.width // self.heads
        qkv = ops.transpose(ops.reshape(self.qkv(x), (b, t, 3, h, d)), (2, 0, 3, 1, 4))
        q, k, v = qkv[0], qkv[1], qkv[2]                       # (B, H, T, D) each
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout
                                               if self.training else 0.0)
        else:
            start = cache.length
            keys, values = cache.keys[layer], cache.values[layer]
            keys[:, :, start:start + t] = k.data
            values[:, :, start:start + t] = v.data
            end = start + t
            mask = None
            if t > 1:  # query i (at position start + i) sees keys 0 .. start + i
                mask = np.arange(end)[None, :] <= (start + np.arange(t))[:, None]
            y = F.scaled_dot_product_attention(q, Tensor(keys[:, :, :end]),
                                               Tensor(values[:, :, :end]), attn_mask=mask)
        if self.keep_weights:  # for GPT.attention_maps (no cache there)
            scores = q.data @ k.data.swapaxes(-1, -2) / math.sqrt(d)
            scores = np.where(np.tri(t, dtype=bool), scores, -np.inf)
            e = np.exp(scores - scores.max(axis=-1, keepdims=True))
            self.weights = e / e.sum(axis=-1, keepdims=True)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (b, t, self.width))
        return self.drop(self.proj(y))


_ACTIVATIONS = {"gelu": lambda: nn.GELU(), "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
                "relu": lambda: nn.ReLU()}


class Block(nn.Module):
    """One pre-norm Transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, width: int, heads: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, dropout, bias)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width, bias=bias)
        self.act = _ACTIVATIONS[activation]()
        self.out = nn.Linear(4 * width, width, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.drop(self.out(self.act(self.fc(self.ln2(x)))))


@register_model("gpt", kind="language-model")
class GPT(nn.Module):
    """A decoder-only Transformer language model (see the module docstring).

    Args:
        vocab_size: number of tokens (characters).
        context: the longest input (the size of the position table).
        layers, heads, width: blocks, attention heads per block, embedding width
            (``width`` must be divisible by ``heads``).
        dropout: after the embeddings, on the attention and MLP outputs.
        bias: biases in the Linear layers.
        activation: of the MLP: "gelu" (exact, GPT-2's), "gelu_tanh" (its tanh
            approximation) or "relu".

    ``forward(ids (B, T), cache=None) -> logits (B, T, vocab_size)``, T <= ``context``.
    """

    def __init__(self, vocab_size: int, context: int = 128, layers: int = 4, heads: int = 4,
                 width: int = 128, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu") -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("context", context),
                            ("layers", layers), ("heads", heads), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"GPT: {name} must be a positive integer, got {value!r}")
        if width % heads:
            raise ValueError(f"GPT: width {width} is not divisible by heads {heads}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"GPT: activation must be one of {sorted(_ACTIVATIONS)}, got "
                             f"{activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"GPT: dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size, self.context, self.n_layers = int(vocab_size), int(context), int(layers)
        self.heads, self.width, self.dropout, self.bias = int(heads), int(width), dropout, bias
        self.activation = activation
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(context, width)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[Block(width, heads, dropout, bias, activation)
                                      for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        rng = get_rng()
        resid = 0.02 / math.sqrt(2 * self.n_layers)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.data[...] = 0.0
            elif ".ln" in name or name.startswith("ln_f"):
                p.data[...] = 1.0
            else:
                std = resid if name.endswith(("attn.proj.weight", "out.weight")) else 0.02
                p.data[...] = rng.normal(0.0, std, p.shape)

    def forward(self, ids: Any, cache: KVCache | None = None) -> Tensor:
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.ndim != 2:
            raise ShapeError(f"GPT: expected token ids (batch, time), got shape {ids.shape}")
        b, t = ids.shape
        start = 0 if cache is None else cache.length
        if start + t > self.context:
            raise ShapeError(f"GPT: {start + t} positions (ids {ids.shape}"
                             f"{f' after {start} cached' if start else ''}) exceed the "
                             f"model's context {self.context} (the position table)")
        if cache is not None and cache.batch != b:
            raise ShapeError(f"GPT: the cache holds batch {cache.batch}, the ids {ids.shape}")
        x = self.drop(self.tok(ids) + self.pos(np.arange(start, start + t)))
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += t
        return self.head(self.ln_f(x))

    def attention_maps(self, ids: Any) -> np.ndarray:
        """The attention weights of every layer and head for ``ids`` (B, T): an array
        (layers, B, heads, T, T), row i the weights query i puts on keys 0..i."""
        blocks = list(self.blocks)
        was_training = self.training
        self.eval()
        try:
            for block in blocks:
                block.attn.keep_weights = True
            with no_grad():
                self(ids)
            return np.stack([block.attn.weights for block in blocks])
        finally:
            for block in blocks:
                block.attn.keep_weights, block.attn.weights = False, None
            self.train(was_training)

    def arguments(self) -> dict[str, Any]:
        """The builder's arguments (what a checkpoint stores to rebuild the model)."""
        return {"vocab_size": self.vocab_size, "context": self.context,
                "layers": self.n_layers, "heads": self.heads, "width": self.width,
                "dropout": float(self.dropout), "bias": bool(self.bias),
                "activation": self.activation}

    def new_cache(self, batch: int = 1) -> KVCache:
        """An empty :class:`KVCache` for ``batch`` sequences."""
        return KVCache(self.n_layers, batch, self.heads, self.context,
                       self.width // self.heads, self.tok.weight.dtype)


def _next_token(logits: np.ndarray, temperature: float, top_k: int | None,
                rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``logits`` (B, V) from softmax(logits / temperature), restricted
    to the ``top_k`` largest if given."""
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(p.shape[-1], p=row) for row in p], dtype=np.int64)


def generate(model: GPT, prompt: Any, length: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = 0, use_cache: bool = True
             ) -> np.ndarray:
    """``length`` new token ids after ``prompt`` (ids (T,) or (B, T)); returns them with
    the same leading shape (the prompt not included).

    Each token is drawn from softmax(logits / temperature) over the ``top_k`` most likely
    tokens (all if None); ``seed`` seeds its own generator. With ``use_cache`` (default)
    keys and values are kept (:class:`KVCache`); without, the whole window of the last
    ``context`` tokens is run again for every new token (the reference, and the
    benchmark's baseline).
    """
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"generate: temperature must be a positive number, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"generate: top_k must be a positive integer or None, got {top_k!r}")
    if isinstance(length, bool) or int(length) != length or length < 0:
        raise ValueError(f"generate: length must be an integer >= 0, got {length!r}")
    ids = np.asarray(prompt, dtype=np.int64)
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ShapeError(f"generate: the prompt must be ids (T,) or (B, T) with T >= 1, got "
                         f"shape {np.shape(prompt)}")
    if ids.min() < 0 or ids.max() >= model.vocab_size:
        raise ValueError(f"generate: prompt ids must lie in [0, {model.vocab_size}), got range "
                         f"[{ids.min()}, {ids.max()}]")
    rng = np.random.default_rng(seed)
    seq = [ids[:, i] for i in range(ids.shape[1])]
    n = model.context
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            cache = model.new_cache(ids.shape[0]) if use_cache else None
            pending = ids[:, -n:]                   # tokens not yet in the cache
            for _ in range(int(length)):
                if cache is None:
                    logits = model(np.stack(seq[-n:], axis=1)).data[:, -1]
                else:
                    if cache.length + pending.shape[1] > n:   # full: rebuild from the tail
                        cache.reset()
                        pending = np.stack(seq[-(n // 2 or 1):], axis=1)
                    logits = model(pending, cache).data[:, -1]
                nxt = _next_token(logits, temperature, top_k, rng)
                seq.append(nxt)
                pending = nxt[:, None]
    finally:
        model.train(was_training)
    out = np.stack(seq[ids.shape[1]:], axis=1) if length else np.zeros((ids.shape[0], 0),
                                                                         np.int64)
    return out[0] if single else out
