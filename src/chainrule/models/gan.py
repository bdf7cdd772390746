"""Generative adversarial networks (Goodfellow et al. 2014), dense and DCGAN-style, optionally
conditioned on a class label, and :class:`GAN`, the alternating training loop.

Quick start (after Géron, *Hands-On Machine Learning*, ch. 17, and Radford et al. 2015)::

    from chainrule.data import load_mnist
    from chainrule.models import GAN, dcgan_discriminator, dcgan_generator
    from chainrule.train import SampleGrid

    (x, y), _ = load_mnist()
    x = x * 2 - 1                          # the generator ends in tanh: data in [-1, 1]
    gan = GAN(dcgan_generator(100), dcgan_discriminator())
    gan.fit(x, epochs=5, batch_size=32, seed=0,
            callbacks=[SampleGrid("runs/gan/epoch-{epoch:02d}.png")])
    images = gan.sample(16)                # (16, 1, 28, 28) in [-1, 1]

Conditional GAN (Mirza & Osindero 2014): build both networks with ``num_classes=10`` and
pass labels: ``gan.fit(x, y)``, ``gan.sample(16, labels=3)``. The generator sees
``concat(z, one_hot(label))``; a dense discriminator sees ``concat(flatten(x),
one_hot(label))``, a convolutional one gets the one-hot label as ``num_classes`` extra
constant input channels.

Shapes: a :class:`Generator` maps ``z`` (N, latent_size) [+ labels (N,)] to samples (N,
*sample_shape); a :class:`Discriminator` maps samples (N, ...) [+ labels (N,)] to one logit
per sample, shape (N,) (``sigmoid(logit)`` is the probability "real").

One :meth:`GAN.train_step` on a batch of N real samples:

1. **discriminator step**: N fakes ``G(z)`` are generated without a graph (detached);
   the discriminator sees the 2N real + fake samples and takes one optimizer step on the
   binary cross-entropy with targets ``1 - label_smoothing`` (real) and 0 (fake);
2. **generator step**: the discriminator is frozen (``requires_grad_(False)``, restored
   afterwards even on errors), N new fakes are generated and the generator takes one step
   on the non-saturating loss ``BCE(D(G(z)), 1) = -log D(G(z))``: gradients flow *through*
   the discriminator into the generator, but the discriminator's weights get none.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, nn
from ..autograd import no_grad, ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from ..nn import functional as F
from ..nn.module import evaluating
from ..random import get_rng
from .gan_networks import (
    Discriminator,
    Generator,
    LabelsLike,
    ShapeLike,
    _classes,
    _positive,
    check_labels,
    dcgan_discriminator,
    dcgan_generator,
    dense_discriminator,
    dense_generator,
)
from .registry import register_model

__all__ = [
    "GAN",
    "Discriminator",
    "Generator",
    "check_labels",
    "dcgan",
    "dcgan_discriminator",
    "dcgan_generator",
    "dense_discriminator",
    "dense_gan",
    "dense_generator",
    "frozen",
]


# --------------------------------------------------------------------------- training


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """``with frozen(d):`` — ``d.requires_grad_(False)`` inside the block; every parameter's
    own ``requires_grad`` flag is restored afterwards, also when the block raises."""
    saved = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in saved:
            p.requires_grad = flag


def _bce(logits: Tensor, target: float | np.ndarray) -> Tensor:
    y = np.broadcast_to(np.asarray(target, dtype=logits.dtype), logits.shape)
    return F.binary_cross_entropy_with_logits(logits, Tensor(np.ascontiguousarray(y)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


#: A per-epoch callback of :meth:`GAN.fit`: ``callback(epoch, gan, logs)``, epoch from 0.
EpochCallback = Callable[[int, "GAN", dict[str, float]], Any]


class GAN:
    """A generator and a discriminator trained against each other.

    Args:
        generator: maps ``z`` (N, latent_size) [and labels (N,)] to samples, e.g. from
            :func:`dense_generator` or :func:`dcgan_generator`.
        discriminator: maps samples [and labels] to N logits.
        latent_size: size of ``z``; defaults to ``generator.latent_size``.
        num_classes: 0 for an unconditional GAN, else the number of classes both networks
            are conditioned on; defaults to ``generator.num_classes`` (and must match the
            discriminator's).
        g_optimizer, d_optimizer: default ``Adam(lr=2e-4, betas=(0.5, 0.999))`` each
            (Radford et al. 2015).
        label_smoothing: s in [0, 1): the discriminator's target for real samples is
            ``1 - s`` (one-sided smoothing, Salimans et al. 2016); fakes keep 0 and the
            generator's target stays 1.

    Latent vectors are standard normal, drawn from ``chainrule.random.get_rng()`` (so
    ``manual_seed`` or ``fit(seed=...)`` make runs repeatable). ``history`` holds the
    :class:`~chainrule.train.History` of the last :meth:`fit` (None before).

    The GAN defines its own :meth:`train_step`, so the library's one training loop runs
    it: ``Trainer(gan).fit(...)``, or :func:`chainrule.train.fit_gan`, which :meth:`fit`
    calls.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 latent_size: int | None = None, num_classes: int | None = None,
                 g_optimizer: Any = None, d_optimizer: Any = None,
                 label_smoothing: float = 0.0) -> None:
        from ..optim import Adam

        if latent_size is None:
            latent_size = getattr(generator, "latent_size", None)
            if latent_size is None:
                raise ValueError("GAN: pass latent_size (the generator has no latent_size)")
        self.latent_size = _positive("GAN", "latent_size", latent_size)
        if num_classes is None:
            num_classes = getattr(generator, "num_classes", 0)
        self.num_classes = _classes("GAN", num_classes)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"GAN: {name} must be a chainrule Module, got "
                                f"{type(net).__name__}")
            own = getattr(net, "num_classes", None)
            if own is not None and own != self.num_classes:
                raise ValueError(f"GAN: the {name} has num_classes={own} but the GAN has "
                                 f"num_classes={self.num_classes}; condition both networks "
                                 "on the same classes")
        own_latent = getattr(generator, "latent_size", None)
        if own_latent is not None and own_latent != self.latent_size:
            raise ValueError(f"GAN: latent_size={self.latent_size} but the generator takes "
                             f"latent_size={own_latent}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"GAN: label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.generator, self.discriminator = generator, discriminator
        self.label_smoothing = float(label_smoothing)
        if g_optimizer is None:
            g_optimizer = Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        if d_optimizer is None:
            d_optimizer = Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        params = generator.parameters()
        self.dtype = params[0].dtype if params else get_default_dtype()
        self.stop_training = False
        self.history: Any = None  # the History of the last fit

    # ----------------------------------------------------------------- helpers
    def _labels(self, labels: LabelsLike, n: int) -> np.ndarray | None:
        return check_labels(labels, self.num_classes, n, "GAN")

    def _latent(self, n: int, z: Any = None, rng: np.random.Generator | None = None
                ) -> np.ndarray:
        if z is None:
            return (rng or get_rng()).standard_normal((n, self.latent_size)).astype(self.dtype)
        z = np.asarray(z.data if isinstance(z, Tensor) else z, dtype=self.dtype)
        if z.shape != (n, self.latent_size):
            raise ValueError(f"GAN: z must have shape ({n}, {self.latent_size}), got {z.shape}")
        return z

    def _g(self, z: Any, labels: np.ndarray | None) -> Tensor:
        z = Tensor(z) if not isinstance(z, Tensor) else z
        return self.generator(z) if labels is None else self.generator(z, labels)

    def _d(self, x: Any, labels: np.ndarray | None) -> Tensor:
        x = Tensor(x) if not isinstance(x, Tensor) else x
        out = self.discriminator(x) if labels is None else self.discriminator(x, labels)
        if out.size != x.shape[0]:
            raise ShapeError(f"GAN: the discriminator must output one logit per sample, got "
                             f"shape {out.shape} for {x.shape[0]} samples")
        return ops.reshape(out, (x.shape[0],))

    def _real(self, real: Any) -> np.ndarray:
        arr = np.asarray(real.data if isinstance(real, Tensor) else real)
        if arr.ndim < 1 or len(arr) == 0:
            raise ValueError(f"GAN: real samples must be a non-empty batch (N, ...), got shape "
                             f"{arr.shape}")
        return arr.astype(self.dtype, copy=False)

    # ----------------------------------------------------------------- training steps
    def discriminator_step(self, real: Any, labels: LabelsLike = None,
                           z: Any = None) -> dict[str, float]:
        """One discriminator update on N real samples and N detached fakes ``G(z)``.

        ``z`` (N, latent_size) is drawn when not given; a conditional GAN's fakes get the
        real batch's labels. Returns ``d_loss`` (mean BCE over the 2N samples),
        ``d_acc_real``/``d_acc_fake`` (fraction classified correctly at logit 0) and
        ``d_real``/``d_fake`` (mean probability "real" the discriminator gave each half).
        """
        real = self._real(real)
        n = len(real)
        y = self._labels(labels, n)
        z = self._latent(n, z)
        self.generator.train()
        self.discriminator.train()
        with no_grad():
            fake = self._g(z, y).data
        if real.size != fake.size:
            raise ShapeError(f"GAN: real samples of shape {real.shape} do not match the "
                             f"generated ones, {fake.shape}")
        x = np.concatenate([real.reshape(fake.shape), fake.astype(self.dtype, copy=False)])
        y2 = None if y is None else np.concatenate([y, y])
        target = np.concatenate([np.full(n, 1.0 - self.label_smoothing), np.zeros(n)])
        self.d_optimizer.zero_grad()
        self.discriminator.zero_grad()
        logits = self._d(x, y2)
        loss = _bce(logits, target)
        loss.backward()
        self.d_optimizer.step()
        out = logits.data
        return {"d_loss": float(loss.item()),
                "d_acc_real": float(np.mean(out[:n] > 0)),
                "d_acc_fake": float(np.mean(out[n:] < 0)),
                "d_real": float(np.mean(_sigmoid(out[:n]))),
                "d_fake": float(np.mean(_sigmoid(out[n:])))}

    def generator_step(self, n: int, labels: LabelsLike = None,
                       z: Any = None) -> dict[str, float]:
        """One generator update on N fakes with the discriminator frozen.

        The loss is the non-saturating ``BCE(D(G(z)), 1)`` (Goodfellow et al. 2014, sec.
        3). The discriminator stays in training mode (dropout on) but its parameters do
        not require grad during the step, so they get no gradient while the gradient flows
        through it into the generator. Returns ``{"g_loss": ...}``.
        """
        n = _positive("GAN.generator_step", "n", n)
        y = self._labels(labels, n)
        z = self._latent(n, z)
        self.generator.train()
        self.discriminator.train()
        self.g_optimizer.zero_grad()
        self.generator.zero_grad()
        with frozen(self.discriminator):
            logits = self._d(self._g(z, y), y)
            loss = _bce(logits, 1.0)
            loss.backward()
        self.g_optimizer.step()
        return {"g_loss": float(loss.item())}

    def train_step(self, real: Any, labels: LabelsLike = None) -> dict[str, float]:
        """One discriminator step then one generator step on a batch of N real samples
        (N, ...) [with labels (N,)]. Returns ``d_loss``, ``g_loss``, ``d_acc_real``,
        ``d_acc_fake``, ``d_real`` and ``d_fake`` (see :meth:`discriminator_step`)."""
        logs = self.discriminator_step(real, labels)
        n = len(np.asarray(real.data if isinstance(real, Tensor) else real))
        logs.update(self.generator_step(n, labels))
        return {k: logs[k] for k in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_real",
                                     "d_fake")}

    def fit(self, x: Any, labels: LabelsLike = None, epochs: int = 1, batch_size: int = 32,
            seed: int | None = None, callbacks: Iterable[Any] = (),
            verbose: bool = True, shuffle: bool = True, resume_from: Any = None,
            terminate_on_nan: bool = True) -> Any:
        """Train for ``epochs`` passes over real samples ``x`` (N, ...) [labels (N,)] with
        the library's Trainer: :func:`chainrule.train.fit_gan` (see there for batching,
        seeding and callbacks — Trainer callbacks such as
        :class:`~chainrule.train.SampleGrid` or :class:`~chainrule.train.Checkpoint`, or
        functions ``callback(epoch, gan, logs)``; ``gan.stop_training = True`` ends
        training after that epoch; ``resume_from`` continues a run from its Checkpoint;
        a non-finite loss stops training with ``TrainingDiverged`` unless
        ``terminate_on_nan=False``).

        Returns the :class:`~chainrule.train.History` (``history["g_loss"]``: one value
        per epoch).
        """
        from ..train.adversarial import fit_gan  # the loop lives in the train layer

        return fit_gan(self, x, labels, epochs=epochs, batch_size=batch_size, seed=seed,
                       callbacks=callbacks, verbose=verbose, shuffle=shuffle,
                       resume_from=resume_from, terminate_on_nan=terminate_on_nan)

    def _check_range(self, data: np.ndarray) -> None:
        bounds = getattr(self.generator, "output_range", None)
        if bounds is None or data.size == 0:
            return
        lo, hi = float(data.min()), float(data.max())
        slack = 1e-3 * (bounds[1] - bounds[0])
        if lo < bounds[0] - slack or hi > bounds[1] + slack:
            warnings.warn(f"GAN.fit: the real data lies in [{lo:g}, {hi:g}] but the "
                          f"generator's outputs lie in [{bounds[0]:g}, {bounds[1]:g}]; scale the "
                          "data (e.g. x * 2 - 1 for pixels in [0, 1] and a tanh output)",
                          stacklevel=4)

    # ----------------------------------------------------------------- sampling
    def sample(self, n: int, labels: LabelsLike = None, seed: int | None = None,
               z: Any = None, batch_size: int = 256) -> np.ndarray:
        """n generated samples (n, *sample_shape), e.g. in [-1, 1] for a tanh generator.

        ``labels`` (an int for all, or (n,) ints) are required for a conditional GAN.
        ``z`` (n, latent_size) fixes the latent vectors; else they are drawn from
        ``np.random.default_rng(seed)``, or the library RNG when ``seed`` is None.

        The generator runs in evaluation mode without a graph: BatchNorm layers use their
        running statistics (updated during training from the generator's own train-mode
        batches, so they match what the discriminator saw), and a sample does not depend
        on the other samples of its batch. Modes are restored afterwards.
        """
        n = _positive("GAN.sample", "n", n)
        z = self._latent(n, z, None if seed is None else np.random.default_rng(seed))
        return self.generate(z, labels, batch_size)

    def generate(self, z: Any, labels: LabelsLike = None, batch_size: int = 256) -> np.ndarray:
        """Samples (n, *sample_shape) for given latent vectors z (n, latent_size), in
        evaluation mode without a graph (as :meth:`sample`); e.g. to walk the latent space."""
        z = np.asarray(z.data if isinstance(z, Tensor) else z)
        if z.ndim != 2:
            raise ValueError(f"GAN.generate: z must have shape (n, {self.latent_size}), got "
                             f"{z.shape}")
        n = _positive("GAN.generate", "n", len(z))
        batch_size = _positive("GAN.generate", "batch_size", batch_size)
        y = self._labels(labels, n)
        z = self._latent(n, z)
        outs = []
        with evaluating(self.generator):
            for i in range(0, n, batch_size):
                part = None if y is None else y[i:i + batch_size]
                outs.append(self._g(z[i:i + batch_size], part).data.copy())
        return np.concatenate(outs)

    def discriminate(self, x: Any, labels: LabelsLike = None) -> np.ndarray:
        """The discriminator's probability "real" for samples x (N, ...), shape (N,),
        in evaluation mode without a graph."""
        data = self._real(x)
        y = self._labels(labels, len(data))
        with evaluating(self.discriminator):
            return _sigmoid(self._d(data, y).data.astype(np.float64))

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """``{"generator": ..., "discriminator": ..., "g_optimizer": ..., "d_optimizer":
        ...}``: copies of both networks' parameters and buffers and both optimizers'
        states (savable with :func:`chainrule.io.save`)."""
        return {"generator": {k: v.copy() for k, v in self.generator.state_dict().items()},
                "discriminator": {k: v.copy()
                                  for k, v in self.discriminator.state_dict().items()},
                "g_optimizer": self.g_optimizer.state_dict(),
                "d_optimizer": self.d_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; the optimizer entries are optional."""
        for key in ("generator", "discriminator"):
            if key not in state:
                raise ValueError(f"GAN.load_state_dict: the state has no {key!r} entry "
                                 f"(keys: {sorted(state)})")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if "g_optimizer" in state:
            self.g_optimizer.load_state_dict(state["g_optimizer"])
        if "d_optimizer" in state:
            self.d_optimizer.load_state_dict(state["d_optimizer"])

    def save(self, path: str | Path, **extra: Any) -> None:
        """Write :meth:`state_dict` (plus plain ``extra`` values, e.g. ``epoch=3``) to an
        ``.npz`` file with :func:`chainrule.io.save` (atomic, no pickle)."""
        io.save({**self.state_dict(), **extra}, path)

    def load(self, path: str | Path) -> dict[str, Any]:
        """Load a file written by :meth:`save`; returns everything read from it."""
        data = io.load(path)
        self.load_state_dict(data)
        return data


# --------------------------------------------------------------------------- registered


@register_model("gan", kind="gan")
def dense_gan(latent_size: int = 30, image_shape: ShapeLike = (1, 28, 28),
              num_classes: int = 0, label_smoothing: float = 0.0) -> GAN:
    """A :class:`GAN` of :func:`dense_generator` and :func:`dense_discriminator` with their
    default layers (``chainrule train --model gan``)."""
    return GAN(dense_generator(latent_size, image_shape, num_classes=num_classes),
               dense_discriminator(image_shape, num_classes=num_classes),
               latent_size=latent_size, num_classes=num_classes,
               label_smoothing=label_smoothing)


@register_model("dcgan", kind="gan")
def dcgan(latent_size: int = 100, image_shape: ShapeLike = (1, 28, 28), num_classes: int = 0,
          label_smoothing: float = 0.0) -> GAN:
    """A :class:`GAN` of :func:`dcgan_generator` and :func:`dcgan_discriminator` with their
    default layers (``chainrule train --model dcgan``)."""
    return GAN(dcgan_generator(latent_size, image_shape, num_classes=num_classes),
               dcgan_discriminator(image_shape, num_classes=num_classes),
               latent_size=latent_size, num_classes=num_classes,
               label_smoothing=label_smoothing)


def __getattr__(name: str) -> Any:
    if name == "SampleGrid":  # moved to the train layer (it is a Trainer callback)
        warnings.warn("chainrule.models.gan.SampleGrid has moved to chainrule.train.SampleGrid",
                      DeprecationWarning, stacklevel=2)
        from ..train.sample_grid import SampleGrid

        return SampleGrid
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
