"""Callbacks: code that runs at fixed points of :meth:`Trainer.fit`, as in Keras.

Hooks (all optional; ``logs`` is a dict of floats):

* ``on_train_begin(logs)`` / ``on_train_end(logs)``
* ``on_epoch_begin(epoch, logs)`` / ``on_epoch_end(epoch, logs)``: ``epoch`` counts from 0;
  the end-of-epoch logs hold ``loss``, the metrics, ``val_loss``, ``val_<metric>``, ``lr``
  and ``time`` (seconds).
* ``on_batch_begin(batch, logs)`` / ``on_batch_end(batch, logs)``: the batch logs hold the
  running ``loss`` and metrics of the epoch so far, and ``size`` (samples in the batch);
  the values of that one step are ``self.trainer.step_logs``.
* ``on_evaluate(logs)``: after each validation — at the end of an epoch with ``val`` data
  (the epoch's logs), or from :class:`~chainrule.train.PeriodicEvaluation`.

A callback reaches the trainer as ``self.trainer`` (so ``self.trainer.model``,
``self.trainer.optimizer``); setting ``self.trainer.stop_training = True`` ends ``fit``
after the current batch.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import io

if TYPE_CHECKING:
    from ..nn import Module
    from .trainer import Trainer

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "load_checkpoint",
    "save_checkpoint",
]

Logs = dict[str, float]


class Callback:
    """Base class: override the hooks you need (every hook does nothing by default)."""

    trainer: Trainer | None = None

    def set_trainer(self, trainer: Trainer) -> None:
        """Called by ``fit`` before training begins."""
        self.trainer = trainer

    @property
    def model(self) -> Module:
        """The model being trained."""
        if self.trainer is None:
            raise RuntimeError(f"{type(self).__name__} is not attached to a Trainer")
        return self.trainer.model

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch (or after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After epoch ``epoch``, with its training and validation results."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before training batch ``batch`` (0-based within the epoch)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After training batch ``batch``, with the epoch's running loss and metrics."""

    def on_evaluate(self, logs: Logs | None = None) -> None:
        """After a validation, with its results (``val_loss``, ...)."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember across an interrupted run (saved by
        :class:`~chainrule.train.Checkpoint`; empty for a callback without state). Plain
        data: numbers, strings, lists, dicts, arrays."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (called after ``on_train_begin`` when
        ``fit(resume_from=...)`` continues a run)."""


class CallbackList:
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks: Iterable[Callback], trainer: Trainer) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got "
                                f"{type(cb).__name__}")
            cb.set_trainer(trainer)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_end", batch, logs)

    def on_evaluate(self, logs: Logs | None = None) -> None:
        self._call("on_evaluate", logs)


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., None]) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


# --------------------------------------------------------------------------- monitoring


def _resolve_mode(mode: str, monitor: str) -> str:
    """'min' or 'max'; 'auto' means max for accuracy-like names, else min."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = abs(min_delta)
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1

    def value(self, logs: Mapping[str, float] | None, who: str) -> float:
        if not logs or self.monitor not in logs:
            have = ", ".join(sorted(logs or {})) or "nothing"
            hint = " (pass val= to fit)" if self.monitor.startswith("val_") else ""
            raise ValueError(f"{who}: monitored quantity {self.monitor!r} is not in the logs"
                             f"{hint}; available: {have}")
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


def _copy_state(model: Module) -> dict[str, Any]:
    """A deep copy of the model's state dict (``state_dict()`` returns live arrays; a
    GAN's is nested: both networks and both optimizers)."""
    return _deep_copy(model.state_dict())


def _deep_copy(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {k: _deep_copy(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_deep_copy(v) for v in tree)
    if isinstance(tree, np.generic) or not hasattr(tree, "__array__"):
        return tree
    return np.array(tree, copy=True)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement to wait before stopping.
        min_delta: an improvement must exceed this.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like names).
        restore_best: at the end of training, put back the weights (and buffers) of the
            best epoch.

    After ``fit``: ``best`` (value), ``best_epoch`` and ``stopped_epoch`` (0-based; -1 if
    training ran to the end).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best = restore_best

    @property
    def best(self) -> float:
        return self.tracker.best

    @property
    def best_epoch(self) -> int:
        return self.tracker.best_epoch

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.tracker.reset()
        self.wait = 0
        self.stopped_epoch = -1
        self.best_state: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self.tracker.value(logs, "EarlyStopping")
        if self.tracker.improved(value):
            self.tracker.best, self.tracker.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = _copy_state(self.model)
            return
        self.wait += 1
        if self.wait >= self.patience and self.trainer is not None:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best, "best_epoch": self.tracker.best_epoch,
                "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.tracker.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best_state = state["best_state"]


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | os.PathLike[str], model: Module, optimizer: Any = None,
                    **extra: Any) -> None:
    """Write ``{"model": state, "optimizer": state, **extra}`` with :func:`chainrule.io.save`
    (the one checkpoint layout, :func:`chainrule.io.write_checkpoint`; a model built by
    :func:`chainrule.models.create_model` also gets its ``"architecture"``, so
    :func:`chainrule.load_model` can rebuild it).

    The write is atomic. ``extra`` may hold plain values (ints, strings, lists, dicts of
    arrays...), e.g. ``epoch=3``.
    """
    io.write_checkpoint(path, model, optimizer, **extra)


def load_checkpoint(path: str | os.PathLike[str], model: Module,
                    optimizer: Any = None) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Returns everything read from the file (``"model"``, ``"optimizer"`` and the extras).
    Raises :class:`~chainrule.errors.CheckpointError` (naming the file) for a file that is
    not a checkpoint or whose weights do not fit ``model``.
    """
    data = io.read_checkpoint(path)
    io.load_weights(path, model, data["model"])
    if optimizer is not None and "optimizer" in data:
        optimizer.load_state_dict(data["optimizer"])
    return data


class ModelCheckpoint(Callback):
    """Save the model (and optimizer) state at the end of epochs.

    Args:
        path: file to write (``.npz``); may contain ``{epoch}`` (1-based) and log keys,
            e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
        monitor: quantity that decides which epoch is best.
        save_best_only: write only when ``monitor`` improves (else every epoch).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_optimizer: include ``optimizer.state_dict()`` so training can resume.

    The file holds ``{"model": ..., "optimizer": ..., "epoch": int, "logs": {...}}``; read
    it back with :func:`load_checkpoint`.
    """

    def __init__(self, path: str | os.PathLike[str], monitor: str = "val_loss",
                 save_best_only: bool = True, mode: str = "auto",
                 save_optimizer: bool = True) -> None:
        self.path = os.fspath(path)
        self.tracker = _Monitor(monitor, mode)
        self.save_best_only = save_best_only
        self.save_optimizer = save_optimizer
        self.saved: list[str] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.tracker.reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = dict(logs or {})
        if self.save_best_only:
            value = self.tracker.value(logs, "ModelCheckpoint")
            if not self.tracker.improved(value):
                return
            self.tracker.best, self.tracker.best_epoch = value, epoch
        path = self.path.format(epoch=epoch + 1, **logs)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        trainer = self.trainer
        optimizer = trainer.optimizer if (trainer is not None and self.save_optimizer) else None
        save_checkpoint(path, self.model, optimizer, epoch=epoch,
                        logs={k: float(v) for k, v in logs.items()})
        self.saved.append(path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best, "best_epoch": self.tracker.best_epoch,
                "saved": list(self.saved)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.tracker.best_epoch = state["best"], state["best_epoch"]
        self.saved = list(state["saved"])


# --------------------------------------------------------------------------- learning rate


def _set_lr(optimizer: Any, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


def _positional_arity(fn: Callable[..., Any], required_only: bool = False) -> int:
    """How many positional arguments ``fn`` takes (2 for ``fn(epoch, lr)``); with
    ``required_only``, only those without a default."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 0 if required_only else 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not required_only and any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in kinds
               and not (required_only and p.default is not inspect.Parameter.empty))


class LearningRateScheduler(Callback):
    """Change the learning rate during training.

    ``schedule`` is either

    * a function ``epoch -> lr`` (or ``(epoch, lr) -> lr``, as in Keras), called at the
      start of each epoch (0-based) and written into every parameter group, or
    * a chainrule schedule object (``chainrule.optim.schedules``) attached to the
      optimizer: its ``step()`` is called after every epoch, or after every batch with
      ``per_batch=True``. A schedule whose ``step`` takes a value (reduce-on-plateau)
      gets ``logs[monitor]``.

    The learning rate in force during each epoch is logged as ``lr``.
    """

    def __init__(self, schedule: Any, per_batch: bool = False,
                 monitor: str = "val_loss") -> None:
        self.is_object = callable(getattr(schedule, "step", None))
        if not self.is_object and not callable(schedule):
            raise TypeError("LearningRateScheduler: schedule must be a function epoch -> lr "
                            f"or a schedule object with step(), got {type(schedule).__name__}")
        if per_batch and not self.is_object:
            raise ValueError("LearningRateScheduler: per_batch=True needs a schedule object "
                             "with step(); a function is called once per epoch")
        self.schedule = schedule
        self.per_batch = per_batch
        self.monitor = monitor
        self.takes_value = self.is_object and _positional_arity(schedule.step, True) >= 1

    def _optimizer(self) -> Any:
        if self.trainer is None:
            raise RuntimeError("LearningRateScheduler is not attached to a Trainer")
        return self.trainer.optimizer

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.is_object:
            return
        optimizer = self._optimizer()
        if _positional_arity(self.schedule) >= 2:
            lr = self.schedule(epoch, optimizer.param_groups[0]["lr"])
        else:
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule gave lr={lr} at epoch "
                             f"{epoch}; it must be a finite number >= 0")
        _set_lr(optimizer, lr)

    def _step(self, logs: Logs | None) -> None:
        if self.takes_value:
            self.schedule.step(_Monitor(self.monitor, "min").value(logs, "LearningRateScheduler"))
        else:
            self.schedule.step()

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.is_object and self.per_batch:
            self._step(logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.is_object and not self.per_batch:
            self._step(logs)

    def state_dict(self) -> dict[str, Any]:
        """The schedule object's position (a function keeps no state: the lr it set is in
        the optimizer's state)."""
        return {"schedule": self.schedule.state_dict()} if self.is_object else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.is_object and "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
