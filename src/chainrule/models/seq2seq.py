"""Character encoder–decoders (Hands-On ML chapter 16) and their decoding: greedy and beam.

``Seq2Seq`` embeds the source ids, runs an LSTM encoder over them and starts an LSTM
decoder from the encoder's final state; the decoder reads the target shifted right (the
start token first: teacher forcing) and predicts the next token. With
``attention="luong"`` each decoder output also attends over the encoder outputs (Luong's
"general" score, the attentional state tanh(W_c [context; h]) feeds the output layer);
with ``attention="bahdanau"`` the context of the previous decoder state is part of the
decoder's input (Bahdanau's additive score), so the decoder runs step by step::

    model = Seq2Seq(src_vocab=40, tgt_vocab=13, attention="luong", sos=0, eos=12)
    logits = model(src, tgt_in, src_lengths)          # (batch, T_tgt, tgt_vocab)
    tokens, scores = beam_search(model, src, beam_width=3, max_len=11)

Any model with ``start(src, src_lengths) -> state`` and ``step(tokens, state) -> (log
probabilities (batch, vocab), state)``, where ``state`` is a dict of arrays or tensors
with the batch first, can be decoded by ``greedy_decode`` and ``beam_search``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import no_grad, ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor
from ..nn import LSTM, BahdanauAttention, Embedding, Linear, LuongAttention, Module, evaluating
from .registry import register_model

__all__ = ["Seq2Seq", "beam_search", "greedy_decode", "source_ids", "source_mask"]


def source_mask(src: np.ndarray, src_lengths: Any = None, pad: int = 0) -> np.ndarray:
    """(batch, T) booleans, True at real source tokens: from the lengths when given,
    else every id other than ``pad``."""
    src = np.asarray(src)
    if src_lengths is None:
        return src != pad
    return np.arange(src.shape[1])[None, :] < np.asarray(src_lengths)[:, None]


def source_ids(src: Any, src_lengths: Any, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """The source ids as an integer array (batch, T) and their :func:`source_mask`; one
    error naming ``layer`` and the shape otherwise."""
    src = np.asarray(src.data if isinstance(src, Tensor) else src)
    if src.ndim != 2 or src.dtype.kind not in "iu":
        raise ShapeError(f"{layer}: src must be integer ids of shape (batch, time), got "
                         f"{src.dtype} of shape {src.shape}")
    if src_lengths is not None and np.shape(src_lengths) != (src.shape[0],):
        raise ShapeError(f"{layer}: src_lengths must have one length per sequence "
                         f"({src.shape[0]},), got shape {np.shape(src_lengths)}")
    return src, source_mask(src, src_lengths)


@register_model("seq2seq", kind="seq2seq")
class Seq2Seq(Module):
    """LSTM encoder–decoder with optional attention; see the module docstring.

    ``src_vocab`` / ``tgt_vocab``: sizes of the id alphabets (source id 0 is padding);
    ``sos`` / ``eos``: the target ids that start and end a sequence; ``attention``: None,
    ``"luong"`` or ``"bahdanau"``.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_dim: int = 32, hidden: int = 128,
                 attention: str | None = None, sos: int = 0, eos: int | None = None) -> None:
        super().__init__()
        if attention not in (None, "luong", "bahdanau"):
            raise ValueError(f"Seq2Seq: attention must be None, 'luong' or 'bahdanau', got "
                             f"{attention!r}")
        self.src_vocab, self.tgt_vocab, self.attention_kind = src_vocab, tgt_vocab, attention
        self.sos, self.eos = sos, (tgt_vocab - 1 if eos is None else eos)
        self.hidden = hidden
        self.src_embed = Embedding(src_vocab, embed_dim, padding_idx=0)
        self.tgt_embed = Embedding(tgt_vocab, embed_dim)
        self.encoder = LSTM(embed_dim, hidden, return_state=True)
        dec_in = embed_dim + (hidden if attention == "bahdanau" else 0)
        self.decoder = LSTM(dec_in, hidden, return_state=True)
        self.attention = None
        if attention == "luong":
            self.attention = LuongAttention(hidden, hidden, score="general")
            self.combine = Linear(2 * hidden, hidden, bias=False)
        elif attention == "bahdanau":
            self.attention = BahdanauAttention(hidden, hidden)
        out_in = 2 * hidden if attention == "bahdanau" else hidden
        self.out = Linear(out_in, tgt_vocab)

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Any, src_lengths: Any = None) -> dict[str, Any]:
        """Encoder outputs, source mask and the decoder's initial state."""
        src, mask = source_ids(src, src_lengths, self.label())
        lengths = np.maximum(mask.sum(axis=1), 1)
        memory, (h, c) = self.encoder(self.src_embed(src), lengths=lengths)
        return {"memory": memory, "mask": mask, "h": h[0], "c": c[0]}

    # ------------------------------------------------------------------ teacher forcing
    def forward(self, src: Any, tgt_in: Any, src_lengths: Any = None,
                return_attention: bool = False) -> Any:
        """Logits (batch, T_tgt, tgt_vocab) for the next token at each target step (and
        the attention weights (batch, T_tgt, T_src) with ``return_attention``)."""
        enc = self.encode(src, src_lengths)
        x = self.tgt_embed(np.asarray(tgt_in))
        if self.attention_kind == "bahdanau":
            logits, weights = self._bahdanau_loop(x, enc)
        else:
            state = (ops.reshape(enc["h"], (1,) + enc["h"].shape),
                     ops.reshape(enc["c"], (1,) + enc["c"].shape))
            dec, _ = self.decoder(x, initial_state=state)
            logits, weights = self._readout(dec, enc)
        return (logits, weights) if return_attention else logits

    def _readout(self, dec: Tensor, enc: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        if self.attention_kind != "luong":
            return self.out(dec), None
        ctx, w = self.attention(dec, enc["memory"], mask=enc["mask"])
        return self.out(ops.tanh(self.combine(ops.concatenate([ctx, dec], axis=-1)))), w

    def _bahdanau_step(self, x: Tensor, state: dict[str, Any]) -> tuple[Tensor, Tensor,
                                                                         dict[str, Any]]:
        ctx, w = self.attention(state["h"], state["memory"], mask=state["mask"])
        h, c = self.decoder.cell_l0(ops.concatenate([x, ctx], axis=-1),
                                    (state["h"], state["c"]))
        logits = self.out(ops.concatenate([h, ctx], axis=-1))
        return logits, w, {**state, "h": h, "c": c}

    def _bahdanau_loop(self, x: Tensor, enc: dict[str, Any]) -> tuple[Tensor, Tensor]:
        logits, weights, state = [], [], enc
        for t in range(x.shape[1]):
            lg, w, state = self._bahdanau_step(x[:, t], state)
            logits.append(lg)
            weights.append(w)
        return ops.stack(logits, axis=1), ops.stack(weights, axis=1)

    # ------------------------------------------------------------------ decoding
    def start(self, src: Any, src_lengths: Any = None) -> dict[str, Any]:
        """The decoding state for ``greedy_decode`` / ``beam_search``."""
        return self.encode(src, src_lengths)

    def step(self, tokens: np.ndarray, state: dict[str, Any]) -> tuple[np.ndarray,
                                                                      dict[str, Any]]:
        """Log-probabilities (batch, tgt_vocab) of the token after ``tokens``, new state."""
        x = self.tgt_embed(np.asarray(tokens))
        if self.attention_kind == "bahdanau":
            logits, w, state = self._bahdanau_step(x, state)
        else:
            h, c = self.decoder.cell_l0(x, (state["h"], state["c"]))
            logits, w = self._readout(ops.reshape(h, (h.shape[0], 1, -1)), state)
            logits = logits[:, 0]
            w = None if w is None else w[:, 0]
            state = {**state, "h": h, "c": c}
        if w is not None:
            state["attention"] = w
        return np.asarray(ops.log_softmax(logits, axis=-1).data), state

    def extra_repr(self) -> str:
        return (f"src_vocab={self.src_vocab}, tgt_vocab={self.tgt_vocab}, "
                f"hidden={self.hidden}, attention={self.attention_kind!r}")


# ---------------------------------------------------------------------- search

def _take(state: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    return {k: (v[idx] if v is not None else None) for k, v in state.items()}


def _special(model: Any, sos: int | None, eos: int | None) -> tuple[int, int]:
    sos = getattr(model, "sos", None) if sos is None else sos
    eos = getattr(model, "eos", None) if eos is None else eos
    if sos is None or eos is None:
        raise ValueError("decoding needs the start and end token ids (sos=, eos=), and the "
                         "model has no .sos / .eos")
    return int(sos), int(eos)


def _inference(model: Any) -> Any:
    """Evaluation mode without a graph (every submodule's mode restored afterwards)."""
    return evaluating(model) if isinstance(model, Module) else no_grad()


def _check_len(name: str, max_len: Any) -> None:
    if not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"{name}: max_len must be a positive integer, got {max_len!r}")


def greedy_decode(model: Any, src: Any, max_len: int, src_lengths: Any = None,
                  sos: int | None = None, eos: int | None = None,
                  return_attention: bool = False) -> Any:
    """The most likely token at each step. Returns ``(tokens, scores)``: tokens (batch,
    max_len) int64 (``eos`` repeated after a sequence ends), scores (batch,) the summed
    log-probabilities of the tokens up to and including the first ``eos``. With
    ``return_attention`` also the attention weights (batch, max_len, T_src) of a model
    that reports them (``state["attention"]``)."""
    _check_len("greedy_decode", max_len)
    sos, eos = _special(model, sos, eos)
    with _inference(model):
        state = model.start(src, src_lengths)
        b = len(np.asarray(src))
        tok = np.full(b, sos, dtype=np.int64)
        out = np.full((b, max_len), eos, dtype=np.int64)
        scores, done, maps = np.zeros(b), np.zeros(b, bool), []
        for t in range(max_len):
            logp, state = model.step(tok, state)
            tok = np.where(done, eos, logp.argmax(axis=-1))
            scores += np.where(done, 0.0, logp[np.arange(b), tok])
            out[:, t] = tok
            if "attention" in state:
                maps.append(np.asarray(state["attention"].data))
            done |= tok == eos
            if done.all():
                break
    if return_attention:
        return out, scores, (np.stack(maps, axis=1) if maps else None)
    return out, scores


def beam_search(model: Any, src: Any, beam_width: int = 3, max_len: int = 50,
                src_lengths: Any = None, sos: int | None = None, eos: int | None = None,
                length_penalty: float = 0.0, return_all: bool = False) -> Any:
    """Beam search: keep the ``beam_width`` best partial sequences by summed
    log-probability. A beam that emits ``eos`` is finished: it is carried over with its
    score unchanged and competes with the open beams until every beam is finished or
    ``max_len`` tokens were produced. Final ranking divides each score by
    length ** ``length_penalty`` (0: plain log-probabilities).

    Returns ``(tokens, scores)`` of the best beam per source, tokens (batch, max_len)
    int64 padded with ``eos``; with ``return_all`` every beam, best first: (batch,
    beam_width, max_len) and (batch, beam_width).
    """
    _check_len("beam_search", max_len)
    if not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be a positive integer, got "
                         f"{beam_width!r}")
    sos, eos = _special(model, sos, eos)
    k = int(beam_width)
    with _inference(model):
        state = model.start(src, src_lengths)
        b = len(np.asarray(src))
        state = _take(state, np.repeat(np.arange(b), k))        # (b * k, ...)
        tok = np.full(b * k, sos, dtype=np.int64)
        seqs = np.full((b * k, max_len), eos, dtype=np.int64)
        score = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], b)  # one live beam at first
        done = np.zeros(b * k, bool)
        length = np.zeros(b * k, dtype=np.int64)
        for t in range(max_len):
            logp, state = model.step(tok, state)
            v = logp.shape[1]
            logp = np.where(done[:, None], -np.inf, logp)
            logp[done, eos] = 0.0                                # carried over as is
            cand = (score[:, None] + logp).reshape(b, k * v)
            best = np.argsort(-cand, axis=1, kind="stable")[:, :k]
            src_beam = (np.arange(b)[:, None] * k + best // v).ravel()
            tok = (best % v).ravel().astype(np.int64)
            score = np.take_along_axis(cand, best, axis=1).ravel()
            state = _take(state, src_beam)
            seqs, done, length = seqs[src_beam], done[src_beam], length[src_beam]
            seqs[:, t] = tok
            length = length + ~done
            done = done | (tok == eos)
            if done.all():
                break
    final = score / np.maximum(length, 1) ** length_penalty if length_penalty else score
    final = final.reshape(b, k)
    order = np.argsort(-final, axis=1, kind="stable")
    seqs = np.take_along_axis(seqs.reshape(b, k, max_len), order[:, :, None], axis=1)
    final = np.take_along_axis(final, order, axis=1)
    if return_all:
        return seqs, final
    return seqs[:, 0], final[:, 0]
