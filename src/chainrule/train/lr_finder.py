"""The learning-rate range test as a Trainer callback: :class:`LRFinder`.

It runs the same sweep as :func:`chainrule.optim.find_lr` (the shared
:class:`~chainrule.optim.lr_finder.LRSweep`) but through :meth:`Trainer.fit`, so any
training step works — the supervised default, a subclass's, or a model's own::

    result = trainer.find_lr((x, y), start_lr=1e-6, end_lr=1.0, num_steps=100)
    result.suggested_lr
"""

from __future__ import annotations

from typing import Any

from ..optim.lr_finder import LRFinderResult, LRSweep, Snapshot, set_lr
from .callbacks import Callback, Logs

__all__ = ["LRFinder"]


class LRFinder(Callback):
    """Grow the learning rate exponentially from ``start_lr`` to ``end_lr`` over
    ``num_steps`` training steps, record the (smoothed) loss of each step's batch (its
    ``"loss"`` in ``trainer.step_logs``), stop when it diverges or after ``num_steps``,
    then restore the model and the optimizer exactly. Arguments as
    :func:`chainrule.optim.find_lr`; ``result`` is the :class:`LRFinderResult`.
    Use with ``fit(epochs=None)`` (the data is cycled) or :meth:`Trainer.find_lr`.
    """

    stops_training = True

    def __init__(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100,
                 smooth: float = 0.98, diverge_threshold: float = 4.0,
                 suggestion: str = "valley") -> None:
        self._args = (start_lr, end_lr, num_steps, smooth, diverge_threshold, suggestion)
        self.sweep = LRSweep(*self._args)  # checks the arguments now
        self.result: LRFinderResult = self.sweep.result

    def _optimizer(self) -> Any:
        optimizer = getattr(self.trainer, "optimizer", None)
        if optimizer is None:
            raise TypeError("LRFinder needs the Trainer's optimizer (Trainer(optimizer=...))")
        return optimizer

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.sweep = LRSweep(*self._args)
        self.result = self.sweep.result
        self._snapshot = Snapshot(self.model, self._optimizer())
        self._step = 0

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._lr = self.sweep.lr(self._step)
        set_lr(self._optimizer(), self._lr)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._step += 1
        assert self.trainer is not None
        if not self.sweep.record(self._lr, float(self.trainer.step_logs["loss"])):
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._snapshot.restore()
        self.result = self.sweep.finish()
