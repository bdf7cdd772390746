"""A small encoder–decoder Transformer for character translation (Hands-On ML chapter 16).

Source and target ids are embedded, the sinusoidal positions added, and
``nn.Transformer`` (batch first) maps them to the next target token; padded source
positions (id 0) are masked out of every attention over the source. It decodes with the
same interface as :class:`~chainrule.models.seq2seq.Seq2Seq` (``start`` / ``step``), so
``greedy_decode`` and ``beam_search`` work unchanged; ``step`` runs the decoder over the
whole prefix (no key/value cache: the targets here are a dozen tokens long)::

    model = TransformerSeq2Seq(src_vocab=40, tgt_vocab=13, d_model=64, sos=0, eos=12)
    logits = model(src, tgt_in)                        # (batch, T_tgt, tgt_vocab)
    tokens, scores = beam_search(model, src, beam_width=3, max_len=11)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor
from ..nn import Embedding, Linear, Module, SinusoidalPositionalEncoding, Transformer
from .registry import register_model
from .seq2seq import source_ids

__all__ = ["TransformerSeq2Seq"]


@register_model("transformer-seq2seq", kind="seq2seq")
class TransformerSeq2Seq(Module):
    """Embeddings + sinusoidal positions + ``nn.Transformer`` + a linear read-out."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 128, dropout: float = 0.1, max_len: int = 64,
                 sos: int = 0, eos: int | None = None) -> None:
        super().__init__()
        self.src_vocab, self.tgt_vocab, self.d_model = src_vocab, tgt_vocab, d_model
        self.sos, self.eos = sos, (tgt_vocab - 1 if eos is None else eos)
        self.src_embed = Embedding(src_vocab, d_model, padding_idx=0)
        self.tgt_embed = Embedding(tgt_vocab, d_model)
        self.positions = SinusoidalPositionalEncoding(max_len, d_model, dropout,
                                                      batch_first=True)
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                       dim_feedforward, dropout, batch_first=True)
        self.out = Linear(d_model, tgt_vocab)

    def encode(self, src: Any, src_lengths: Any = None) -> dict[str, Any]:
        src, mask = source_ids(src, src_lengths, self.label())
        pad = ~mask                                   # True where attention is NOT allowed
        memory = self.transformer.encoder(self.positions(self.src_embed(src)),
                                          src_key_padding_mask=pad)
        return {"memory": memory, "pad": pad}

    def _decode(self, tgt_in: np.ndarray, enc: dict[str, Any]) -> Tensor:
        t = tgt_in.shape[1]
        causal = Transformer.generate_square_subsequent_mask(t)
        x = self.transformer.decoder(self.positions(self.tgt_embed(tgt_in)), enc["memory"],
                                     tgt_mask=causal, memory_key_padding_mask=enc["pad"],
                                     tgt_is_causal=True)
        return self.out(x)

    def forward(self, src: Any, tgt_in: Any, src_lengths: Any = None) -> Tensor:
        """Logits (batch, T_tgt, tgt_vocab) of the next token at each target step."""
        return self._decode(np.asarray(tgt_in), self.encode(src, src_lengths))

    def start(self, src: Any, src_lengths: Any = None) -> dict[str, Any]:
        state = self.encode(src, src_lengths)
        state["prefix"] = np.zeros((state["pad"].shape[0], 0), dtype=np.int64)
        return state

    def step(self, tokens: np.ndarray, state: dict[str, Any]) -> tuple[np.ndarray,
                                                                      dict[str, Any]]:
        prefix = np.concatenate([state["prefix"], np.asarray(tokens)[:, None]], axis=1)
        logits = self._decode(prefix, state)[:, -1]
        return np.asarray(ops.log_softmax(logits, axis=-1).data), {**state, "prefix": prefix}

    def extra_repr(self) -> str:
        return (f"src_vocab={self.src_vocab}, tgt_vocab={self.tgt_vocab}, "
                f"d_model={self.d_model}")
