"""Multi-head attention and positional encodings (issue 15).

``MultiheadAttention`` has PyTorch's constructor, parameter names and forward, so a
PyTorch module's ``state_dict`` (as arrays) loads into it; its attention is the fused
``scaled_dot_product_attention`` primitive (nn/kernels/attention.py). The positional
encodings add a (max_len, d_model) table to the embeddings: the sinusoidal one of
"Attention Is All You Need" and Hands-On ML (chapter 16), or a learned one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor, get_default_dtype
from ..errors import ShapeError
from ..random import get_rng
from . import functional as F
from . import init as initializers
from .kernels.attention import attend, causal_bias
from .layers import Linear
from .module import Module, Parameter


def _float_mask(mask: Any, dtype: np.dtype, what: str, layer: str) -> Tensor:
    """A PyTorch-style MultiheadAttention mask (boolean: True = NOT allowed; float: added)
    as an additive float tensor (-inf where masked)."""
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    kind = m.data.dtype.kind
    if kind == "b":
        return Tensor(np.where(m.data, -np.inf, 0.0).astype(dtype))
    if kind != "f":
        raise TypeError(f"{layer}: {what} must be boolean (True = masked) or float (added to "
                        f"the scores), got dtype {m.data.dtype}")
    return m if m.data.dtype == dtype else ops.cast(m, dtype)


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: project, split into heads, attend, concatenate,
    project. query (L, N, E) or (N, L, E) with ``batch_first`` (or unbatched (L, E)),
    key (S, N, kdim), value (S, N, vdim) -> (output (L, N, E), weights (N, L, S)).

    Parameters, by PyTorch's names: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E),
    or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when kdim or vdim differ
    from E; ``out_proj.weight`` and ``out_proj.bias``. Masks as in PyTorch: boolean masks
    are True where attention is NOT allowed, float masks are added to the scores;
    ``attn_mask`` (L, S) or (N * num_heads, L, S), ``key_padding_mask`` (N, S). A query
    that may attend to no key gets zeros. ``is_causal=True`` without a mask applies the
    causal mask (PyTorch requires the mask too; given one, it is used as is).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, kdim: int | None = None, vdim: int | None = None,
                 batch_first: bool = False, dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(n, (int, np.integer)) or n <= 0:
                raise ValueError(f"MultiheadAttention: {name} must be a positive integer, "
                                 f"got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        F._check_p(dropout, "MultiheadAttention")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        dt = dtype or get_default_dtype()
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=dt))
            initializers.get("glorot_uniform")(self.in_proj_weight)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            for name, d in (("q", e), ("k", self.kdim), ("v", self.vdim)):
                w = Parameter(np.empty((e, d), dtype=dt))
                initializers.get("glorot_uniform")(w)
                setattr(self, f"{name}_proj_weight", w)
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype=dt)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)

    def extra_repr(self) -> str:
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"{self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
                f"{extra}, batch_first={self.batch_first}")

    # ---------------------------------------------------------------- pieces
    def _projections(self, query: Tensor, key: Tensor, value: Tensor) -> list[Tensor]:
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one matrix multiply
                qkv = ops.linear(query, w, b)
                return [qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]]
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return [ops.linear(query, wq, bq), ops.linear(key, wk, bk), ops.linear(value, wv, bv)]

    def _heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, H, T, E / H)."""
        n, t, _ = x.shape
        return ops.transpose(ops.reshape(x, (n, t, self.num_heads, self.head_dim)),
                             (0, 2, 1, 3))

    def _check(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        name = f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"{name}: query, key and value must all be 3-D (batched) or all "
                             f"2-D (unbatched), got {query.shape}, {key.shape}, {value.shape}")
        for what, t, d in (("query", query, self.embed_dim), ("key", key, self.kdim),
                           ("value", value, self.vdim)):
            if t.shape[-1] != d:
                raise ShapeError(f"{name}: {what} of shape {t.shape} should end with its "
                                 f"embedding size {d}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ShapeError(f"{name}: key {key.shape} and value {value.shape} need the same "
                             "sequence length and batch size")
        batch_axis = 0 if self.batch_first else 1
        if query.ndim == 3 and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ShapeError(f"{name}: query {query.shape} and key {key.shape} have different "
                             f"batch sizes (batch_first={self.batch_first})")

    def _bias(self, attn_mask: Any, key_padding_mask: Any, n: int, L: int, S: int,  # noqa: N803
              dtype: np.dtype, is_causal: bool) -> Tensor | None:
        """One additive mask broadcastable to (N, H, L, S), or None."""
        name = f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"
        bias = None
        if attn_mask is None and is_causal:
            bias = Tensor(causal_bias(L, S, dtype))
        elif attn_mask is not None:
            m = _float_mask(attn_mask, dtype, "attn_mask", name)
            if m.shape == (L, S):
                bias = m
            elif m.shape == (n * self.num_heads, L, S):
                bias = ops.reshape(m, (n, self.num_heads, L, S))
            else:
                raise ShapeError(f"{name}: attn_mask of shape {m.shape} should be (L, S) = "
                                 f"{(L, S)} or (N * num_heads, L, S) = "
                                 f"{(n * self.num_heads, L, S)}")
        if key_padding_mask is not None:
            m = _float_mask(key_padding_mask, dtype, "key_padding_mask", name)
            if m.shape != (n, S):
                raise ShapeError(f"{name}: key_padding_mask of shape {m.shape} should be "
                                 f"(N, S) = {(n, S)}")
            m = ops.reshape(m, (n, 1, 1, S))
            bias = m if bias is None else bias + m
        return bias

    def summary_kept_elements(self, args: tuple, out: Any) -> int:
        """Elements per example kept for backward (for ``Module.summary``): the q, k, v
        projections, the heads x queries x keys attention weights, and the attention
        output before and after merging the heads (out_proj's output is its own row)."""
        query, key = args[0], args[1]
        seq = 0 if query.ndim == 3 and not self.batch_first else -2
        L, S = query.shape[seq], key.shape[seq]  # noqa: N806
        e = self.embed_dim
        return L * e + 2 * S * e + self.num_heads * L * S + 2 * L * e

    # ---------------------------------------------------------------- forward
    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        query, key, value = ops.lift(query), ops.lift(key), ops.lift(value)
        self._check(query, key, value)
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (ops.reshape(t, (1, *t.shape)) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "data",
                                                      key_padding_mask))[None]
        elif not self.batch_first:  # (T, N, E) -> (N, T, E); self-attention stays shared
            same_kv = key is value
            same_qk = query is key
            query = ops.swapaxes(query, 0, 1)
            key = query if same_qk else ops.swapaxes(key, 0, 1)
            value = key if same_kv else ops.swapaxes(value, 0, 1)
        n, L, S = query.shape[0], query.shape[1], key.shape[1]  # noqa: N806
        q, k, v = (self._heads(t) for t in self._projections(query, key, value))
        bias = self._bias(attn_mask, key_padding_mask, n, L, S, q.data.dtype, is_causal)
        p = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, bias, 1.0 / math.sqrt(self.head_dim), p, need_weights)
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (n, L, self.embed_dim))
        out = self.out_proj(out)
        if unbatched:
            out = ops.reshape(out, out.shape[1:])
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = ops.mean(weights, axis=1)
            if unbatched:
                weights = ops.reshape(weights, weights.shape[1:])
        return out, weights


# ----------------------------------------------------------------------------- positions


def sinusoidal_table(max_len: int, d_model: int, dtype: Any = np.float64) -> np.ndarray:
    """(max_len, d_model): PE[p, i] = sin(p / 10000^(i/d)) for even i and
    cos(p / 10000^((i-1)/d)) for odd i (Vaswani et al. 2017, Hands-On ML chapter 16).
    An odd d_model keeps the first d_model columns of the table for d_model + 1."""
    d = d_model + d_model % 2
    p = np.arange(max_len, dtype=np.float64)[:, None]
    even = np.arange(0, d, 2, dtype=np.float64)[None, :]
    angle = p / 10000.0 ** (even / d)
    table = np.empty((max_len, d))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle)
    return table[:, :d_model].astype(dtype)


class _PositionalEncoding(Module):
    """Adds rows ``start .. start + T`` of a (max_len, d_model) table to x: (N, T, d), or
    (T, N, d) with ``batch_first=False``; then dropout."""

    def __init__(self, max_len: int, d_model: int, dropout: float, batch_first: bool) -> None:
        super().__init__()
        for name, n in (("max_len", max_len), ("d_model", d_model)):
            if not isinstance(n, (int, np.integer)) or n <= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, "
                                 f"got {n!r}")
        F._check_p(dropout, type(self).__name__)
        self.max_len, self.d_model = int(max_len), int(d_model)
        self.p, self.batch_first = float(dropout), bool(batch_first)

    def _rows(self, start: int, length: int) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}, dropout={self.p}"

    def forward(self, x: Any, start: int = 0) -> Tensor:
        x = ops.lift(x)
        if x.ndim < 2 or x.shape[-1] != self.d_model:
            raise ShapeError(f"{self.label()}: expected input (..., T, {self.d_model}), got "
                             f"{x.shape}")
        t_axis = -2 if self.batch_first or x.ndim == 2 else 0
        length = x.shape[t_axis]
        if start < 0 or start + length > self.max_len:
            raise ShapeError(f"{self.label()}: positions {start}..{start + length - 1} (a "
                             f"sequence of length {length}) do not fit the table of max_len "
                             f"{self.max_len}; build it with max_len >= {start + length}")
        rows = self._rows(start, length)
        if t_axis == 0:
            rows = ops.reshape(rows, (length,) + (1,) * (x.ndim - 2) + (self.d_model,))
        return F.dropout(x + rows, self.p, self.training)


class SinusoidalPositionalEncoding(_PositionalEncoding):
    """The fixed sinusoidal table of the Transformer paper and the book (see
    ``sinusoidal_table``) added to the input: x + PE[start:start + T]. Not trainable
    (a buffer, saved in ``state_dict``)."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0,
                 batch_first: bool = True) -> None:
        super().__init__(max_len, d_model, dropout, batch_first)
        self.register_buffer("pe", sinusoidal_table(self.max_len, self.d_model,
                                                    get_default_dtype()))

    def _rows(self, start: int, length: int) -> Tensor:
        return Tensor(self.pe[start:start + length])


class LearnedPositionalEncoding(_PositionalEncoding):
    """A trainable (max_len, d_model) table (``weight``, initialised N(0, 0.02²) as
    GPT-2's) added to the input: x + weight[start:start + T]."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0,
                 batch_first: bool = True) -> None:
        super().__init__(max_len, d_model, dropout, batch_first)
        table = get_rng().normal(0.0, 0.02, size=(self.max_len, self.d_model))
        self.weight = Parameter(table.astype(get_default_dtype()))

    def _rows(self, start: int, length: int) -> Tensor:
        return self.weight[start:start + length]
