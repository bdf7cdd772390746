"""Resumable training: the :class:`Checkpoint` callback, ``fit(..., resume_from=...)``, and
a checkpoint written on SIGINT (Ctrl-C) / SIGTERM before ``fit`` stops.

Example (as Keras' ``BackupAndRestore`` or Lightning's ``ckpt_path``)::

    from chainrule.train import Checkpoint, Trainer

    ckpt = Checkpoint("runs/mlp", every_minutes=5)        # runs/mlp/checkpoint.npz
    trainer.fit(data, epochs=20, seed=0, callbacks=[ckpt])
    # ... interrupted (Ctrl-C, SIGTERM, a crash); later, with the same arguments:
    trainer.fit(data, epochs=20, seed=0, callbacks=[ckpt], resume_from="runs/mlp")

The resumed run ends bit-identical to an uninterrupted one: the file holds the model's
state (a GAN's includes its optimizers), the optimizer's, the library RNG
(:mod:`chainrule.random`), the data loader's shuffling RNG as of the start of the epoch,
the position (epoch, batch, global step), the history, the epoch's running loss and
metrics, :meth:`Trainer.state_dict` (a subclass's additions, e.g. the recurrent state of a
:class:`~chainrule.train.TBPTTTrainer`) and every callback's ``state_dict()`` (early
stopping, best weights, budgets, learning-rate schedules, the CSV log). It is an ordinary
model checkpoint too (``"model"``, ``"architecture"``, ``"optimizer"``), so
:func:`chainrule.load_model` reads its weights.

Data is resumed exactly when it is a :class:`~chainrule.data.DataLoader` (or ``(x, y)``
arrays or a Dataset, which ``fit`` wraps in one) or an iterable whose randomness comes
from a ``rng`` attribute (a ``numpy.random.Generator``, as
:class:`~chainrule.models.charlm.StreamBatcher`). A mid-epoch resume re-reads the epoch's
first batches and skips them.
"""

from __future__ import annotations

import copy
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import io
from ..errors import CheckpointError, DataFileNotFoundError, TrainingInterrupted
from ..random import get_rng
from .callbacks import Callback, Logs
from .history import History

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["Checkpoint", "checkpoint_path", "read_training_checkpoint"]

FILENAME = "checkpoint.npz"
FORMAT = "chainrule.train.Checkpoint"
VERSION = 1


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file: ``path`` itself, or ``path/checkpoint.npz`` for a directory."""
    path = Path(path)
    return path / FILENAME if path.is_dir() else path


# --------------------------------------------------------------------------- RNG states


def generator_of(loader: Any) -> np.random.Generator | None:
    """The NumPy Generator a data loader shuffles with (``_rng`` of a DataLoader, ``rng``
    of a StreamBatcher), or None."""
    for name in ("_rng", "rng"):
        gen = getattr(loader, name, None)
        if isinstance(gen, np.random.Generator):
            return gen
    return None


def rng_state(gen: np.random.Generator | None) -> dict[str, Any] | None:
    return None if gen is None else copy.deepcopy(gen.bit_generator.state)


def set_rng_state(gen: np.random.Generator | None, state: Mapping[str, Any] | None) -> None:
    if gen is not None and state is not None:
        gen.bit_generator.state = copy.deepcopy(dict(state))


def _all_finite(tree: Any) -> bool:
    if isinstance(tree, Mapping):
        return all(_all_finite(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return all(_all_finite(v) for v in tree)
    if isinstance(tree, float):
        return math.isfinite(tree)
    if hasattr(tree, "__array__"):
        array = np.asarray(tree)
        return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())
    return True


# --------------------------------------------------------------------------- the callback


def _callback_key(cb: Callback, seen: dict[str, int]) -> str:
    name = type(cb).__name__
    seen[name] = seen.get(name, 0) + 1
    return f"{name}:{seen[name] - 1}"


def _callback_states(callbacks: Iterable[Callback]) -> dict[str, Any]:
    seen: dict[str, int] = {}
    states = {}
    for cb in callbacks:
        key = _callback_key(cb, seen)
        state = cb.state_dict() if not _is_internal(cb) else {}
        if state:
            states[key] = state
    return states


def _is_internal(cb: Callback) -> bool:
    """The History (saved with the trainer) and the Checkpoints themselves."""
    return isinstance(cb, History | Checkpoint)


class Checkpoint(Callback):
    """Write everything needed to continue training to ``directory/checkpoint.npz``.

    Args:
        directory: where the file goes (created if needed).
        every_steps: also save every this many training steps (within long epochs).
        every_minutes: also save when this many minutes passed since the last save.
        keep_last_finite: never replace the file by a state with NaN/inf weights or a
            non-finite loss (the file keeps the last finite state; see
            :class:`~chainrule.train.TerminateOnNaN`).

    The file is written atomically at the end of every epoch, every ``every_steps`` steps
    / ``every_minutes`` minutes, and when ``fit`` is interrupted by SIGINT (Ctrl-C) or
    SIGTERM: the step under way completes, the checkpoint is written, and ``fit`` raises
    :class:`~chainrule.errors.TrainingInterrupted` (a ``KeyboardInterrupt``); a second
    signal stops at once. Continue with ``fit(..., resume_from=directory)`` and the same
    arguments. After ``fit``: ``saves`` (files written) and ``skipped`` (non-finite states
    not written).
    """

    def __init__(self, directory: str | os.PathLike[str], every_steps: int | None = None,
                 every_minutes: float | None = None, keep_last_finite: bool = True) -> None:
        if every_steps is not None and (isinstance(every_steps, bool)
                                        or int(every_steps) != every_steps or every_steps < 1):
            raise ValueError(f"Checkpoint: every_steps must be a positive integer, "
                             f"got {every_steps!r}")
        if every_minutes is not None and not every_minutes > 0:
            raise ValueError(f"Checkpoint: every_minutes must be > 0, got {every_minutes!r}")
        self.directory = Path(directory)
        self.path = self.directory / FILENAME
        self.every_steps = None if every_steps is None else int(every_steps)
        self.every_minutes = every_minutes
        self.keep_last_finite = keep_last_finite
        self.saves = 0
        self.skipped = 0
        self._saved_at: tuple[int, int, int] | None = None
        self._last = time.monotonic()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Make sure the directory can take the file before any training is done."""
        self._last = time.monotonic()
        self._saved_at = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise type(exc)(f"Checkpoint: cannot create the directory {self.directory}: "
                            f"{exc.strerror or exc}") from None
        if not os.access(self.directory, os.W_OK):
            raise PermissionError(f"Checkpoint: the directory {self.directory} is not "
                                  "writable")

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        step = self.trainer.global_step if self.trainer is not None else 0
        due = self.every_steps is not None and step % self.every_steps == 0
        if self.every_minutes is not None:
            due = due or time.monotonic() - self._last >= 60.0 * self.every_minutes
        if due:
            self.save()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.save()

    def save(self) -> bool:
        """Write the checkpoint now (if the state changed since the last write); False
        when the state is not finite and ``keep_last_finite`` kept the old file."""
        trainer = self.trainer
        if trainer is None:
            raise RuntimeError("Checkpoint is not attached to a Trainer")
        at = (trainer.global_step, *trainer._position)
        if at == self._saved_at:
            return True
        data = training_state(trainer)
        if self.keep_last_finite and not (_all_finite(data["model"])
                                          and _all_finite(dict(trainer.step_logs))):
            self.skipped += 1
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        io.save(data, self.path)
        self.saves += 1
        self._saved_at = at
        self._last = time.monotonic()
        return True


# --------------------------------------------------------------------------- save / restore


def training_state(trainer: Trainer) -> dict[str, Any]:
    """The checkpoint's content for ``trainer`` at its current position."""
    state = trainer.state_dict()
    data: dict[str, Any] = {"model": state.pop("model")}
    spec = io.architecture_of(trainer.model)
    if spec is not None:
        data["architecture"] = {"name": str(spec["name"]),
                                "arguments": dict(spec.get("arguments", {}))}
    optimizer = state.pop("optimizer", None)
    if optimizer is not None:
        data["optimizer"] = optimizer
    epoch, batch = trainer._position
    data["training"] = {
        "format": FORMAT, "version": VERSION, "trainer": state,
        "loop": {"epoch": epoch, "batch": batch, "stop_training": bool(trainer.stop_training),
                 "steps_per_epoch": trainer._steps_per_epoch,
                 "loader_rng": trainer._epoch_start.get("loader_rng"),
                 "epoch_lr": trainer._epoch_start.get("lr"),
                 "library_rng": rng_state(get_rng())},
        "callbacks": _callback_states(trainer.callbacks.callbacks),
    }
    return data


def read_training_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file written by :class:`Checkpoint` (``path`` may be its directory).

    Raises:
        DataFileNotFoundError: no such file.
        CheckpointError: not a chainrule checkpoint, or one without training state (a
            model saved by ``save_model``/``ModelCheckpoint`` cannot resume training).
    """
    file = checkpoint_path(path)
    if not file.exists():
        raise DataFileNotFoundError(f"{file}: no such file (nothing to resume from; "
                                       "a Checkpoint callback writes it)")
    data = io.read_checkpoint(file)
    training = data.get("training")
    if not isinstance(training, dict) or training.get("format") != FORMAT:
        raise CheckpointError(f"{file}: a model checkpoint without training state; only a "
                              "file written by chainrule.train.Checkpoint can resume training")
    if training.get("version") != VERSION:
        raise CheckpointError(f"{file}: training checkpoint version "
                              f"{training.get('version')!r}; this chainrule reads {VERSION}")
    data["path"] = str(file)
    return data


def restore(trainer: Trainer, data: Mapping[str, Any], loader: Any) -> None:
    """Put ``trainer`` (its model, optimizer, callbacks, position) and the RNGs back to the
    state saved in ``data`` (:func:`read_training_checkpoint`); called by ``fit`` after
    ``on_train_begin``. The library RNG is set when training continues (after skipping
    the batches already done in the epoch)."""
    training = data["training"]
    loop = training["loop"]
    epoch, batch = int(loop["epoch"]), int(loop["batch"])
    saved, now = loop.get("steps_per_epoch"), trainer._steps_per_epoch
    if saved is not None and now is not None and saved != now:
        raise CheckpointError(f"{data['path']}: the run had {saved} batches per epoch, this "
                              f"fit has {now}; resume with the same data and batch_size")
    if batch > 0:  # mid-epoch: this epoch's running means are restored below
        trainer.epoch = epoch
        trainer.start_epoch(epoch)
    state = {**training["trainer"], "model": data["model"]}
    if "optimizer" in data:
        state["optimizer"] = data["optimizer"]
    try:
        trainer.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{data['path']}: the saved training state does not fit this "
                              f"trainer: {' '.join(str(exc).split())}") from None
    trainer.stop_training = bool(loop["stop_training"])  # callbacks may lift it (Budget)
    _load_callbacks(trainer.callbacks.callbacks, training.get("callbacks", {}), data["path"])
    trainer._position = (epoch, batch)
    trainer._epoch_start = {"loader_rng": loop["loader_rng"], "lr": loop["epoch_lr"]}
    set_rng_state(generator_of(loader), loop["loader_rng"])
    trainer._pending_rng = loop["library_rng"]


def _load_callbacks(callbacks: Iterable[Callback], states: Mapping[str, Any], path: str) -> None:
    seen: dict[str, int] = {}
    used = set()
    for cb in callbacks:
        key = _callback_key(cb, seen)
        if key in states and not _is_internal(cb):
            cb.load_state_dict(states[key])
            used.add(key)
    unused = sorted(set(states) - used)
    if unused:
        warnings.warn(f"{path}: saved state of callback(s) {', '.join(unused)} not restored "
                      "(no such callback in this fit)", stacklevel=3)


def restore_library_rng(trainer: Trainer) -> None:
    """Set the library RNG saved in the checkpoint being resumed (once)."""
    state = trainer._pending_rng
    if state is not None:
        set_rng_state(get_rng(), state)
        trainer._pending_rng = None


# --------------------------------------------------------------------------- signals

_NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", getattr(signal, "SIGTERM", 15): "SIGTERM"}


class InterruptGuard:
    """While ``fit`` runs with a :class:`Checkpoint`: SIGINT and SIGTERM only set a flag,
    which ``fit`` checks after each step (:meth:`check`): it then writes the checkpoints and
    raises :class:`TrainingInterrupted`. A second signal raises at once. Handlers are
    installed only in the main thread, and the previous ones put back on exit."""

    def __init__(self, trainer: Trainer, checkpoints: list[Checkpoint]) -> None:
        self.trainer = trainer
        self.checkpoints = checkpoints
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptGuard:
        if not self.checkpoints or threading.current_thread() is not threading.main_thread():
            return self
        for sig in _NAMES:
            previous = signal.getsignal(sig)
            if previous in (signal.SIG_IGN, None):  # ignored, or not set from Python
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # the second signal: stop now
            raise TrainingInterrupted(self._message(signum, saved=False), signum=signum,
                                      checkpoint=self._existing())
        self.signum = signum
        try:
            print(f"\n{_NAMES.get(signum, signum)}: finishing the current step and saving a "
                  "checkpoint (send it again to stop at once)", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass

    def _existing(self) -> str | None:
        files = [str(cb.path) for cb in self.checkpoints if cb.path.is_file()]
        return files[0] if files else None

    def check(self) -> None:
        """At a point where the state is whole: save and raise if a signal came."""
        if self.signum is None:
            return
        saved = all([cb.save() for cb in self.checkpoints])
        raise TrainingInterrupted(self._message(self.signum, saved), signum=self.signum,
                                  checkpoint=self._existing())

    def _message(self, signum: int, saved: bool) -> str:
        epoch, batch = self.trainer._position
        where = f"epoch {epoch + 1}, after batch {batch}" if batch else f"end of epoch {epoch}"
        file = self._existing()
        if file is None:
            return f"training interrupted by {_NAMES.get(signum, signum)} ({where}); no checkpoint"
        what = "saved" if saved else "the last one is"
        return (f"training interrupted by {_NAMES.get(signum, signum)} ({where}); checkpoint "
                f"{what} in {file}; continue with fit(..., resume_from={file!r})")
