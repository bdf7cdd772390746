"""Training a GAN with the :class:`Trainer`: :func:`fit_gan`.

The GAN brings its own step (``gan.train_step(real, labels)``: one discriminator update,
then one generator update); the Trainer brings the loop — seeding, shuffling, callbacks,
history, progress. Any object with ``train_step`` and ``latent_size`` works (duck typing:
this module does not import :mod:`chainrule.models`)::

    from chainrule.models import GAN, dense_discriminator, dense_generator
    from chainrule.train import SampleGrid, fit_gan

    gan = GAN(dense_generator(), dense_discriminator())
    fit_gan(gan, x * 2 - 1, epochs=5, seed=0, callbacks=[SampleGrid("epoch-{epoch}.png")])
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable
from typing import Any

from ..data import ArrayDataset
from ..random import manual_seed
from .callbacks import Callback, Logs
from .history import History
from .trainer import Trainer, make_loader

__all__ = ["EpochFunction", "fit_gan"]


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"GAN.fit: {name} must be a positive integer, got {value!r}")
    return int(value)


class EpochFunction(Callback):
    """A function ``fn(epoch, model, logs)`` called after every epoch; setting
    ``model.stop_training = True`` inside it ends training after that epoch."""

    def __init__(self, fn: Callable[[int, Any, Logs], Any]) -> None:
        self.fn = fn

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.fn(epoch, self.model, logs or {})
        if getattr(self.model, "stop_training", False) and self.trainer is not None:
            self.trainer.stop_training = True


def fit_gan(gan: Any, x: Any, labels: Any = None, epochs: int = 1, batch_size: int = 32,
            seed: int | None = None, callbacks: Iterable[Any] = (), verbose: bool = True,
            shuffle: bool = True, resume_from: str | os.PathLike[str] | None = None,
            terminate_on_nan: bool = True) -> History:
    """Train ``gan`` for ``epochs`` passes over real samples ``x`` (N, ...) [labels (N,)].

    Batches are drawn in a fresh random order each epoch; a last incomplete batch is
    dropped (as Géron's ``drop_remainder=True``; it would make BatchNorm statistics noisy),
    and with fewer than ``batch_size`` samples the one batch holds them all. ``seed``
    seeds the library RNG (``manual_seed``: latent vectors, dropout) and the shuffling;
    build the networks after seeding to fix the initial weights too.

    ``callbacks`` are Trainer :class:`Callback` objects (e.g. :class:`SampleGrid`) or
    functions ``callback(epoch, gan, logs)`` (epoch from 0; logs: the epoch means of
    ``gan.train_step``'s values, plus ``time`` in seconds); setting
    ``gan.stop_training = True`` ends training after that epoch.

    ``resume_from`` and ``terminate_on_nan`` are as in :meth:`Trainer.fit`: with a
    :class:`~chainrule.train.Checkpoint` among the callbacks (it saves both networks and
    both optimizers), an interrupted run continues bit-identically; a NaN/infinite
    ``d_loss`` or ``g_loss`` raises :class:`~chainrule.errors.TrainingDiverged`.

    Returns the :class:`History` (``history["g_loss"]``: one value per epoch), also kept
    as ``gan.history``.
    """
    epochs = _positive("epochs", epochs)
    batch_size = _positive("batch_size", batch_size)
    data = gan._real(x)
    y = gan._labels(labels, len(data))
    gan._check_range(data)
    if seed is not None:
        manual_seed(seed)
    dataset = ArrayDataset(data) if y is None else ArrayDataset(data, y)
    loader = make_loader(dataset, min(batch_size, len(data)), shuffle, seed, stream=0,
                         drop_last=True)
    cbs = [cb if isinstance(cb, Callback) else EpochFunction(cb) for cb in callbacks]
    gan.stop_training = False
    trainer = Trainer(gan, metrics=())
    gan.history = trainer.fit(loader, epochs=epochs, callbacks=cbs, verbose=verbose,
                              resume_from=resume_from, terminate_on_nan=terminate_on_nan)
    return gan.history
