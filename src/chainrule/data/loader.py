"""DataLoader: lazy mini-batches over a dataset.

Nothing is copied per epoch except the index permutation: each batch is fetched with one
call to ``dataset.get_batch(indices)`` (one NumPy fancy-index for an
:class:`~chainrule.data.ArrayDataset`).

Determinism: the loader owns one :class:`numpy.random.Generator`, created once from
``seed``. Every epoch (every ``iter(loader)``) draws a *new* permutation from it, so
epochs differ from each other, yet two loaders built with the same seed produce the same
sequence of epochs. ``seed=None`` seeds from the operating system (not reproducible).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule.data.dataset import fetch_batch

__all__ = ["DataLoader"]


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(
            f"DataLoader: batch_size must be a positive int, got {batch_size!r} "
            f"({type(batch_size).__name__})"
        )
    if batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
    return int(batch_size)


def _check_dataset(dataset: Any) -> int:
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise ValueError(
            f"DataLoader: dataset must have __len__ and __getitem__, got {type(dataset).__name__}"
        )
    n = len(dataset)
    if n == 0:
        raise ValueError("DataLoader: the dataset is empty (length 0)")
    return n


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
        dataset: a :class:`~chainrule.data.Dataset` (or anything with ``__len__`` and
            ``__getitem__``) whose samples are tuples of arrays.
        batch_size: samples per batch ``B`` (a positive int).
        shuffle: draw a new random order every epoch.
        drop_last: skip the final batch when it has fewer than ``batch_size`` samples.
        seed: int (or a ``numpy.random.Generator``) for the shuffling; see the module
            docstring for the exact determinism guarantee.
        transform: optional batch-level function. It receives the whole batch, the
            tuple of arrays ``(x_batch, y_batch, ...)`` exactly as the dataset returned
            it, and whatever it returns is yielded instead.

    Yields:
        tuples of NumPy arrays with leading dimension ``B`` (the last batch may be
        shorter unless ``drop_last``), e.g. ``(x, y)`` with shapes ``(B, ...)`` and
        ``(B,)``.

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | np.random.Generator | None = None,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        _check_dataset(dataset)
        self.batch_size = _check_batch_size(batch_size)
        if transform is not None and not callable(transform):
            raise ValueError(f"DataLoader: transform must be callable, got {transform!r}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.transform = transform
        self._rng = np.random.default_rng(seed)

    @property
    def num_samples(self) -> int:
        """Number of samples in the dataset."""
        return len(self.dataset)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def _order(self) -> np.ndarray:
        n = self.num_samples
        if self.shuffle:
            return self._rng.permutation(n)
        return np.arange(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            batch = fetch_batch(self.dataset, order[start : start + self.batch_size])
            yield batch if self.transform is None else self.transform(batch)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {self.num_samples}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
