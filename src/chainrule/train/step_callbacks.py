"""Callbacks that count training steps rather than epochs: budgets, validation every N
steps, and keeping the best weights.

Example (a language model trained for 10 minutes or 5,000 steps, validated every 200 steps,
ending with the best weights; see :func:`chainrule.models.charlm.train_charlm`)::

    check = PeriodicEvaluation(200, lambda m: {"val_loss": evaluate(m, val_ids)})
    best = BestModel("val_loss", save=lambda m: save_model(m, "best.npz"))
    trainer.fit(batches, epochs=None, callbacks=[check, best, Budget(steps=5000, minutes=10)])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from .callbacks import Callback, Logs, _copy_state, _Monitor
from .metrics import RunningMean

__all__ = ["BestModel", "Budget", "PeriodicEvaluation", "TerminateOnNaN"]


class Budget(Callback):
    """Stop training after ``steps`` training steps or ``minutes`` of wall time (whichever
    comes first; at least one must be given). Checked after every step, so the step
    under way when time runs out completes. Lets ``fit(epochs=None)`` run until then.

    After ``fit``: ``steps_done`` and ``seconds``.
    """

    stops_training = True

    def __init__(self, steps: int | None = None, minutes: float | None = None) -> None:
        if steps is None and minutes is None:
            raise ValueError("Budget: give steps or minutes")
        if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 0):
            raise ValueError(f"Budget: steps must be an integer >= 0, got {steps!r}")
        if minutes is not None and not minutes >= 0:
            raise ValueError(f"Budget: minutes must be >= 0, got {minutes!r}")
        self.steps = None if steps is None else int(steps)
        self.minutes = minutes
        self.steps_done = 0
        self.seconds = 0.0

    def spent(self) -> bool:
        """Whether the budget is used up."""
        self.seconds = time.perf_counter() - self._start
        return ((self.steps is not None and self.steps_done >= self.steps)
                or (self.minutes is not None and self.seconds >= 60.0 * self.minutes))

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._start = time.perf_counter()
        self.steps_done = 0
        if self.trainer is not None and self.spent():
            self.trainer.stop_training = True

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.steps_done += 1
        if self.trainer is not None and self.spent():
            self.trainer.stop_training = True

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done,
                "seconds": time.perf_counter() - self._start,
                "spent": self.spent()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue counting: the steps and the time spent before the interruption count.
        A run this budget ended goes on when resumed with a larger one (the trainer's
        restored stop is lifted when the new budget is not used up)."""
        self.steps_done = int(state["steps_done"])
        self._start = time.perf_counter() - float(state["seconds"])
        trainer = self.trainer
        if (state.get("spent") and trainer is not None and trainer.stop_training
                and not self.spent()):
            trainer.stop_training = False


class PeriodicEvaluation(Callback):
    """Validate every ``every`` training steps, and once more at the end of training if
    steps ran since the last validation.

    ``evaluate(model) -> dict`` (e.g. ``{"val_loss": ...}``) does the measuring. Each
    validation makes a row ``{"step", "seconds", "train_loss", **results}`` —
    ``train_loss`` is the mean of the steps' ``loss`` since the previous row — appended
    to ``history`` (one list per key), passed to ``report(row)`` if given, and announced
    to the other callbacks with ``on_evaluate(row)`` (so :class:`BestModel` sees it).
    ``epoch`` is the epoch under way (0-based).
    """

    def __init__(self, every: int, evaluate: Callable[[Any], dict[str, float]],
                 report: Callable[[dict[str, float]], None] | None = None) -> None:
        if isinstance(every, bool) or int(every) != every or every < 1:
            raise ValueError(f"PeriodicEvaluation: every must be a positive integer, "
                             f"got {every!r}")
        self.every = int(every)
        self.evaluate = evaluate
        self.report = report
        self.history: dict[str, list[float]] = {}
        self.epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._start = time.perf_counter()
        self._train = RunningMean()
        self._steps = 0
        self.history = {}

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        step_logs = self.trainer.step_logs if self.trainer is not None else (logs or {})
        self._train.update({"loss": step_logs["loss"]})
        self._steps += 1
        if self._steps % self.every == 0:
            self._validate()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._train.count:
            self._validate()

    def _validate(self) -> None:
        results = self.evaluate(self.model)
        row = {"step": float(self._steps), "seconds": time.perf_counter() - self._start,
               "train_loss": self._train.result().get("loss", float("nan")),
               **{k: float(v) for k, v in results.items()}}
        self._train.reset()
        for key, value in row.items():
            self.history.setdefault(key, []).append(value)
        if self.report is not None:
            self.report(row)
        if self.trainer is not None:
            self.trainer.callbacks.on_evaluate(row)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self._steps, "seconds": time.perf_counter() - self._start,
                "train": self._train.state_dict(), "epoch": self.epoch,
                "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._steps, self.epoch = int(state["steps"]), int(state["epoch"])
        self._start = time.perf_counter() - float(state["seconds"])
        self._train.load_state_dict(state["train"])
        self.history = {k: list(v) for k, v in state["history"].items()}


class BestModel(Callback):
    """Keep the weights that scored best on ``monitor`` in any validation (the
    ``on_evaluate`` logs: each epoch's ``val_*`` with ``fit(val=...)``, or the rows of
    :class:`PeriodicEvaluation`), put them back at the end of training (``restore``),
    and call ``save(model)`` each time they improve (e.g. to write a checkpoint).

    After ``fit``: ``best`` (value) and ``best_state`` (a copy of the state dict).
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", restore: bool = True,
                 save: Callable[[Any], None] | None = None) -> None:
        self.tracker = _Monitor(monitor, mode)
        self.restore = restore
        self.save = save
        self.best_state: dict[str, Any] | None = None

    @property
    def best(self) -> float:
        return self.tracker.best

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.tracker.reset()
        self.best_state = None

    def on_evaluate(self, logs: Logs | None = None) -> None:
        value = self.tracker.value(logs, "BestModel")
        if not self.tracker.improved(value):
            return
        self.tracker.best = value
        self.best_state = _copy_state(self.model)
        if self.save is not None:
            self.save(self.model)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore and self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.best_state = state["best"], state["best_state"]



class TerminateOnNaN(Callback):
    """Stop training as soon as a step's loss is NaN or infinite (Keras' name).

    Every value of the step's logs (``trainer.step_logs``) whose key contains ``"loss"``
    is checked after each step (``loss``; a GAN's ``d_loss`` and ``g_loss``). On a
    non-finite one training stops after that step, and with ``raise_error`` (the default)
    :meth:`Trainer.fit` then raises :class:`~chainrule.errors.TrainingDiverged`, saying
    where it happened and what to try, so a diverged run cannot pass for a finished one.

    ``fit(terminate_on_nan=True)`` (the default) adds one when ``callbacks`` has none.
    The model in memory holds the weights of the failed step (usually NaN); a
    :class:`~chainrule.train.Checkpoint` never saves non-finite weights, so its file keeps
    the last finite state. After ``fit``: ``stopped`` is None, or ``{"epoch", "batch",
    "step", "key", "value"}`` (epoch and batch 0-based, step 1-based).
    """

    def __init__(self, raise_error: bool = True) -> None:
        self.raise_error = raise_error
        self.stopped: dict[str, Any] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.stopped = None

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        trainer = self.trainer
        if trainer is None or self.stopped is not None:
            return
        for key, value in trainer.step_logs.items():
            if "loss" not in key:
                continue
            try:
                finite = math.isfinite(float(value))
            except (TypeError, ValueError):
                continue
            if not finite:
                self.stopped = {"epoch": trainer.epoch,
                                "batch": batch, "step": trainer.global_step, "key": key,
                                "value": float(value)}
                trainer.stop_training = True
                return

    def message(self, checkpoint: str | None = None) -> str:
        """What happened and what to try (for :class:`~chainrule.errors.TrainingDiverged`)."""
        s = self.stopped or {}
        where = (f"epoch {s.get('epoch', 0) + 1}, batch {s.get('batch', 0) + 1} "
                 f"(step {s.get('step', 0)})")
        kept = (f"; the last finite state is saved in {checkpoint}" if checkpoint
                else "; the model's weights are now probably NaN")
        return (f"training diverged: {s.get('key', 'loss')} is {s.get('value')} at {where}"
                f"{kept}. Try a lower learning rate (--lr), check the data for NaN or "
                "infinite values, or clip the gradients (e.g. clip_grad_norm_); "
                "fit(terminate_on_nan=False) trains on regardless")
