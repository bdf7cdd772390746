"""Truncated backpropagation through time: :class:`TBPTTTrainer`.

For recurrent models called as ``model(x, state) -> (output, state)`` and trained on
consecutive windows of long sequences (e.g. a character language model on
:class:`~chainrule.models.charlm.StreamBatcher` batches): the final state of one batch is
the initial state of the next, detached so that gradients stop at the window's start,
and reset to None at the start of every epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..optim import clip_grad_norm_
from .callbacks import Logs
from .trainer import Trainer

__all__ = ["TBPTTTrainer"]


def _to_arrays(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.numpy().copy()
    return tuple(_to_arrays(s) for s in state)


def _to_tensors(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, list | tuple):
        return tuple(_to_tensors(s) for s in state)
    return Tensor(np.array(state, copy=True))


def _detach(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(_detach(s) for s in state)


class TBPTTTrainer(Trainer):
    """A :class:`Trainer` whose step carries the recurrent state across batches.

    Args:
        model: ``model(x, state) -> (output, state)``; ``state=None`` starts afresh.
        loss: ``loss(output, y) -> scalar Tensor`` (e.g. ``nn.CrossEntropyLoss()`` on
            logits (B, T, V) and targets (B, T)).
        optimizer: over the model's parameters.
        clip: if given, clip the gradients' global norm to it before each step.
        metrics, regularizer, constraints: as :class:`Trainer` (metrics see the outputs).

    Each :meth:`train_step` on ``(x, y)`` returns ``{"loss": value, "size": len(x)}``.
    """

    def __init__(self, model: Any, loss: Callable[[Any, Any], Tensor], optimizer: Any,
                 clip: float | None = None,
                 metrics: Iterable[str | Callable[..., float]] | str = (),
                 regularizer: Callable[[Any], Tensor] | None = None,
                 constraints: Iterable[Callable[[Any], None]] = ()) -> None:
        super().__init__(model, loss, optimizer, metrics, regularizer, constraints)
        self.clip = clip
        self.state: Any = None

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.state = None

    def state_dict(self) -> dict[str, Any]:
        """:meth:`Trainer.state_dict` plus the recurrent state carried to the next batch
        (``"hidden"``: None, or nested tuples of arrays)."""
        return {**super().state_dict(), "hidden": _to_arrays(self.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.state = _to_tensors(state.get("hidden"))

    def train_step(self, batch: Any) -> Logs:
        x, y = batch[0], batch[1]
        self.model.train()
        out, state = self.model(x, self.state)
        value = self._objective(out, y)
        self.optimizer.zero_grad()
        value.backward()
        if self.clip is not None:
            clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        for constraint in self.constraints:
            constraint(self.model)
        self.state = _detach(state)
        loss = float(value.item())
        if self.metrics:
            self.tracker.update(loss, out.numpy(), np.asarray(y))
        return {"loss": loss, "size": len(x)}
