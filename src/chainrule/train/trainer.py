"""Trainer: ``fit`` / ``evaluate`` / ``predict`` for a model, a loss and an optimizer.

Quick start::

    from chainrule import nn, optim
    from chainrule.train import Trainer, EarlyStopping

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3))
    history = trainer.fit((x_train, y_train), val=(x_val, y_val), epochs=20, seed=0,
                          callbacks=[EarlyStopping(patience=3)])
    print(trainer.evaluate((x_test, y_test)))     # {"loss": ..., "accuracy": ...}

One training step (:meth:`Trainer.train_step`) is: ``model.train()``; zero the gradients;
forward; loss (+ the optional regularizer); ``backward()``; ``optimizer.step()``; apply the
constraints. Learning-rate schedules are callbacks (:class:`LearningRateScheduler`).

Other kinds of training reuse the same loop (seeding, shuffling, callbacks, history,
progress) in one of two ways, as in Keras' ``Model.train_step``:

* a model with its own ``train_step(*batch) -> dict`` (a GAN's alternating discriminator
  and generator steps) is trained by ``Trainer(model).fit(...)``: the Trainer calls it and
  averages the values it returns over each epoch;
* a subclass overrides :meth:`Trainer.train_step` (and :meth:`Trainer.start_epoch` for
  state kept across the batches of an epoch; see :class:`~chainrule.train.TBPTTTrainer`).

Data (``train``, ``val``, ``evaluate``'s ``data``) may be an ``(x, y)`` tuple of arrays, a
:class:`~chainrule.data.Dataset` whose samples are ``(x, y)``, a
:class:`~chainrule.data.DataLoader` yielding ``(x, y)`` batches, or (for ``train``) any
object that yields one epoch of batches each time it is iterated.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor, get_default_dtype
from ..data import ArrayDataset, DataLoader, Dataset
from ..errors import TrainingDiverged
from ..nn.module import evaluating
from ..random import get_rng, manual_seed
from ._data_parallel import data_parallel_new
from .callbacks import Callback, CallbackList, Logs
from .checkpoint import (
    Checkpoint,
    InterruptGuard,
    generator_of,
    read_training_checkpoint,
    restore,
    restore_library_rng,
    rng_state,
)
from .compiled import compiled_step
from .history import History
from .metrics import Metric, MetricTracker, RunningMean, get_metric
from .progress import ProgressBar
from .step_callbacks import TerminateOnNaN

__all__ = ["Trainer"]

DataLike = Any  # (x, y) tuple | Dataset | DataLoader
LossFn = Callable[[Any, Any], Tensor]


_END = object()  # the end of an epoch's batches
_NO_BATCHES = ("fit: the training data yielded no batches (empty data, or fewer samples than "
               "batch_size with drop_last; an iterable must yield the batches again each "
               "time it is iterated, which a generator does not)")


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _loader_seed(seed: int | None, stream: int) -> np.random.Generator:
    """An independent generator for data shuffling, derived from ``seed``.

    With ``seed=None`` the seed is drawn from the library RNG, so a
    ``chainrule.random.manual_seed`` earlier in the program also fixes the shuffling.
    """
    base = int(get_rng().integers(2**63)) if seed is None else int(seed)
    return np.random.default_rng(np.random.SeedSequence([base, stream]))


def _shuffle_rng(shuffle: bool, seed: int | None, stream: int) -> np.random.Generator | None:
    """The loader's generator; none needed (and the library RNG untouched) without shuffle."""
    return _loader_seed(seed, stream) if shuffle else None


def make_loader(data: DataLike, batch_size: int, shuffle: bool = False,
                seed: int | None = None, stream: int = 0, drop_last: bool = False) -> Any:
    """A :class:`DataLoader` over ``data`` (an ``(x, y)`` tuple, a Dataset or a DataLoader).

    A DataLoader is returned as it is when ``seed`` is None; with a ``seed`` a copy with
    the same settings and a generator derived from ``seed`` is made, so the run repeats.
    Any other iterable (no ``__getitem__``) is taken to yield one epoch of batches each
    time it is iterated, and is returned as it is.
    """
    if isinstance(data, DataLoader):
        if seed is None:
            return data
        return DataLoader(data.dataset, data.batch_size, data.shuffle, data.drop_last,
                          seed=_shuffle_rng(data.shuffle, seed, stream),
                          transform=data.transform)
    if isinstance(data, tuple | list):
        if len(data) not in (1, 2):  # (x,): for a model with its own train_step
            raise ValueError(f"data given as a tuple must be (x, y), got {len(data)} items")
        data = ArrayDataset(*data)
    elif not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        if hasattr(data, "__iter__") and not isinstance(data, str | bytes | np.ndarray):
            return data
        raise TypeError("data must be an (x, y) tuple of arrays, a Dataset or a DataLoader, "
                        f"got {type(data).__name__}")
    return DataLoader(data, batch_size, shuffle=shuffle, drop_last=drop_last,
                      seed=_shuffle_rng(shuffle, seed, stream))


def _split_batch(batch: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(batch, tuple | list) or len(batch) < 2:
        raise ValueError("each batch must be a tuple (x, y) (or (x, y, ...)); the data has no "
                         "targets")
    return batch[0], batch[1]


def _first(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple | list) else batch


def _input_batches(x: Any, batch_size: int) -> Iterator[Any]:
    """Input batches from an array (or array-like), a Dataset or a DataLoader."""
    if isinstance(x, DataLoader):
        return (_first(b) for b in x)
    if isinstance(x, Dataset) or (hasattr(x, "get_batch") and hasattr(x, "__len__")):
        return (_first(b) for b in DataLoader(x, batch_size))
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError("predict: x must have a sample axis, got a 0-d array")
    return (arr[i:i + batch_size] for i in range(0, len(arr), batch_size))


def _as_numpy(out: Any) -> np.ndarray:
    return out.data if isinstance(out, Tensor) else np.asarray(out)


class Trainer:
    """Trains ``model`` to minimise ``loss`` with ``optimizer``.

    Args:
        model: a :class:`~chainrule.nn.Module` (any callable ``x -> Tensor`` with
            ``train()``/``eval()``/``modules()``/``parameters()``), or an object with its
            own ``train_step(*batch) -> dict`` (e.g. a GAN), which then needs no ``loss``
            or ``optimizer`` here.
        loss: ``loss(pred, target) -> scalar Tensor``, the mean over the batch (e.g.
            ``nn.CrossEntropyLoss()``).
        optimizer: a ``chainrule.optim`` optimizer over the model's parameters.
        metrics: names (``"accuracy"``, ``"mae"``, ``"rmse"``, ...) or functions
            ``(pred, target) -> float`` on NumPy arrays; see :mod:`chainrule.train.metrics`.
        regularizer: optional ``regularizer(model) -> scalar Tensor`` added to the loss
            (e.g. ``lambda m: nn.l2_penalty(m, 1e-4)``). It is part of the logged ``loss``
            and ``val_loss``, as in Keras.
        constraints: functions ``constraint(model)`` applied after every optimizer step
            (e.g. ``lambda m: nn.max_norm_(m, 3.0)``).
        compile: run the supervised step as one compiled graph (forward, loss and
            gradients traced once per batch shape, :mod:`chainrule.graph`); a model that
            cannot be traced trains eagerly after one warning. Evaluation stays eager.
        distributed: data-parallel over MPI: builds a ``chainrule.distributed.
            DistributedTrainer`` (import ``chainrule.distributed`` first; issue 18).

    ``stop_training`` can be set by a callback to end :meth:`fit` early; ``history``
    holds the :class:`History` of the last ``fit``; ``global_step`` counts the training
    steps of the last ``fit`` and ``step_logs`` holds what the last step returned.
    """

    def __init__(self, model: Any, loss: LossFn | None = None, optimizer: Any = None,
                 metrics: Sequence[str | Callable[..., float]] | str = ("accuracy",),
                 regularizer: Callable[[Any], Tensor] | None = None,
                 constraints: Iterable[Callable[[Any], None]] = (),
                 compile: bool = False,  # noqa: A002 (tf.function's / torch's word)
                 distributed: bool = False) -> None:
        if loss is not None and not callable(loss):
            raise TypeError(f"loss must be callable (pred, target) -> Tensor, got {loss!r}")
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        names = [metrics] if isinstance(metrics, str) else list(metrics or ())
        self.metrics: list[Metric] = [get_metric(m) for m in names]
        self.regularizer = regularizer
        self.constraints = list(constraints)
        self.compile = bool(compile)
        self._compiled: Any = None  # the compiled step (train/compiled.py), made on first use
        self.stop_training = False
        self.history = History()
        self.tracker = MetricTracker(self.metrics)
        self.running = RunningMean()
        self.global_step = 0
        self.epoch = 0
        self.step_logs: Logs = {}
        self.callbacks = CallbackList([], self)
        self._position = (0, 0)  # (epoch, batches done in it): where training continues
        self._epoch_start: dict[str, Any] = {"loader_rng": None, "lr": None}
        self._pending_rng: Any = None  # a resumed library RNG state, set when training goes on
        self._steps_per_epoch: int | None = None
        self._guard: InterruptGuard | None = None
        self._prepare()

    __new__ = data_parallel_new(__init__)  # Trainer(..., distributed=True): issue 18

    # ----------------------------------------------------------------- one step
    def _prepare(self) -> None:
        """Note the model's float dtype (inputs are cast to it)."""
        params = self.model.parameters() if hasattr(self.model, "parameters") else []
        self._dtype = params[0].dtype if params else get_default_dtype()

    def _input(self, x: np.ndarray) -> Tensor:
        """The batch as a Tensor; float data is cast to the model's float dtype."""
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(self._dtype, copy=False)
        return Tensor(x)

    def _target(self, y: Any) -> np.ndarray:
        """The batch's targets as an array; float targets in the model's float dtype."""
        y = np.asarray(y)
        return y.astype(self._dtype) if y.dtype.kind == "f" and y.dtype != self._dtype else y

    def _objective(self, out: Tensor, y: np.ndarray) -> Tensor:
        if self.loss is None:
            raise TypeError(f"Trainer: no loss given, and {type(self.model).__name__} has no "
                            "train_step of its own; pass loss= (and optimizer=)")
        y = np.asarray(y)
        if y.dtype.kind == "f" and y.dtype != out.dtype:
            y = y.astype(out.dtype)
        value = self.loss(out, y)
        if self.regularizer is not None:
            value = value + self.regularizer(self.model)
        return value

    def start_epoch(self, epoch: int) -> None:
        """Called before the first batch of every epoch: forgets the running loss and
        metrics. Override it (calling ``super()``) to reset other per-epoch state."""
        self.tracker.reset()
        self.running.reset()

    def train_step(self, batch: Any) -> Logs:
        """One optimisation step on ``batch`` (as the data yields it, e.g. ``(x, y)``);
        returns this step's values, e.g. ``{"loss": 0.41, "size": 32}``.

        When the model has its own ``train_step``, it is called with the batch's arrays
        (``model.train_step(*batch)``) and its dict returned. Otherwise the supervised step:
        forward, loss, backward, optimizer step, constraints; the loss and the metrics of
        the epoch are tracked exactly in ``self.tracker``. Override to train differently:
        return a dict of floats (``"size"``, if given, weights the epoch means).
        """
        own = getattr(self.model, "train_step", None)
        if callable(own):
            return own(*batch) if isinstance(batch, tuple | list) else own(batch)
        x, y = _split_batch(batch)
        self.model.train()
        if self.optimizer is None:
            raise TypeError("Trainer: no optimizer given; pass optimizer=")
        y = self._target(y)
        done = compiled_step(self, x, y) if self.compile and self.loss is not None else None
        if done is None:
            self.optimizer.zero_grad()
            self.model.zero_grad()
            out = self.model(self._input(x))
            value = self._objective(out, y)
            value.backward()
            self.optimizer.step()
        else:
            value, out = done
        for constraint in self.constraints:
            constraint(self.model)
        loss, pred = float(value.item()), _as_numpy(out)
        self.tracker.update(loss, pred, np.asarray(y))
        return {"loss": loss, "size": len(pred)}

    def results(self) -> Logs:
        """The epoch's results so far: the (size-weighted) means of what ``train_step``
        returned, with the loss and metrics of the supervised step tracked exactly
        (``self.tracker``) in place of their means."""
        means = self.running.result()
        return {**means, **self.tracker.result()} if self.tracker.samples else means

    def test_step(self, batch: Any, tracker: MetricTracker) -> None:
        """Add one evaluation batch ``(x, y)`` to ``tracker`` (evaluation mode, no graph)."""
        x, y = _split_batch(batch)
        out = self.model(self._input(x))
        tracker.update(float(self._objective(out, y).item()), _as_numpy(out), np.asarray(y))

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything the trainer itself holds during a run, as plain data: ``"model"``
        (the model's ``state_dict()``; a GAN's includes its optimizers), ``"optimizer"``,
        ``"global_step"``, ``"history"`` and the epoch's running ``"tracker"`` and
        ``"running"`` means. A subclass with more state extends it (calling ``super()``),
        e.g. :class:`~chainrule.train.TBPTTTrainer` adds its recurrent ``"hidden"`` state.
        :class:`~chainrule.train.Checkpoint` saves it with the loop's position."""
        state: dict[str, Any] = {"model": self.model.state_dict(),
                                 "global_step": self.global_step,
                                 "history": self.history.state_dict(),
                                 "tracker": self.tracker.state_dict(),
                                 "running": self.running.state_dict()}
        if self.optimizer is not None and hasattr(self.optimizer, "state_dict"):
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (the optimizer's only when both have one)."""
        self.model.load_state_dict(state["model"])
        if state.get("optimizer") is not None and self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.global_step = int(state["global_step"])
        self.history.load_state_dict(state["history"])
        self.tracker.load_state_dict(state["tracker"])
        self.running.load_state_dict(state["running"])

    # ----------------------------------------------------------------- fit
    def fit(self, train: DataLike, val: DataLike | None = None, epochs: int | None = 1,
            batch_size: int = 32, callbacks: Iterable[Callback] = (), seed: int | None = None,
            shuffle: bool = True, verbose: bool = True,
            resume_from: str | os.PathLike[str] | None = None,
            terminate_on_nan: bool = True) -> History:
        """Train for ``epochs`` passes over ``train``; return the :class:`History`.

        Args:
            train: ``(x, y)`` arrays, a Dataset or a DataLoader (whose own batch size and
                shuffling are then used), or an iterable yielding one epoch of batches
                each time it is iterated.
            val: optional validation data, evaluated after every epoch (``val_*`` keys).
            epochs: number of passes; ``None`` runs until a callback stops training
                (e.g. :class:`~chainrule.train.Budget`).
            batch_size: samples per batch (for tuples and Datasets).
            callbacks: :class:`Callback` objects (EarlyStopping, Checkpoint, ...).
            seed: makes the run repeatable: seeds the library RNG (dropout, ...) with
                ``chainrule.random.manual_seed(seed)`` and the shuffling. Weights
                initialised *before* ``fit`` are not affected: seed before building the
                model too.
            shuffle: reshuffle the training data every epoch.
            verbose: show progress (a tqdm bar on a terminal, else a line updated within
                the epoch and one line per epoch).
            resume_from: a file (or directory) written by :class:`~chainrule.train.Checkpoint`:
                continue that run from the step it saved, with the same other arguments;
                the result is bit-identical to an uninterrupted run.
            terminate_on_nan: stop at the first NaN/infinite loss and raise
                :class:`~chainrule.errors.TrainingDiverged` (adds a
                :class:`~chainrule.train.TerminateOnNaN` unless ``callbacks`` has one).

        Raises:
            ValueError: the training data yields no batches.
            TrainingDiverged: a loss became NaN or infinite (with ``terminate_on_nan``).
            TrainingInterrupted: SIGINT/SIGTERM while a Checkpoint callback was present
                (a ``KeyboardInterrupt``; the checkpoint was written first).
        """
        callbacks = list(callbacks)
        if epochs is None:
            if not any(getattr(cb, "stops_training", False) for cb in callbacks):
                raise ValueError("epochs=None trains until a callback stops it: pass a "
                                 "budget, e.g. callbacks=[Budget(steps=1000)]")
        else:
            epochs = _check_positive_int("epochs", epochs)
        batch_size = _check_positive_int("batch_size", batch_size)
        resume = None if resume_from is None else read_training_checkpoint(resume_from)
        if terminate_on_nan and not any(isinstance(cb, TerminateOnNaN) for cb in callbacks):
            callbacks.append(TerminateOnNaN())
        if seed is not None:
            manual_seed(seed)
        train_loader = make_loader(train, batch_size, shuffle, seed, stream=0)
        val_loader = None if val is None else make_loader(val, batch_size, False)
        self._prepare()
        self.history = History()
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        if steps == 0:
            raise ValueError(_NO_BATCHES)
        self._steps_per_epoch = steps
        saving = [cb for cb in callbacks if isinstance(cb, Checkpoint)]
        extra: list[Callback] = [ProgressBar(epochs, steps)] if verbose else []
        cbs = self.callbacks = CallbackList(  # Checkpoints last: they see every update
            [self.history, *(cb for cb in callbacks if cb not in saving), *extra, *saving],
            self)
        self.stop_training = False
        self.global_step = 0
        self._position, self._pending_rng = (0, 0), None
        cbs.on_train_begin()
        if resume is not None:
            restore(self, resume, train_loader)
        logs: Logs = {}
        guard = self._guard = InterruptGuard(self, saving)
        try:
            with guard:  # an epoch under way is finished even when stopping (a resumed one)
                while ((epochs is None or self._position[0] < epochs)
                       and (not self.stop_training or self._position[1] > 0)):
                    logs = self._run_epoch(train_loader, val_loader, cbs)
        finally:
            self._guard = None
        cbs.on_train_end(logs)
        for cb in callbacks:
            if isinstance(cb, TerminateOnNaN) and cb.stopped and cb.raise_error:
                kept = [str(c.path) for c in saving if c.path.is_file()]
                raise TrainingDiverged(cb.message(kept[0] if kept else None), **cb.stopped,
                                       checkpoint=kept[0] if kept else None)
        return self.history

    def _run_epoch(self, loader: Iterable[Any], val_loader: DataLoader | None,
                   cbs: CallbackList) -> Logs:
        """One epoch from ``self._position`` (epoch, batches already done): a resumed
        epoch skips the batches done and does not repeat ``on_epoch_begin``."""
        epoch, done = self._position
        self.epoch = epoch
        start = time.perf_counter()
        if done == 0:
            restore_library_rng(self)
            self._epoch_start = {"loader_rng": rng_state(generator_of(loader)), "lr": None}
            self.start_epoch(epoch)
            cbs.on_epoch_begin(epoch)
            self._epoch_start["lr"] = self._current_lr()
        lr = self._epoch_start["lr"]
        batches = iter(loader)
        for _ in range(done):
            if next(batches, _END) is _END:
                break
        restore_library_rng(self)
        i = done
        while not self.stop_training:
            batch = next(batches, _END)
            if batch is _END:
                break
            cbs.on_batch_begin(i)
            self.step_logs = dict(self.train_step(batch))
            self.global_step += 1
            self.running.update(self.step_logs)
            size = self.step_logs.get("size")
            i += 1
            self._position = (epoch, i)
            cbs.on_batch_end(i - 1, {**self.results(), **({} if size is None else {"size": size})})
            self._interrupt_point()
        if i == 0:
            raise ValueError(_NO_BATCHES)
        logs = self.results()
        if val_loader is not None:
            logs.update(self._evaluate_loader(val_loader, prefix="val_"))
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = time.perf_counter() - start
        self._position = (epoch + 1, 0)
        self._epoch_start = {"loader_rng": rng_state(generator_of(loader)), "lr": None}
        if val_loader is not None:
            cbs.on_evaluate(logs)
        cbs.on_epoch_end(epoch, logs)
        self._interrupt_point()
        return logs

    def _interrupt_point(self) -> None:
        """The state is whole here: a pending SIGINT/SIGTERM saves and stops now."""
        if self._guard is not None:
            self._guard.check()

    def _current_lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else None

    def find_lr(self, train: DataLike, batch_size: int = 32, seed: int | None = None,
                **sweep: Any) -> Any:
        """The learning-rate range test with this trainer's step (see
        :class:`~chainrule.train.LRFinder`, which takes ``start_lr``, ``end_lr``,
        ``num_steps``, ``smooth``, ``diverge_threshold`` and ``suggestion``); the model
        and the optimizer are restored afterwards. Returns the
        :class:`~chainrule.optim.LRFinderResult`."""
        from .lr_finder import LRFinder

        finder = LRFinder(**sweep)
        history = self.history
        self.fit(train, epochs=None, batch_size=batch_size, seed=seed, verbose=False,
                 callbacks=[finder], terminate_on_nan=False)
        self.history = history
        return finder.result

    # ----------------------------------------------------------------- evaluate / predict
    def _evaluate_loader(self, loader: DataLoader, prefix: str = "") -> dict[str, float]:
        tracker = MetricTracker(self.metrics, prefix)
        with evaluating(self.model):
            for batch in loader:
                self.test_step(batch, tracker)
        return tracker.result()

    def evaluate(self, data: DataLike, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics over ``data``, in evaluation mode without recording a graph.

        Batch results are weighted by batch size (metrics accumulate sums and counts), so
        the answer does not depend on ``batch_size``. Returns ``{"loss": ..., name: ...}``.
        """
        batch_size = _check_positive_int("batch_size", batch_size)
        loader = make_loader(data, batch_size, shuffle=False)
        self._prepare()
        return self._evaluate_loader(loader)

    def predict(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """Model outputs for inputs ``x`` (an array of shape (N, ...), or a Dataset or
        DataLoader whose batches start with the inputs), in evaluation mode, batched.

        Returns the outputs stacked into one array of shape (N, ...).
        """
        batches = _input_batches(x, _check_positive_int("batch_size", batch_size))
        outs = []
        self._prepare()
        with evaluating(self.model):
            for xb in batches:
                outs.append(_as_numpy(self.model(self._input(xb))).copy())
        if not outs:
            raise ValueError("predict: no inputs (x is empty)")
        return np.concatenate(outs, axis=0)
