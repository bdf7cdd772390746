"""Lookup and text preprocessing layers (Keras semantics): :class:`StringLookup`,
:class:`IntegerLookup`, :class:`TextVectorization`.

Index layout of a lookup (``output_mode="int"``): the mask token first (if any), then
``num_oov_indices`` out-of-vocabulary buckets, then the vocabulary, most frequent first
(ties in order of first appearance), as Keras. With several OOV buckets an unknown token
goes to bucket ``hash(token) % num_oov_indices`` (a stable BLAKE2b hash; Keras uses
FarmHash, so the bucket chosen for a given token can differ from Keras').

The vocabulary (and the IDF weights for ``tf_idf``) are buffers: saved in ``state_dict``
and restored by ``load_state_dict`` into a layer built with the same arguments.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from .module import Module
from .preprocessing import adapt_batches, as_array, encode_categories, stable_hash

__all__ = ["IntegerLookup", "StringLookup", "TextVectorization"]

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class _Lookup(Module):
    _kind = "string"

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any,
                 oov_token: Any, vocabulary: Sequence[Any] | None, output_mode: str,
                 invert: bool) -> None:
        super().__init__()
        if output_mode not in _MODES:
            raise ValueError(f"{type(self).__name__}: output_mode must be one of {_MODES}, "
                             f"got {output_mode!r}")
        if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{type(self).__name__}: num_oov_indices must be an int >= 0")
        if invert and output_mode != "int":
            raise ValueError(f"{type(self).__name__}: invert needs output_mode='int'")
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.invert = invert
        self.register_buffer("vocabulary", None)
        self.register_buffer("idf_weights", None)
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------------ vocabulary
    def _reserved(self) -> int:
        return (self.mask_token is not None) + self.num_oov_indices

    def _array(self, tokens: Sequence[Any]) -> np.ndarray:
        return np.asarray(list(tokens), dtype=str if self._kind == "string" else np.int64)

    def set_vocabulary(self, vocabulary: Sequence[Any], idf_weights: Any = None) -> None:
        """Use ``vocabulary`` (tokens, without the mask and OOV tokens) as it is."""
        vocab = self._array(vocabulary)
        if len(set(vocab.tolist())) != len(vocab):
            raise ValueError(f"{type(self).__name__}: the vocabulary has repeated tokens")
        special = [t for t in (self.mask_token, self.oov_token) if t is not None]
        if any(t in special for t in vocab.tolist()):
            raise ValueError(f"{type(self).__name__}: the vocabulary contains the mask or "
                             "OOV token")
        self.register_buffer("vocabulary", vocab)
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{type(self).__name__}: tf_idf needs idf_weights with a "
                                 "fixed vocabulary (or call adapt)")
            idf = np.asarray(idf_weights, np.float64)
            pad = np.full(self._reserved(), idf.mean() if idf.size else 0.0)
            self.register_buffer("idf_weights", np.concatenate([pad, idf]))
        self._build_index()

    def _build_index(self) -> None:
        start = self._reserved()
        self._index = {t: i + start for i, t in enumerate(self.vocabulary.tolist())}

    def get_vocabulary(self) -> list[Any]:
        """All tokens by index: mask token, OOV token(s), then the vocabulary."""
        head = [] if self.mask_token is None else [self.mask_token]
        return head + [self.oov_token] * self.num_oov_indices + (
            [] if self.vocabulary is None else self.vocabulary.tolist())

    def vocabulary_size(self) -> int:
        return len(self.get_vocabulary())

    def _tokens_of(self, arr: np.ndarray) -> list[Any]:
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        return arr.reshape(-1).tolist()

    def adapt(self, data: Any, documents: Callable[[np.ndarray], list[list[Any]]] | None = None
              ) -> _Lookup:
        """Vocabulary of ``data``: tokens by decreasing frequency (first seen first among
        equals), at most ``max_tokens`` minus the reserved indices."""
        counts: Counter[Any] = Counter()
        doc_freq: Counter[Any] = Counter()
        n_docs = 0
        for arr in adapt_batches(data):
            docs = documents(arr) if documents else (
                [self._tokens_of(r) for r in arr.reshape(len(arr), -1)] if arr.ndim else
                [self._tokens_of(arr)])
            for doc in docs:
                counts.update(doc)
                doc_freq.update(set(doc))
                n_docs += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        vocab = [t for t, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
        if self.max_tokens is not None:
            vocab = vocab[:max(self.max_tokens - self._reserved(), 0)]
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.log1p(n_docs / (1.0 + np.asarray([doc_freq[t] for t in vocab], float)))
        self.set_vocabulary(vocab, idf)
        return self

    def _upgrade_state_dict(self, state: dict[str, Any], prefix: str) -> dict[str, Any]:
        for name in ("vocabulary", "idf_weights"):
            if f"{prefix}{name}" in state:
                self.register_buffer(name, np.asarray(state[f"{prefix}{name}"]).copy())
        if f"{prefix}vocabulary" in state:
            self._build_index()
        return state

    # ------------------------------------------------------------------ lookup
    def lookup(self, tokens: list[Any]) -> np.ndarray:
        if self.vocabulary is None:
            raise RuntimeError(f"{type(self).__name__}: call adapt(data) or give a vocabulary "
                               "before using the layer")
        mask_offset = int(self.mask_token is not None)
        out = np.empty(len(tokens), dtype=np.int64)
        for i, t in enumerate(tokens):
            j = self._index.get(t)
            if j is None:
                if self.mask_token is not None and t == self.mask_token:
                    j = 0
                elif self.num_oov_indices == 0:
                    raise KeyError(f"{type(self).__name__}: {t!r} is not in the vocabulary "
                                   "and num_oov_indices=0")
                elif self.num_oov_indices == 1:
                    j = mask_offset
                else:
                    j = mask_offset + int(stable_hash(np.asarray([t]), self.num_oov_indices)[0])
            out[i] = j
        return out

    def forward(self, x: Any) -> Tensor:
        arr = as_array(x)
        if self.invert:
            vocab = np.asarray(self.get_vocabulary(), dtype=object)
            return vocab[arr.astype(np.int64)]  # type: ignore[return-value]
        idx = self.lookup(self._tokens_of(arr)).reshape(arr.shape)
        if self.output_mode == "int":
            return Tensor(idx)
        return Tensor(encode_categories(idx, self.vocabulary_size(), self.output_mode,
                                        self.label(), self.idf_weights))

    def extra_repr(self) -> str:
        size = None if self.vocabulary is None else self.vocabulary_size()
        return f"vocabulary_size={size}, output_mode={self.output_mode!r}"


class StringLookup(_Lookup):
    """Map strings to indices (Keras ``StringLookup``): OOV token ``"[UNK]"`` at index 0
    (after the mask token ``mask_token`` if one is given). ``invert=True`` maps indices
    back to tokens (a NumPy array of strings)."""

    _kind = "string"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: str | None = None, oov_token: str = "[UNK]",
                 vocabulary: Sequence[str] | None = None, output_mode: str = "int",
                 invert: bool = False) -> None:
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         output_mode, invert)


class IntegerLookup(_Lookup):
    """Map integers to indices (Keras ``IntegerLookup``); OOV token ``-1``."""

    _kind = "int"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: int | None = None, oov_token: int = -1,
                 vocabulary: Sequence[int] | None = None, output_mode: str = "int",
                 invert: bool = False) -> None:
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         output_mode, invert)

    def _tokens_of(self, arr: np.ndarray) -> list[Any]:
        return [int(v) for v in arr.reshape(-1).tolist()]


_PUNCT = re.compile("[" + re.escape(string.punctuation) + "]")


def _standardize(text: str, mode: str | Callable[[str], str] | None) -> str:
    if mode is None:
        return text
    if callable(mode):
        return mode(text)
    if mode == "lower_and_strip_punctuation":
        return _PUNCT.sub("", text.lower())
    if mode == "lower":
        return text.lower()
    if mode == "strip_punctuation":
        return _PUNCT.sub("", text)
    raise ValueError(f"TextVectorization: unknown standardize {mode!r}")


class TextVectorization(Module):
    """Strings to token indices or bag-of-words vectors (Keras ``TextVectorization``).

    ``standardize`` (``"lower_and_strip_punctuation"`` by default, ``"lower"``,
    ``"strip_punctuation"``, None or a function), ``split`` (``"whitespace"``,
    ``"character"``, None or a function), optional ``ngrams`` (n, or a tuple of sizes),
    ``max_tokens`` (vocabulary size including the reserved indices). ``output_mode``:
    ``"int"`` (index 0 = padding, 1 = OOV ``[UNK]``; sequences padded to the longest in
    the batch or to ``output_sequence_length``, truncated if longer), ``"multi_hot"``,
    ``"count"``, ``"tf_idf"`` (index 0 = OOV; idf = log(1 + docs / (1 + doc frequency)),
    the OOV weight the mean of the others, as Keras).
    """

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable[[str], str] | None = "lower_and_strip_punctuation",
                 split: str | Callable[[str], list[str]] | None = "whitespace",
                 ngrams: int | tuple[int, ...] | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None,
                 vocabulary: Sequence[str] | None = None, idf_weights: Any = None) -> None:
        super().__init__()
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"TextVectorization: unknown output_mode {output_mode!r}")
        self.standardize = standardize
        self.split = split
        self.ngrams = (tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams)
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.lookup = StringLookup(max_tokens=max_tokens,
                                   mask_token="" if output_mode == "int" else None,
                                   output_mode=output_mode)
        if vocabulary is not None:
            self.lookup.set_vocabulary(vocabulary, idf_weights)

    def tokenize(self, text: str) -> list[str]:
        text = _standardize(text, self.standardize)
        if self.split is None:
            tokens = [text]
        elif callable(self.split):
            tokens = list(self.split(text))
        elif self.split == "whitespace":
            tokens = text.split()
        elif self.split == "character":
            tokens = list(text)
        else:
            raise ValueError(f"TextVectorization: unknown split {self.split!r}")
        if self.ngrams:
            tokens = [" ".join(tokens[i:i + n]) for n in self.ngrams
                      for i in range(len(tokens) - n + 1)]
        return tokens

    def _documents(self, arr: np.ndarray) -> list[list[str]]:
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        return [self.tokenize(str(t)) for t in arr.reshape(-1).tolist()]

    def adapt(self, data: Any) -> TextVectorization:
        """Build the vocabulary (and IDF weights) from strings or batches of strings."""
        self.lookup.adapt(data, documents=self._documents)
        return self

    def get_vocabulary(self) -> list[str]:
        return self.lookup.get_vocabulary()

    def vocabulary_size(self) -> int:
        return self.lookup.vocabulary_size()

    def forward(self, x: Any) -> Tensor:
        arr = as_array(x)
        docs = self._documents(arr)
        if self.output_mode != "int":
            n = self.vocabulary_size()
            rows = [encode_categories(self.lookup.lookup(d)[None] if d else
                                      np.zeros((1, 0), np.int64), n, self.output_mode,
                                      "TextVectorization", self.lookup.idf_weights)[0]
                    for d in docs]
            return Tensor(np.stack(rows).reshape(*arr.shape, n))
        ids = [self.lookup.lookup(d) for d in docs]
        length = self.output_sequence_length or max((len(i) for i in ids), default=0)
        out = np.zeros((len(ids), length), dtype=np.int64)
        for r, i in enumerate(ids):
            out[r, :min(len(i), length)] = i[:length]
        return Tensor(out.reshape(*arr.shape, length))

    def extra_repr(self) -> str:
        return f"vocabulary_size={self.vocabulary_size()}, output_mode={self.output_mode!r}"
