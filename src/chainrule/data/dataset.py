"""Datasets: anything with a length and indexable samples.

A :class:`Dataset` maps an integer index to one sample (usually a tuple such as
``(x, y)``). For speed, datasets may also fetch a whole batch at once through
:meth:`Dataset.get_batch`, which takes an integer array of indices; :class:`ArrayDataset`
does this with one NumPy fancy-index per array instead of a Python loop.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ArrayDataset", "Dataset", "Subset", "collate", "fetch_batch", "random_split"]


def collate(samples: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of samples into a batch.

    Each sample is a tuple ``(a_1, ..., a_k)`` (or a single value, treated as ``(a,)``);
    the result is a tuple of ``k`` arrays, each of shape ``(len(samples), *a_i.shape)``.
    """
    if len(samples) == 0:
        raise ValueError("collate: cannot build a batch from zero samples")
    rows = [s if isinstance(s, tuple) else (s,) for s in samples]
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ValueError("collate: samples have different numbers of fields")
    return tuple(np.stack([np.asarray(r[i]) for r in rows]) for i in range(width))


def fetch_batch(dataset: Any, indices: np.ndarray) -> Any:
    """Fetch the samples at ``indices`` (1-D int array) as one batch.

    Uses ``dataset.get_batch`` when the dataset has one (one vectorized fetch); otherwise
    indexes sample by sample and stacks with :func:`collate`.
    """
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return get_batch(indices)
    return collate([dataset[int(i)] for i in indices])


class Dataset(abc.ABC):
    """Abstract dataset: implement ``__len__`` and ``__getitem__(i) -> sample``.

    Override :meth:`get_batch` when the data can be fetched for many indices at once.
    """

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abc.abstractmethod
    def __getitem__(self, index: Any) -> Any:
        """The sample at ``index``."""

    def get_batch(self, indices: np.ndarray) -> Any:
        """The samples at ``indices`` (1-D int array, length ``B``) stacked along axis 0.

        The default loops over ``self[i]`` and stacks; subclasses can do better.
        """
        return collate([self[int(i)] for i in indices])


class ArrayDataset(Dataset):
    """A dataset over arrays that share their first dimension, e.g. ``ArrayDataset(x, y)``.

    ``ds[i]`` is the tuple ``(x[i], y[i])``; ``ds[idx]`` with an integer array (or slice,
    or boolean mask) of length ``B`` is ``(x[idx], y[idx])`` with shapes
    ``(B, *x.shape[1:])`` and ``(B, *y.shape[1:])``. The arrays are kept as given (no copy:
    anything with ``__array__`` is converted with :func:`numpy.asarray`).
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        converted = tuple(np.asarray(a) for a in arrays)
        for position, a in enumerate(converted):
            if a.ndim == 0:
                raise ValueError(f"ArrayDataset: array {position} is 0-d; it needs a first axis")
        lengths = [a.shape[0] for a in converted]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in converted)
            raise ValueError(
                f"ArrayDataset: arrays must share their first dimension, got shapes {shapes}"
            )
        self.arrays: tuple[np.ndarray, ...] = converted

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """One fancy-index per array: shapes ``(B, *a.shape[1:])``."""
        return self[indices]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"ArrayDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a 1-D int array), in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError("Subset: indices must be a 1-D sequence of integers")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of length {n}")
        self.dataset = dataset
        self.indices: np.ndarray = idx.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, numbers.Integral):
            return self.dataset[int(self.indices[index])]
        return fetch_batch(self.dataset, self.indices[index])

    def get_batch(self, indices: np.ndarray) -> Any:
        return fetch_batch(self.dataset, self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def _split_lengths(n: int, lengths_or_fractions: Sequence[float]) -> list[int]:
    """Turn fractions (summing to 1) or integer lengths (summing to ``n``) into lengths."""
    parts = list(lengths_or_fractions)
    if not parts:
        raise ValueError("random_split: give at least one length or fraction")
    if all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in parts):
        if any(p < 0 for p in parts) or sum(parts) != n:
            raise ValueError(
                f"random_split: lengths {parts} must be non-negative and sum to the "
                f"dataset length {n}"
            )
        return [int(p) for p in parts]
    fractions = [float(p) for p in parts]
    if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"random_split: fractions {fractions} must be non-negative and sum to 1 "
            "(or give integer lengths summing to the dataset length)"
        )
    lengths = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(lengths)):  # hand out the remainder round-robin
        lengths[i % len(lengths)] += 1
    return lengths


def random_split(
    dataset: Any, lengths_or_fractions: Sequence[float], seed: int | None = None
) -> list[Subset]:
    """Split ``dataset`` into disjoint random :class:`Subset` s.

    ``lengths_or_fractions`` is either integer lengths summing to ``len(dataset)`` or
    fractions summing to 1 (e.g. ``[0.8, 0.2]``; rounding remainders go to the first
    parts). The same ``seed`` always gives the same split.
    """
    n = len(dataset)
    lengths = _split_lengths(n, lengths_or_fractions)
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0, *lengths])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
