"""DistributedTrainer: the library's :class:`~chainrule.train.Trainer`, data-parallel.

``DistributedTrainer(model, loss, optimizer, ...)`` is ``Trainer(..., distributed=True)``
of issue 18, written as a subclass so that the single-process trainer is untouched. It

* wraps the optimizer in :class:`DistributedOptimizer` (gradients averaged over the ranks
  before every step) and broadcasts rank 0's parameters and optimizer state;
* in :meth:`fit`, gives each rank its shard of every epoch (:class:`DistributedLoader`
  with the *per-rank* ``batch_size``; the permutation is the one a single-process
  ``fit(seed=...)`` would draw, so ``P`` ranks with batch ``B`` train as one process with
  batch ``P*B``);
* averages the step's logs and the epoch's results over the ranks (every batch), so every
  rank prints, stops early and diverges on the same numbers at the same step (a rank that
  stopped alone would leave the others waiting in the next all-reduce);
* runs the callbacks that write files (``Checkpoint``, ``ModelCheckpoint``, ``CSVLogger``,
  ``SampleGrid``) and the progress display on the primary rank only.

Validation data are evaluated whole on every rank (the same numbers everywhere, no
communication). Resuming: every rank passes the same ``resume_from`` (the primary's
checkpoint on a shared disk); the run continues bit-identically, its weights and its
logs: the epoch's running metrics are each rank's own (its shard's predictions), so every
step gathers them, the primary's checkpoint holds all of them and each rank resumes its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np

from ..data.dataset import ArrayDataset
from ..data.loader import DataLoader
from ..train._data_parallel import register
from ..train.callbacks import Callback, ModelCheckpoint
from ..train.checkpoint import Checkpoint
from ..train.csv_logger import CSVLogger
from ..train.history import History
from ..train.sample_grid import SampleGrid
from ..train.trainer import Trainer, _shuffle_rng
from ._mpi import init, is_primary, rank
from .broadcast import broadcast_optimizer_state, broadcast_parameters
from .collectives import allgather_object, allreduce_mean, broadcast_object
from .optimizer import DistributedOptimizer
from .sampler import DistributedLoader

__all__ = ["PRIMARY_ONLY", "DistributedTrainer"]

#: Callbacks that write files or pictures: kept on the primary rank only.
PRIMARY_ONLY: tuple[type, ...] = (Checkpoint, ModelCheckpoint, CSVLogger, SampleGrid)


class DistributedTrainer(Trainer):
    """A :class:`~chainrule.train.Trainer` whose ``fit`` runs data-parallel over MPI.

    Takes the Trainer's arguments, plus ``compression`` (``None`` or ``"fp16"``) and
    ``overlap`` (reduce during the backward pass; see :class:`DistributedOptimizer`) and
    ``root`` (the rank whose initial weights all start from). With one process it trains
    exactly as ``Trainer`` does.
    """

    def __init__(self, model: Any, loss: Any = None, optimizer: Any = None, *args: Any,
                 compression: str | None = None, root: int = 0, overlap: bool = False,
                 **kwargs: Any) -> None:
        init()
        if optimizer is not None and not isinstance(optimizer, DistributedOptimizer):
            optimizer = DistributedOptimizer(optimizer, compression, overlap=overlap)
        super().__init__(model, loss, optimizer, *args, **kwargs)
        if hasattr(model, "named_parameters"):
            broadcast_parameters(model, root)
        if optimizer is not None:
            broadcast_optimizer_state(optimizer, root)

    def train_step(self, batch: Any) -> dict[str, Any]:
        """The Trainer's step; its logs (e.g. the loss) averaged over the ranks, so that
        callbacks that read ``step_logs`` (``TerminateOnNaN``, budgets) stop every rank at
        the same step -- a rank stopping alone would leave the others waiting in the next
        all-reduce."""
        logs = super().train_step(batch)
        gathered = allgather_object((logs, self.tracker.state_dict()))
        self._rank_trackers = [tracker for _, tracker in gathered]
        return _mean_logs(logs, [ranks_logs for ranks_logs, _ in gathered])

    def state_dict(self) -> dict[str, Any]:
        """The Trainer's state, plus every rank's running metrics of the epoch (as of the
        last step) so that each rank resumes its own."""
        state = super().state_dict()
        trackers = getattr(self, "_rank_trackers", None)
        if trackers is not None:
            state["rank_trackers"] = trackers
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The Trainer's ``load_state_dict``, with this rank's own running metrics when the
        checkpoint has them (one saved by as many ranks)."""
        trackers = state.get("rank_trackers")
        if trackers is not None and rank() < len(trackers):
            state = {**state, "tracker": trackers[rank()]}
        super().load_state_dict(state)

    def results(self) -> dict[str, Any]:
        """The epoch's results so far, averaged over the ranks (the same on every rank)."""
        return allreduce_mean(super().results())

    def _shard(self, data: Any, batch_size: int, shuffle: bool, seed: int | None) -> Any:
        if isinstance(data, DistributedLoader):
            return data
        if isinstance(data, DataLoader):
            data, batch_size, shuffle = data.dataset, data.batch_size, data.shuffle
        elif isinstance(data, tuple | list):
            data = ArrayDataset(*data)
        if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
            raise TypeError("DistributedTrainer.fit: train must be (x, y) arrays, a Dataset "
                            f"or a DataLoader to be sharded, got {type(data).__name__}")
        if shuffle and seed is None:  # every rank must draw the same permutations
            seed = broadcast_object(int(np.random.default_rng().integers(2**62)))
        return DistributedLoader(data, batch_size, shuffle=shuffle,
                                 seed=_shuffle_rng(shuffle, seed, 0), drop_last=False)

    def fit(self, train: Any, val: Any = None, epochs: int | None = 1, batch_size: int = 32,
            callbacks: Iterable[Callback] = (), seed: int | None = None, shuffle: bool = True,
            verbose: bool = True, **kwargs: Any) -> History:
        """``Trainer.fit`` on this rank's shard; ``batch_size`` is per rank (the global
        batch is ``batch_size * size()``). Other arguments as ``Trainer.fit``."""
        loader = self._shard(train, batch_size, shuffle, seed)
        primary = is_primary()
        kept = [cb for cb in callbacks if primary or not isinstance(cb, PRIMARY_ONLY)]
        return super().fit(loader, val, epochs, batch_size, kept, seed, shuffle,
                           verbose and primary, **kwargs)



register(DistributedTrainer)  # Trainer(..., distributed=True) builds one


def _mean_logs(own: dict[str, Any], every: list[dict[str, Any]]) -> dict[str, Any]:
    """``own`` with its numbers replaced by their mean over ``every`` rank's logs (the same
    sum, in rank order, on every rank)."""
    out = dict(own)
    for key, value in own.items():
        if isinstance(value, Real | np.number) and not isinstance(value, bool):
            out[key] = float(sum(float(logs[key]) for logs in every) / len(every))
    return out
