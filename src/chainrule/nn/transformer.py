"""The Transformer's layers with PyTorch's names, arguments and semantics (issue 15).

``TransformerEncoderLayer``: self-attention and a feed-forward block, each with dropout,
a residual connection and layer normalisation (after the residual by default, before
the block with ``norm_first=True``, the "pre-LN" Transformer). ``TransformerDecoderLayer``
adds attention over the encoder's output (the memory). ``TransformerEncoder`` /
``TransformerDecoder`` stack copies of a layer; ``Transformer`` is the encoder-decoder of
"Attention Is All You Need". Parameter names are PyTorch's (``layers.0.self_attn.
in_proj_weight``, ``linear1.weight``, ``norm1.bias``, ...), so a PyTorch model's
``state_dict`` (as arrays) loads into the same configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor, get_default_dtype
from ..errors import ShapeError
from .attention import MultiheadAttention
from .kernels.attention import causal_bias
from .kernels.gelu import gelu
from .layers import Dropout, LayerNorm, Linear
from .module import Module

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": ops.relu, "gelu": gelu}


def _activation(activation: str | Callable[[Tensor], Tensor], layer: str) -> Any:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{layer}: activation should be 'relu', 'gelu' or a callable, got "
                         f"{activation!r}")
    return _ACTIVATIONS[activation]


def _layer_norm(d_model: int, eps: float, bias: bool) -> LayerNorm:
    norm = LayerNorm(d_model, eps=eps)
    if not bias:  # PyTorch's LayerNorm(bias=False): a scale only
        norm.bias = None
    return norm


class _Block(Module):
    """What the encoder and decoder layers share: the constructor (PyTorch's arguments),
    the feed-forward block and the checks. ``_norms``: 2 for the encoder, 3 for the
    decoder (which also attends to the memory)."""

    _norms = 2

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        # the sub-modules in PyTorch's order (so state_dict keys come in its order)
        norms = self._norms
        name = f"{type(self).__name__}(d_model={d_model}, nhead={nhead})"
        self.d_model, self.nhead = d_model, nhead
        self.batch_first, self.norm_first = bool(batch_first), bool(norm_first)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        if norms == 3:  # the decoder: attention over the memory
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                     bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", _layer_norm(d_model, layer_norm_eps, bias))
        for i in range(1, norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, name)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, batch_first={self.batch_first}"
                f", norm_first={self.norm_first}")

    def summary_kept_elements(self, args: tuple, out: Any) -> int:
        """Elements per example kept for backward beyond the sub-layers' own rows (for
        ``Module.summary``): the feed-forward activation and the residual sums."""
        x = args[0]
        t = x.shape[0 if x.ndim == 3 and not self.batch_first else -2]
        return t * (self.linear1.out_features + self._norms * self.d_model)

    def _check(self, x: Tensor, what: str) -> None:
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ShapeError(f"{type(self).__name__}(d_model={self.d_model}, nhead="
                             f"{self.nhead}): {what} of shape {x.shape} should be "
                             f"{'(N, T' if self.batch_first else '(T, N'}, {self.d_model})"
                             f" or unbatched (T, {self.d_model})")

    def _sa_block(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                             need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor, drop: Dropout) -> Tensor:
        return drop(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_Block):
    """Self-attention then feed-forward, each with a residual connection and LayerNorm.

    src: (T, N, d_model), or (N, T, d_model) with ``batch_first``. ``activation``: "relu",
    "gelu" (exact) or a callable; ``norm_first``: LayerNorm before each block (pre-LN);
    ``bias=False`` drops the biases of the linear layers and the LayerNorms. Masks as in
    ``MultiheadAttention`` (``src_mask`` (T, T), ``src_key_padding_mask`` (N, T));
    ``is_causal=True`` without ``src_mask`` applies the causal mask.
    """

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = ops.lift(src)
        self._check(x, "src")
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x, self.dropout2))


class TransformerDecoderLayer(_Block):
    """Masked self-attention, attention over the memory (the encoder's output), then
    feed-forward; each with a residual connection and LayerNorm (norm1, norm2, norm3).

    tgt: (T, N, d_model), memory: (S, N, d_model) (batch first with ``batch_first``);
    ``tgt_mask`` (T, T) / ``tgt_is_causal`` for the self-attention, ``memory_mask``
    (T, S) and the key-padding masks as in ``MultiheadAttention``.
    """

    _norms = 3

    def _mha_block(self, x: Tensor, mem: Tensor, mask: Any, padding: Any,
                   is_causal: bool) -> Tensor:
        out = self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=padding,
                                  need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(out)

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x, mem = ops.lift(tgt), ops.lift(memory)
        self._check(x, "tgt")
        self._check(mem, "memory")
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        ca = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *sa)
            x = x + self._mha_block(self.norm2(x), mem, *ca)
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._sa_block(x, *sa))
        x = self.norm2(x + self._mha_block(x, mem, *ca))
        return self.norm3(x + self._ff_block(x, self.dropout3))


class _Layers(Module):
    """Numbered sub-modules (PyTorch's ModuleList): names ``0``, ``1``, ..."""

    def __init__(self, layers: list[Module]) -> None:
        super().__init__()
        for i, m in enumerate(layers):
            setattr(self, str(i), m)

    def __iter__(self) -> Any:
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]


def _clones(layer: Module, n: int, owner: str) -> _Layers:
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{owner}: num_layers must be a positive integer, got {n!r}")
    return _Layers([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn, then the
    optional final ``norm``. (``enable_nested_tensor`` and ``mask_check`` are accepted for
    PyTorch code and ignored: padded positions are computed, not skipped.)"""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        x = ops.lift(src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, each attending to the same memory, then
    the optional final ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        x = ops.lift(tgt)
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017) with PyTorch's arguments:
    an encoder of ``num_encoder_layers`` layers and a decoder of ``num_decoder_layers``,
    each ending with a LayerNorm. src: (S, N, d_model), tgt: (T, N, d_model) (batch
    first with ``batch_first``) -> (T, N, d_model). Embeddings, positional encodings and
    the output projection are the caller's, as in PyTorch."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        common = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                      layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                      norm_first=norm_first, bias=bias)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **common), num_encoder_layers,
            _layer_norm(d_model, layer_norm_eps, bias))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **common), num_decoder_layers,
            _layer_norm(d_model, layer_norm_eps, bias))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, bool(batch_first)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i sees
        positions 0..i). ``device`` is accepted for PyTorch code and ignored."""
        return Tensor(causal_bias(sz, sz, dtype or get_default_dtype()))

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None, src_key_padding_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        src, tgt = ops.lift(src), ops.lift(tgt)
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise ShapeError(f"Transformer(d_model={self.d_model}): src {src.shape} and tgt "
                             f"{tgt.shape} have different batch sizes "
                             f"(batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"Transformer(d_model={self.d_model}): src {src.shape} and tgt "
                             f"{tgt.shape} must end with d_model = {self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
