"""The two networks of a GAN and their builders: :class:`Generator`,
:class:`Discriminator`, :func:`dense_generator` / :func:`dense_discriminator` (Géron,
*Hands-On Machine Learning*, ch. 17) and :func:`dcgan_generator` /
:func:`dcgan_discriminator` (Radford et al. 2015), optionally conditioned on a class label
(Mirza & Osindero 2014). :mod:`chainrule.models.gan` puts them together in a :class:`GAN`.

Shapes: a :class:`Generator` maps ``z`` (N, latent_size) [+ labels (N,)] to samples (N,
*sample_shape); a :class:`Discriminator` maps samples (N, ...) [+ labels (N,)] to one logit
per sample, shape (N,) (``sigmoid(logit)`` is the probability "real").
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import nn
from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor
from .classifiers import Reshape, _shape
from .classifiers import image_shape as _image_shape
from .registry import register_model

__all__ = ["Discriminator", "Generator", "check_labels", "dcgan_discriminator",
           "dcgan_generator", "dense_discriminator", "dense_generator"]

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
    return _shape(shape, "image_shape", who)


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


register_model("dense-generator", kind="generator")(dense_generator)
register_model("dense-discriminator", kind="discriminator")(dense_discriminator)
register_model("dcgan-generator", kind="generator")(dcgan_generator)
register_model("dcgan-discriminator", kind="discriminator")(dcgan_discriminator)
