"""Preprocessing layers (Hands-On ML ch. 13, Keras semantics) that travel with the model.

Their state (means and variances, bin boundaries, vocabularies, IDF weights) is held in
buffers, so it is part of ``state_dict()``, saved and loaded with the model, and counted
as non-trainable parameters by ``summary()``. ``adapt(data)`` computes it from data (a
NumPy array, a Tensor, or an iterable of batches such as a
:class:`chainrule.data.Pipeline`).

Numerical layers: :class:`Normalization`, :class:`Discretization`; categorical:
:class:`CategoryEncoding`, :class:`Hashing`; lookups and text are in
:mod:`chainrule.nn.preprocessing_text`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor, get_default_dtype
from .module import Module

__all__ = ["CategoryEncoding", "Discretization", "Hashing", "Normalization", "encode_categories"]

_EPSILON = 1e-7  # Keras' backend epsilon: the floor of the standard deviation


def as_array(x: Any) -> np.ndarray:
    """The values of ``x`` (a Tensor, an array, a list) as a NumPy array."""
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def adapt_batches(data: Any) -> Iterable[np.ndarray]:
    """``data`` as a sequence of arrays: one array, or the batches of an iterable (the
    first component of tuple batches, i.e. the inputs of ``(x, y)`` batches)."""
    if isinstance(data, np.ndarray | Tensor | list | str) or np.isscalar(data):
        arr = as_array(data)
        if arr.size == 0:
            raise ValueError("adapt: the data is empty")
        return [arr]
    if not hasattr(data, "__iter__"):
        raise TypeError(f"adapt: expected an array or an iterable of batches, got "
                        f"{type(data).__name__}")

    def gen() -> Iterable[np.ndarray]:
        for batch in data:
            yield as_array(batch[0] if isinstance(batch, tuple) else batch)

    return gen()


class Normalization(Module):
    """Standardize features: ``(x - mean) / max(sqrt(variance), 1e-7)`` (Keras).

    Args:
        axis: the axis (or axes) that keep their own statistics (default the last, the
            features); the statistics are taken over all the others. ``None``: one mean
            and variance for everything.
        mean, variance: give the statistics directly instead of calling :meth:`adapt`.
        invert: undo the normalization instead (``x * std + mean``).

    ``mean``, ``variance`` and ``count`` are buffers (non-trainable state). ``adapt`` may
    be called on a stream of batches; it combines them exactly (population variance).
    """

    def __init__(self, axis: int | tuple[int, ...] | None = -1, mean: Any = None,
                 variance: Any = None, invert: bool = False) -> None:
        super().__init__()
        self.axis = (axis,) if isinstance(axis, int) else (None if axis is None else tuple(axis))
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither")
        self.register_buffer("mean", None if mean is None else np.asarray(mean, np.float32))
        self.register_buffer("variance",
                             None if variance is None else np.asarray(variance, np.float32))
        self.register_buffer("count", None if mean is None else np.asarray(0, np.int64))

    def _reduce_axes(self, ndim: int) -> tuple[int, ...]:
        if self.axis is None:
            return tuple(range(ndim))
        keep = {a % ndim for a in self.axis}
        return tuple(a for a in range(ndim) if a not in keep)

    def build(self, feature_shape: tuple[int, ...]) -> None:
        """Create zero statistics of ``feature_shape`` (before loading a saved state)."""
        self.register_buffer("mean", np.zeros(feature_shape, np.float32))
        self.register_buffer("variance", np.ones(feature_shape, np.float32))
        self.register_buffer("count", np.asarray(0, np.int64))

    def adapt(self, data: Any) -> Normalization:
        """Compute mean and variance of ``data`` (see :func:`adapt_batches`)."""
        total, mean, m2 = 0, None, None
        for arr in adapt_batches(data):
            arr = arr.astype(np.float64)
            axes = self._reduce_axes(arr.ndim)
            n = int(np.prod([arr.shape[a] for a in axes])) if axes else 1
            bmean = arr.mean(axis=axes)
            bm2 = ((arr - np.expand_dims(bmean, axes) if axes else arr - bmean) ** 2).sum(
                axis=axes)
            if mean is None:
                total, mean, m2 = n, bmean, bm2
                continue
            delta = bmean - mean  # Chan et al.'s pairwise combination
            new = total + n
            mean = mean + delta * n / new
            m2 = m2 + bm2 + delta ** 2 * total * n / new
            total = new
        if mean is None:
            raise ValueError("Normalization.adapt: the data is empty")
        self.register_buffer("mean", np.asarray(mean, np.float32))
        self.register_buffer("variance", np.asarray(m2 / total, np.float32))
        self.register_buffer("count", np.asarray(total, np.int64))
        return self

    def _upgrade_state_dict(self, state: dict[str, Any], prefix: str) -> dict[str, Any]:
        if self.mean is None and f"{prefix}mean" in state:  # loading into an unadapted layer
            self.build(np.shape(state[f"{prefix}mean"]))
        return state

    def forward(self, x: Any) -> Tensor:
        if self.mean is None:
            raise RuntimeError("Normalization: call adapt(data) (or give mean and variance) "
                               "before using the layer")
        xt = x if isinstance(x, Tensor) else Tensor(np.asarray(x, get_default_dtype()))
        ndim = xt.ndim
        shape = [1] * ndim
        keep = [a for a in range(ndim) if a not in self._reduce_axes(ndim)]
        mshape = np.shape(self.mean)
        for a, s in zip(keep, mshape if mshape else (), strict=False):
            shape[a] = s
        dt = xt.dtype if np.issubdtype(xt.dtype, np.floating) else get_default_dtype()
        mean = np.reshape(self.mean, shape).astype(dt)
        std = np.maximum(np.sqrt(np.reshape(self.variance, shape)), _EPSILON).astype(dt)
        if not np.issubdtype(xt.dtype, np.floating):
            xt = Tensor(xt.data.astype(dt))
        return ops.add(ops.mul(xt, std), mean) if self.invert else ops.div(ops.sub(xt, mean), std)

    def extra_repr(self) -> str:
        return f"axis={self.axis if self.axis is None else list(self.axis)}" + (
            ", invert=True" if self.invert else "")


class Discretization(Module):
    """Bucketize values: index ``i`` for ``boundaries[i-1] <= x < boundaries[i]`` (0 below
    the first boundary, ``len(boundaries)`` from the last on), as Keras.

    Give ``bin_boundaries``, or ``num_bins`` and call :meth:`adapt` (boundaries at the
    exact quantiles ``1/num_bins, ..., (num_bins-1)/num_bins`` of the data; Keras uses an
    approximate quantile sketch, which can differ slightly on large data).
    """

    def __init__(self, bin_boundaries: Any = None, num_bins: int | None = None) -> None:
        super().__init__()
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError("Discretization: give exactly one of bin_boundaries or num_bins")
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 2):
            raise ValueError(f"Discretization: num_bins must be an int >= 2, got {num_bins!r}")
        self.num_bins = num_bins
        bounds = None if bin_boundaries is None else np.asarray(bin_boundaries, np.float64)
        if bounds is not None and np.any(np.diff(bounds) < 0):
            raise ValueError("Discretization: bin_boundaries must be sorted")
        self.register_buffer("bin_boundaries", bounds)

    def adapt(self, data: Any) -> Discretization:
        values = np.concatenate([a.reshape(-1).astype(np.float64) for a in adapt_batches(data)])
        q = np.linspace(0, 1, int(self.num_bins) + 1)[1:-1]  # type: ignore[arg-type]
        self.register_buffer("bin_boundaries", np.quantile(values, q))
        return self

    def _upgrade_state_dict(self, state: dict[str, Any], prefix: str) -> dict[str, Any]:
        key = f"{prefix}bin_boundaries"
        if key in state:
            self.register_buffer("bin_boundaries", np.empty(np.shape(state[key]), np.float64))
        return state

    def forward(self, x: Any) -> Tensor:
        if self.bin_boundaries is None:
            raise RuntimeError("Discretization: call adapt(data) before using the layer")
        return Tensor(np.digitize(as_array(x), self.bin_boundaries).astype(np.int64))

    def extra_repr(self) -> str:
        n = None if self.bin_boundaries is None else len(self.bin_boundaries) + 1
        return f"num_bins={n}"


def encode_categories(idx: np.ndarray, num_tokens: int, mode: str, where: str,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """One-hot / multi-hot / count / tf-idf encoding of integer indices (Keras rules):
    ``one_hot`` encodes each value (a trailing axis of size 1 is dropped first);
    the other modes encode each row (the last axis) into one vector, so a rank-1 input
    is one sample (Keras 3)."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_tokens):
        raise ValueError(f"{where}: values must lie in [0, {num_tokens}), got range "
                         f"[{idx.min()}, {idx.max()}]")
    dtype = get_default_dtype()
    if mode == "one_hot":
        if idx.ndim > 1 and idx.shape[-1] == 1:
            idx = idx[..., 0]
        return np.eye(num_tokens, dtype=dtype)[idx]
    if idx.ndim == 0:
        idx = idx[None]
    rows = idx.reshape(-1, idx.shape[-1])  # Keras 3: the last axis is one sample's values
    lead = idx.shape[:-1]
    out = np.zeros((rows.shape[0], num_tokens), dtype=np.float64)
    np.add.at(out, (np.repeat(np.arange(rows.shape[0]), rows.shape[1]), rows.reshape(-1)), 1)
    if mode == "multi_hot":
        out = np.minimum(out, 1)
    elif mode == "tf_idf":
        if weights is None:
            raise ValueError(f"{where}: tf_idf needs IDF weights (call adapt)")
        out = out * weights
    elif mode != "count":
        raise ValueError(f"{where}: unknown output_mode {mode!r}")
    return out.reshape(*lead, num_tokens).astype(dtype)


class CategoryEncoding(Module):
    """Encode integer categories ``0 .. num_tokens-1`` as ``one_hot``, ``multi_hot``
    (default, one vector per row) or ``count`` vectors (Keras' ``CategoryEncoding``)."""

    def __init__(self, num_tokens: int, output_mode: str = "multi_hot") -> None:
        super().__init__()
        if not isinstance(num_tokens, int) or num_tokens <= 0:
            raise ValueError(f"CategoryEncoding: num_tokens must be a positive int, got "
                             f"{num_tokens!r}")
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(f"CategoryEncoding: output_mode must be one_hot, multi_hot or "
                             f"count, got {output_mode!r}")
        self.num_tokens = num_tokens
        self.output_mode = output_mode

    def forward(self, x: Any) -> Tensor:
        return Tensor(encode_categories(as_array(x), self.num_tokens, self.output_mode,
                                        self.label()))

    def extra_repr(self) -> str:
        return f"num_tokens={self.num_tokens}, output_mode={self.output_mode!r}"


def stable_hash(values: np.ndarray, num_bins: int, salt: str = "") -> np.ndarray:
    """Bucket ``0 .. num_bins-1`` of each value: BLAKE2b (8 bytes) of ``salt + str(v)``
    modulo ``num_bins``; stable across runs and machines (unlike Python's ``hash``)."""
    flat = [int.from_bytes(hashlib.blake2b((salt + str(v)).encode("utf-8"),
                                           digest_size=8).digest(), "little") % num_bins
            for v in values.reshape(-1).tolist()]
    return np.asarray(flat, dtype=np.int64).reshape(values.shape)


class Hashing(Module):
    """Hash strings or integers into ``num_bins`` buckets (the hashing trick).

    ``mask_value`` (if given) goes to bin 0 and the others to ``1 .. num_bins-1``. The
    hash is BLAKE2b, stable everywhere; Keras uses FarmHash64, so the bucket of a given
    value differs from Keras' (the distribution properties are the same).
    """

    def __init__(self, num_bins: int, mask_value: Any = None, salt: str | int | None = None,
                 output_mode: str = "int") -> None:
        super().__init__()
        if not isinstance(num_bins, int) or num_bins <= 0 or (mask_value is not None
                                                              and num_bins < 2):
            raise ValueError(f"Hashing: num_bins must be a positive int (>= 2 with a "
                             f"mask_value), got {num_bins!r}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Hashing: unknown output_mode {output_mode!r}")
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.salt = "" if salt is None else f"{salt}:"
        self.output_mode = output_mode

    def forward(self, x: Any) -> Tensor:
        values = as_array(x)
        if values.dtype.kind == "S":
            values = np.char.decode(values, "utf-8")
        if self.mask_value is None:
            out = stable_hash(values, self.num_bins, self.salt)
        else:
            out = stable_hash(values, self.num_bins - 1, self.salt) + 1
            out[values == self.mask_value] = 0
        if self.output_mode != "int":
            return Tensor(encode_categories(out, self.num_bins, self.output_mode, self.label()))
        return Tensor(out)

    def extra_repr(self) -> str:
        return f"num_bins={self.num_bins}"
