"""Generative adversarial networks (Goodfellow et al. 2014), dense and DCGAN-style, optionally
conditioned on a class label, and :class:`GAN`, the alternating training loop.

Quick start (after Géron, *Hands-On Machine Learning*, ch. 17, and Radford et al. 2015)::

    from chainrule.data import load_mnist
    from chainrule.models import GAN, SampleGrid, dcgan_discriminator, dcgan_generator

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
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, nn
from ..autograd import no_grad, ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from ..nn import functional as F
from ..nn.module import evaluating
from ..random import get_rng, manual_seed
from .classifiers import Reshape
from .classifiers import image_shape as _image_shape

__all__ = [
    "GAN",
    "Discriminator",
    "Generator",
    "SampleGrid",
    "dcgan_discriminator",
    "dcgan_generator",
    "dense_discriminator",
    "dense_generator",
    "frozen",
]

ShapeLike = int | Sequence[int]
LabelsLike = Any  # None | int | array-like of ints, shape (N,)


# --------------------------------------------------------------------------- checks


def _positive(who: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _classes(who: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{who}: num_classes must be an integer >= 0 (0 = unconditional), "
                         f"got {value!r}")
    return int(value)


def _sample_shape(who: str, shape: ShapeLike) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not dims or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0
                       for d in dims):
        raise ValueError(f"{who}: image_shape must be positive integers (without the batch "
                         f"axis), got {shape!r}")
    return tuple(int(d) for d in dims)


def _dropout(who: str, p: float) -> float:
    if not 0 <= p < 1:
        raise ValueError(f"{who}: dropout must be in [0, 1), got {p!r}")
    return float(p)


def check_labels(labels: LabelsLike, num_classes: int, n: int, who: str) -> np.ndarray | None:
    """Validated labels as int64 (n,), or None for an unconditional model.

    A single integer stands for the whole batch. Raises ValueError when labels are missing
    for a conditional model (``num_classes > 0``), given to an unconditional one, not
    integers of shape (n,), or outside ``[0, num_classes)``.
    """
    if num_classes == 0:
        if labels is not None:
            raise ValueError(f"{who} is unconditional (num_classes=0) but labels were given; "
                             "build the networks with num_classes=K to condition on labels")
        return None
    if labels is None:
        raise ValueError(f"{who} is conditional (num_classes={num_classes}): pass labels, "
                         f"integers in [0, {num_classes}) of shape ({n},)")
    arr = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{who}: labels must be integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{who}: labels must have shape ({n},) (one per sample), got "
                         f"{arr.shape}")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"{who}: labels must be in [0, {num_classes}), got values from "
                         f"{arr.min()} to {arr.max()}")
    return arr.astype(np.int64, copy=False)


def _one_hot(labels: np.ndarray, num_classes: int, dtype: Any) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "selu": nn.SELU, "elu": nn.ELU, "gelu": nn.GELU, "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
}
#: Output layers of a generator and the range of values they produce.
_OUTPUTS: dict[str, tuple[Callable[[], nn.Module] | None, tuple[float, float] | None]] = {
    "tanh": (nn.Tanh, (-1.0, 1.0)), "sigmoid": (nn.Sigmoid, (0.0, 1.0)), "linear": (None, None),
}


def _activation(who: str, name: str) -> Callable[[], nn.Module]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"{who}: unknown activation {name!r}; known: {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def _output(who: str, name: str) -> tuple[Callable[[], nn.Module] | None,
                                          tuple[float, float] | None]:
    if name not in _OUTPUTS:
        raise ValueError(f"{who}: unknown output {name!r}; known: {', '.join(_OUTPUTS)}")
    return _OUTPUTS[name]


# --------------------------------------------------------------------------- networks


class Generator(nn.Module):
    """z (N, latent_size) [+ labels (N,)] -> samples (N, *sample_shape).

    ``body`` maps (N, latent_size + num_classes) to N samples (any shape with
    ``prod(sample_shape)`` values each); a conditional generator (``num_classes > 0``)
    feeds it ``concat(z, one_hot(labels))``. ``output_range`` is the interval the outputs
    lie in (``(-1, 1)`` for tanh; None if unbounded): real data should be scaled to it.
    """

    def __init__(self, body: nn.Module, latent_size: int, sample_shape: ShapeLike,
                 num_classes: int = 0,
                 output_range: tuple[float, float] | None = (-1.0, 1.0)) -> None:
        super().__init__()
        self.body = body
        self.latent_size = _positive("Generator", "latent_size", latent_size)
        self.sample_shape = _sample_shape("Generator", sample_shape)
        self.num_classes = _classes("Generator", num_classes)
        self.output_range = output_range

    def forward(self, z: Any, labels: LabelsLike = None) -> Tensor:
        z = ops.lift(z)
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise ShapeError(f"Generator: expected z of shape (N, {self.latent_size}), got "
                             f"{z.shape}")
        n = z.shape[0]
        y = check_labels(labels, self.num_classes, n, "Generator")
        if y is not None:
            z = ops.concatenate([z, Tensor(_one_hot(y, self.num_classes, z.dtype))], axis=1)
        return ops.reshape(self.body(z), (n, *self.sample_shape))

    def extra_repr(self) -> str:
        return (f"latent_size={self.latent_size}, sample_shape={self.sample_shape}, "
                f"num_classes={self.num_classes}")


class Discriminator(nn.Module):
    """samples (N, ...) [+ labels (N,)] -> logits (N,) (``sigmoid`` = probability "real").

    Inputs may have any layout with ``prod(sample_shape)`` values per sample (e.g.
    (N, 784), (N, 28, 28) or (N, 1, 28, 28)). ``condition`` says how ``body`` sees them:

    * ``"vector"``: flattened, (N, D) — or (N, D + num_classes) with the one-hot label
      appended when conditional;
    * ``"channels"``: as images (N, C, H, W) — or (N, C + num_classes, H, W) with the
      one-hot label as constant extra channels when conditional.

    ``body`` must output N logits ((N,) or (N, 1)).
    """

    def __init__(self, body: nn.Module, sample_shape: ShapeLike, num_classes: int = 0,
                 condition: str = "vector") -> None:
        super().__init__()
        if condition not in ("vector", "channels"):
            raise ValueError(f"Discriminator: condition must be 'vector' or 'channels', got "
                             f"{condition!r}")
        self.body = body
        self.sample_shape = _sample_shape("Discriminator", sample_shape)
        if condition == "channels":
            self.sample_shape = _image_shape(self.sample_shape, "Discriminator")
        self.num_classes = _classes("Discriminator", num_classes)
        self.condition = condition

    def forward(self, x: Any, labels: LabelsLike = None) -> Tensor:
        x = ops.lift(x)
        size = math.prod(self.sample_shape)
        if x.ndim < 1 or math.prod(x.shape[1:]) != size:
            raise ShapeError(f"Discriminator: expected samples (N, ...) with {size} values "
                             f"each (sample_shape {self.sample_shape}), got {x.shape}")
        n = x.shape[0]
        y = check_labels(labels, self.num_classes, n, "Discriminator")
        if self.condition == "vector":
            x = ops.reshape(x, (n, size))
            if y is not None:
                x = ops.concatenate([x, Tensor(_one_hot(y, self.num_classes, x.dtype))], axis=1)
        else:
            x = ops.reshape(x, (n, *self.sample_shape))
            if y is not None:
                _, h, w = self.sample_shape
                maps = np.broadcast_to(_one_hot(y, self.num_classes, x.dtype)[:, :, None, None],
                                       (n, self.num_classes, h, w))
                x = ops.concatenate([x, Tensor(np.ascontiguousarray(maps))], axis=1)
        logits = self.body(x)
        if logits.size != n:
            raise ShapeError(f"Discriminator: the body must output one logit per sample, "
                             f"got shape {logits.shape} for {n} samples")
        return ops.reshape(logits, (n,))

    def extra_repr(self) -> str:
        return (f"sample_shape={self.sample_shape}, num_classes={self.num_classes}, "
                f"condition={self.condition!r}")


# --------------------------------------------------------------------------- builders


def dense_generator(latent_size: int = 30, image_shape: ShapeLike = (1, 28, 28),
                    hidden: Sequence[int] = (100, 150), num_classes: int = 0,
                    activation: str = "selu", output: str = "tanh") -> Generator:
    """Géron's dense generator: [Dense -> activation] per ``hidden`` size ->
    Dense(prod(image_shape)) -> ``output`` ("tanh", "sigmoid" or "linear"), reshaped.

    z (N, latent_size) [+ labels (N,) if ``num_classes``] -> (N, *image_shape);
    ``image_shape`` may be any sample shape, e.g. ``(2,)`` for points in the plane. The
    default has 136,634 parameters (30·100+100 + 100·150+150 + 150·784+784).
    """
    who = "dense_generator"
    latent = _positive(who, "latent_size", latent_size)
    shape = _sample_shape(who, image_shape)
    k = _classes(who, num_classes)
    act = _activation(who, activation)
    out_layer, out_range = _output(who, output)
    layers: list[nn.Module] = []
    width = latent + k
    for i, size in enumerate(hidden):
        size = _positive(who, f"hidden[{i}]", size)
        layers += [nn.Dense(width, size), act()]
        width = size
    layers.append(nn.Dense(width, math.prod(shape)))
    if out_layer is not None:
        layers.append(out_layer())
    return Generator(nn.Sequential(*layers), latent, shape, k, out_range)


def dense_discriminator(image_shape: ShapeLike = (1, 28, 28),
                        hidden: Sequence[int] = (150, 100), num_classes: int = 0,
                        activation: str = "selu", dropout: float = 0.0) -> Discriminator:
    """Dense discriminator: Flatten [+ one-hot label] -> [Dense -> activation (-> Dropout)]
    per ``hidden`` size -> Dense(1). samples (N, ...) [+ labels (N,)] -> logits (N,).

    The default follows Géron (SELU); ``activation="leaky_relu"`` uses slope 0.2 (Radford
    et al. 2015).
    """
    who = "dense_discriminator"
    shape = _sample_shape(who, image_shape)
    k = _classes(who, num_classes)
    act = _activation(who, activation)
    p = _dropout(who, dropout)
    layers: list[nn.Module] = []
    width = math.prod(shape) + k
    for i, size in enumerate(hidden):
        size = _positive(who, f"hidden[{i}]", size)
        layers += [nn.Dense(width, size), act()]
        if p > 0:
            layers.append(nn.Dropout(p))
        width = size
    layers.append(nn.Dense(width, 1))
    return Discriminator(nn.Sequential(*layers), shape, k, condition="vector")


def _upsampling(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) making a stride-2 ConvTranspose2d double H and W exactly."""
    return ((kernel_size - 1) // 2, 1) if kernel_size % 2 else (kernel_size // 2 - 1, 0)


def dcgan_generator(latent_size: int = 100, image_shape: ShapeLike = (1, 28, 28),
                    channels: Sequence[int] = (128, 64), num_classes: int = 0,
                    kernel_size: int = 5, activation: str = "relu",
                    output: str = "tanh") -> Generator:
    """DCGAN generator (Radford et al. 2015; Géron ch. 17).

    With L = len(channels) and (C, H, W) = image_shape: Dense(latent [+ classes] ->
    channels[0]·H/2^L·W/2^L) -> reshape (channels[0], H/2^L, W/2^L) -> BatchNorm ->
    activation, then per further entry c of ``channels`` ConvTranspose2d(stride 2, to c) ->
    BatchNorm -> activation, and a last ConvTranspose2d(stride 2, to C) -> ``output``.
    Each transposed convolution doubles H and W. z (N, latent_size) [+ labels (N,)] ->
    (N, C, H, W). The default on MNIST: 100 -> (128, 7, 7) -> (64, 14, 14) -> (1, 28, 28),
    840,257 parameters.

    Raises:
        ValueError: ``latent_size`` <= 0, an ``image_shape`` that is not an image, or H, W
            not divisible by 2**len(channels).
    """
    who = "dcgan_generator"
    latent = _positive(who, "latent_size", latent_size)
    c, h, w = _image_shape(_sample_shape(who, image_shape), who)
    k = _classes(who, num_classes)
    if not channels:
        raise ValueError(f"{who}: channels must name at least one layer")
    chans = [_positive(who, f"channels[{i}]", ch) for i, ch in enumerate(channels)]
    ks = _positive(who, "kernel_size", kernel_size)
    if ks < 2:
        raise ValueError(f"{who}: kernel_size must be >= 2 for stride-2 upsampling, got {ks}")
    scale = 2 ** len(chans)
    if h % scale or w % scale:
        raise ValueError(
            f"{who}: cannot produce images of shape {(c, h, w)} (image_shape="
            f"{image_shape!r}): height {h} and width {w} must be divisible by "
            f"2**len(channels) = {scale}, since each of the {len(chans)} stride-2 transposed "
            f"convolutions doubles the size of the first (H/{scale}, W/{scale}) feature map; "
            f"choose another image size or fewer channels")
    act = _activation(who, activation)
    out_layer, out_range = _output(who, output)
    pad, out_pad = _upsampling(ks)
    h0, w0 = h // scale, w // scale
    layers: list[nn.Module] = [nn.Dense(latent + k, chans[0] * h0 * w0),
                               Reshape(chans[0], h0, w0), nn.BatchNorm2d(chans[0]), act()]
    for c_in, c_out in zip(chans, chans[1:]):
        layers += [nn.ConvTranspose2d(c_in, c_out, ks, 2, pad, out_pad, bias=False),
                   nn.BatchNorm2d(c_out), act()]
    layers.append(nn.ConvTranspose2d(chans[-1], c, ks, 2, pad, out_pad))
    if out_layer is not None:
        layers.append(out_layer())
    return Generator(nn.Sequential(*layers), latent, (c, h, w), k, out_range)


def dcgan_discriminator(image_shape: ShapeLike = (1, 28, 28), channels: Sequence[int] = (64, 128),
                        dropout: float = 0.4, num_classes: int = 0,
                        kernel_size: int = 5) -> Discriminator:
    """DCGAN-style discriminator (Géron ch. 17): per entry c of ``channels``
    Conv2d(k×k, stride 2, "same" padding, to c) -> LeakyReLU(0.2) -> Dropout, then
    Flatten -> Dense(1). images (N, C, H, W) (or flat / (N, H, W)) [+ labels (N,)] ->
    logits (N,). When conditional the one-hot label enters as ``num_classes`` extra
    constant channels. On MNIST: (1, 28, 28) -> (64, 14, 14) -> (128, 7, 7) -> 1 logit.
    """
    who = "dcgan_discriminator"
    c, h, w = _image_shape(_sample_shape(who, image_shape), who)
    k = _classes(who, num_classes)
    p = _dropout(who, dropout)
    ks = _positive(who, "kernel_size", kernel_size)
    if not channels:
        raise ValueError(f"{who}: channels must name at least one layer")
    layers: list[nn.Module] = []
    width = c + k
    for i, ch in enumerate(channels):
        ch = _positive(who, f"channels[{i}]", ch)
        layers += [nn.Conv2d(width, ch, ks, stride=2, padding="same"), nn.LeakyReLU(0.2)]
        if p > 0:
            layers.append(nn.Dropout(p))
        width, h, w = ch, -(-h // 2), -(-w // 2)
    shape = _image_shape(_sample_shape(who, image_shape), who)
    layers += [nn.Flatten(), nn.Dense(width * h * w, 1)]
    return Discriminator(nn.Sequential(*layers), shape, k, condition="channels")


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
    :class:`~chainrule.train.History` of the last :meth:`fit`.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 latent_size: int | None = None, num_classes: int | None = None,
                 g_optimizer: Any = None, d_optimizer: Any = None,
                 label_smoothing: float = 0.0) -> None:
        from ..optim import Adam
        from ..train.history import History

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
        self.history = History()

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
            seed: int | None = None, callbacks: Iterable[EpochCallback] = (),
            verbose: bool = True, shuffle: bool = True) -> Any:
        """Train for ``epochs`` passes over real samples ``x`` (N, ...) [labels (N,)].

        Batches are drawn in a fresh random order each epoch; a last incomplete batch is
        dropped (as Géron's ``drop_remainder=True``; it would make BatchNorm statistics
        noisy). ``seed`` seeds the library RNG (``manual_seed``: latent vectors, dropout)
        and the shuffling; build the networks after seeding to fix the initial weights too.
        After every epoch each callback is called as ``callback(epoch, gan, logs)`` (epoch
        from 0; logs: the epoch means of :meth:`train_step`'s values, plus ``time`` in
        seconds); setting ``gan.stop_training = True`` ends training after that epoch.

        Returns the :class:`~chainrule.train.History` (``history["g_loss"]``: one value
        per epoch).
        """
        from ..train.history import History
        from ..train.progress import format_logs

        epochs = _positive("GAN.fit", "epochs", epochs)
        batch_size = _positive("GAN.fit", "batch_size", batch_size)
        data = self._real(x)
        y = self._labels(labels, len(data))
        self._check_range(data)
        if seed is not None:
            manual_seed(seed)
        base = int(get_rng().integers(2**63)) if seed is None else int(seed)
        order_rng = np.random.default_rng(np.random.SeedSequence([base, 0]))
        steps = max(len(data) // batch_size, 1)
        callbacks = list(callbacks)
        self.history = history = History()
        history.on_train_begin()
        self.stop_training = False
        for epoch in range(epochs):
            start = time.perf_counter()
            order = order_rng.permutation(len(data)) if shuffle else np.arange(len(data))
            sums: dict[str, float] = {}
            for b in range(steps):
                idx = order[b * batch_size:(b + 1) * batch_size]
                step = self.train_step(data[idx], None if y is None else y[idx])
                for key, value in step.items():
                    sums[key] = sums.get(key, 0.0) + value
            logs = {key: value / steps for key, value in sums.items()}
            logs["time"] = time.perf_counter() - start
            history.on_epoch_end(epoch, logs)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs} - {logs['time']:.1f}s - {format_logs(logs)}",
                      flush=True)
            for callback in callbacks:
                callback(epoch, self, logs)
            if self.stop_training:
                break
        return history

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
                          stacklevel=3)

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


# --------------------------------------------------------------------------- sample grids


class SampleGrid:
    """A :meth:`GAN.fit` callback saving a grid of generated images after every epoch.

    The same latent batch (drawn once from ``np.random.default_rng(seed)``) is used every
    epoch, so the pictures show how the generator changes. ``path_pattern`` is formatted
    with ``epoch`` (from 1) and the epoch's logs, e.g. ``"runs/gan/epoch-{epoch:03d}.png"``.
    A conditional GAN gets labels ``arange(n) % num_classes`` by default (with ``ncols =
    num_classes`` each column is one class). ``paths`` lists the files written.
    """

    def __init__(self, path_pattern: str | Path, n: int = 100, seed: int = 0, ncols: int = 10,
                 labels: LabelsLike = None) -> None:
        self.path_pattern = str(path_pattern)
        self.n = _positive("SampleGrid", "n", n)
        self.ncols = _positive("SampleGrid", "ncols", ncols)
        self.seed = seed
        self.labels = labels
        self.z: np.ndarray | None = None
        self.paths: list[Path] = []

    def __call__(self, epoch: int, gan: GAN, logs: dict[str, float] | None = None) -> Path:
        from ..classic.plots import image_grid

        if self.z is None:
            self.z = np.random.default_rng(self.seed).standard_normal((self.n, gan.latent_size))
        labels = self.labels
        if labels is None and gan.num_classes:
            labels = np.arange(self.n) % gan.num_classes
        images = gan.sample(self.n, labels, z=self.z)
        tiles, shape = _tiles(images, getattr(gan.generator, "output_range", None))
        path = self.path_pattern.format(epoch=epoch + 1, **(logs or {}))
        self.paths.append(image_grid(tiles, path, shape=shape, ncols=self.ncols,
                                     title=f"epoch {epoch + 1}"))
        return self.paths[-1]


def _tiles(images: np.ndarray, bounds: tuple[float, float] | None
           ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Images (n, ...) as tiles in [0, 1]: (n, H, W) for grey, (n, H, W, 3) for colour."""
    lo, hi = bounds if bounds is not None else (float(images.min()), float(images.max()))
    scaled = np.clip((images - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    c, h, w = _image_shape(images.shape[1:], "SampleGrid")
    if c == 1:
        return scaled.reshape(-1, h, w), (h, w)
    if c == 3:
        return scaled.reshape(-1, 3, h, w).transpose(0, 2, 3, 1), (h, w, 3)
    raise ValueError(f"SampleGrid: can draw 1- or 3-channel images, got samples of shape "
                     f"{images.shape[1:]}")
