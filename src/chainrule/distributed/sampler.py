"""Data sharding: each rank trains on its own, disjoint slice of every epoch.

Every rank draws the **same** permutation for a given ``(seed, epoch)`` and keeps every
``size``-th index starting at its rank (``perm[rank::size]``, as PyTorch's
``DistributedSampler``). Batch ``k`` of rank ``r`` therefore holds ``perm[k*B*size + r +
size*j]``, and the ranks' ``k``-th batches together are exactly ``perm[k*B*size :
(k+1)*B*size]``: the ``k``-th batch of a single-process run with batch ``B*size`` on the
same permutation. That is what makes ``size`` ranks with batch ``B`` equal one rank with
batch ``B*size`` (see docs/distributed.md).

When the dataset does not divide evenly, the permutation is padded by repeating its
first indices (every rank gets the same number of samples, so no rank waits in a
collective the others never reach) or, with ``drop_last``, its tail is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..data.dataset import fetch_batch
from ._mpi import rank as _rank
from ._mpi import size as _size

__all__ = ["DistributedLoader", "DistributedSampler", "shard"]


def _check_rank(rank: int | None, size: int | None) -> tuple[int, int]:
    size = _size() if size is None else int(size)
    rank = _rank() if rank is None else int(rank)
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"rank must be in [0, size) and size >= 1, got rank={rank}, "
                         f"size={size}")
    return rank, size


def shard(data: Any, rank: int | None = None, size: int | None = None) -> Any:
    """Rank ``rank``'s strided share ``data[rank::size]`` of an array (or a tuple of them,
    sharded alike); defaults to this process's rank and size."""
    rank, size = _check_rank(rank, size)
    if isinstance(data, tuple | list):
        return type(data)(shard(d, rank, size) for d in data)
    return data[rank::size]


class DistributedSampler:
    """The indices of one rank's share of each epoch.

    Args:
        num_samples: the dataset's length (or the dataset itself).
        rank, size: this process's rank and the number of ranks (default: from MPI).
        shuffle: a new permutation each epoch (the same on every rank).
        seed: the permutation of epoch ``e`` is drawn from ``default_rng([seed, e])``.
        drop_last: drop the tail that does not divide by ``size`` instead of padding.

    Call :meth:`set_epoch` before each epoch (as in PyTorch); ``len(sampler)`` is the
    number of indices per rank and epoch.
    """

    def __init__(self, num_samples: Any, rank: int | None = None, size: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        n = num_samples if isinstance(num_samples, int | np.integer) else len(num_samples)
        if n < 1:
            raise ValueError(f"DistributedSampler: need at least one sample, got {n}")
        self.num_samples = int(n)
        self.rank, self.size = _check_rank(rank, size)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        if drop_last and self.num_samples < self.size:
            raise ValueError(f"DistributedSampler: {self.num_samples} samples cannot be "
                             f"split over {self.size} ranks with drop_last")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s permutation next."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.size
        return -(-self.num_samples // self.size)

    def global_order(self, order: np.ndarray | None = None) -> np.ndarray:
        """The whole (padded or cut) permutation of this epoch, the same on every rank;
        ``order`` (a permutation of the samples) replaces the one drawn from the seed."""
        n = self.num_samples
        if order is None:
            order = (np.random.default_rng([self.seed, self.epoch]).permutation(n)
                     if self.shuffle else np.arange(n))
        elif len(order) != n:
            raise ValueError(f"DistributedSampler: order has {len(order)} entries, the "
                             f"dataset {n}")
        total = len(self) * self.size
        if total <= n:
            return order[:total]
        reps = -(-total // n)
        return np.tile(order, reps)[:total]

    def indices(self, order: np.ndarray | None = None) -> np.ndarray:
        """This rank's indices for the current epoch (of ``order`` when given)."""
        return self.global_order(order)[self.rank::self.size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())


class DistributedLoader:
    """Mini-batches of this rank's share of ``dataset``; a new epoch at each ``iter()``.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__`` returning tuples of arrays
            (e.g. :class:`~chainrule.data.ArrayDataset`).
        batch_size: samples per batch *on each rank* (the global batch is
            ``batch_size * size``).
        shuffle: a new permutation every epoch, drawn from ``seed`` (an int or a NumPy
            ``Generator``) exactly as :class:`~chainrule.data.DataLoader` draws it, so
            with one rank both loaders yield the same batches, and with ``size`` ranks the
            ranks' ``k``-th batches together are the ``k``-th batch of a DataLoader with
            ``batch_size * size``. Every rank must pass the same seed.
        drop_last, rank, size: as for :class:`DistributedSampler`.
        transform: optional function applied to each batch.

    ``len(loader)`` is the number of batches per epoch (the same on every rank).
    """

    def __init__(self, dataset: Any, batch_size: int = 32, shuffle: bool = True,
                 seed: int | np.random.Generator | None = 0, drop_last: bool = False,
                 rank: int | None = None, size: int | None = None,
                 transform: Callable[[Any], Any] | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) \
                or batch_size < 1:
            raise ValueError(f"DistributedLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if seed is None and shuffle:
            raise ValueError("DistributedLoader: shuffling needs a seed, the same on every "
                             "rank")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.sampler = DistributedSampler(len(dataset), rank, size, shuffle, 0, drop_last)
        self.transform = transform
        self._rng = np.random.default_rng(seed)
        self.epochs = 0  # epochs started

    @property
    def num_samples(self) -> int:
        """Number of samples in the whole dataset."""
        return self.sampler.num_samples

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.sampler.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = self.num_samples
        order = self._rng.permutation(n) if self.sampler.shuffle else np.arange(n)
        idx = self.sampler.indices(order)
        self.epochs += 1
        stop = len(idx) - len(idx) % self.batch_size if self.sampler.drop_last else len(idx)
        for start in range(0, stop, self.batch_size):
            batch = fetch_batch(self.dataset, idx[start:start + self.batch_size])
            yield batch if self.transform is None else self.transform(batch)

    def __repr__(self) -> str:
        s = self.sampler
        return (f"DistributedLoader({type(self.dataset).__name__} of {s.num_samples}, "
                f"batch_size={self.batch_size}, rank={s.rank}, size={s.size}, "
                f"shuffle={s.shuffle})")
