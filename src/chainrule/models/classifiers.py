"""Classifiers: ``build_model("mlp", input_shape=(8, 8), num_classes=10)``.

The classifier builders (``builder(input_shape, num_classes, **kw) -> Module``) are
``"mlp"`` and ``"cnn"`` (a LeNet-style convolutional network for small grey or colour
images), listed in :data:`MODELS` and registered in the model registry
(:mod:`chainrule.models.registry`) with every other ready-made model.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .. import nn
from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor
from .registry import create_model, register_model

__all__ = ["MODELS", "Reshape", "build_model", "cnn", "image_shape", "mlp"]

ShapeLike = int | Sequence[int]


def _shape(input_shape: ShapeLike, name: str = "input_shape",
           who: str | None = None) -> tuple[int, ...]:
    """A per-sample shape as a tuple of positive ints (an int is a 1-d shape)."""
    shape = (input_shape,) if isinstance(input_shape, numbers.Integral) else tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0
                        for d in shape):
        raise ValueError(f"{who + ': ' if who else ''}{name} must be positive integers "
                         f"(without the batch axis), got {input_shape!r}")
    return tuple(int(d) for d in shape)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@register_model("mlp", kind="classifier")
def mlp(input_shape: ShapeLike, num_classes: int, hidden: Sequence[int] = (256,),
        dropout: float = 0.2, activation: str = "relu", batch_norm: bool = False,
        init: str = "glorot_uniform") -> nn.Sequential:
    """Multi-layer perceptron: Flatten -> [Dense -> activation -> Dropout] per hidden
    size -> Dense(num_classes). Outputs logits of shape (N, num_classes).

    ``dropout=0`` leaves the Dropout layers out; ``activation`` is ``"relu"``, ``"tanh"``,
    ``"sigmoid"``, ``"gelu"``, ``"elu"``, ``"selu"`` or ``"leaky_relu"``.
    ``batch_norm=True`` adds BatchNorm1d on the flattened inputs and after each hidden
    activation (Hands-On ML's ch. 11 model); ``init`` initialises the hidden Dense weights
    (a name of :mod:`chainrule.nn.init`: "he_normal" for ReLU, "lecun_normal" for SELU).
    """
    acts: dict[str, Callable[[], nn.Module]] = {
        "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
        "elu": nn.ELU, "selu": nn.SELU, "leaky_relu": nn.LeakyReLU,
    }
    if activation not in acts:
        raise ValueError(f"mlp: unknown activation {activation!r}; known: {', '.join(acts)}")
    if not 0 <= dropout < 1:
        raise ValueError(f"mlp: dropout must be in [0, 1), got {dropout}")
    nn.init.get(init)  # an unknown name is a ValueError that lists the known ones
    width = math.prod(_shape(input_shape))
    layers: list[nn.Module] = [nn.Flatten()] + ([nn.BatchNorm1d(width)] if batch_norm else [])
    for i, size in enumerate(hidden):
        size = _positive(f"mlp: hidden[{i}]", size)
        layers += [nn.Dense(width, size, init=init), acts[activation]()]
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Dense(width, _positive("num_classes", num_classes)))
    return nn.Sequential(*layers)


class Reshape(nn.Module):
    """(N, ...) -> (N, *shape): e.g. flat 784-vectors or (28, 28) arrays to (1, 28, 28)
    images. Each example must have exactly ``prod(shape)`` values."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = tuple(int(d) for d in shape)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim < 1 or math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ShapeError(f"{self!r}: expected (N, ...) with {math.prod(self.shape)} values "
                             f"per example, got shape {x.shape}")
        return ops.reshape(x, (x.shape[0], *self.shape))

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def image_shape(input_shape: ShapeLike, model: str = "cnn") -> tuple[int, int, int]:
    """(C, H, W) for a per-example ``input_shape``: (C, H, W) is kept, (H, W) is one
    channel, and a flat (D,) is read as a square one-channel image when D is a square
    (784 -> (1, 28, 28), the bundled digits' 64 -> (1, 8, 8)).

    Raises:
        ValueError: a flat size that is not a square, or a rank above 3.
    """
    shape = _shape(input_shape)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ValueError(f"{model}: cannot read a flat input of {shape[0]} features as a "
                             f"square image; give input_shape as (H, W) or (C, H, W)")
        return (1, side, side)
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    raise ValueError(f"{model}: expected input_shape (H, W), (C, H, W) or a flat square "
                     f"(H*W,), got {input_shape!r}")


@register_model("cnn", kind="classifier")
def cnn(input_shape: ShapeLike, num_classes: int, channels: Sequence[int] = (32, 64),
        hidden: int = 128, dropout: float = 0.5, kernel_size: int = 3) -> nn.Sequential:
    """LeNet-style CNN: per entry of ``channels``, Conv2d(k×k, "same" padding) -> ReLU ->
    MaxPool2d(2); then Flatten -> Dense(hidden) -> ReLU -> Dropout -> Dense(num_classes).
    Outputs logits of shape (N, num_classes).

    The default on (1, 28, 28) MNIST images: Conv 1→32 3×3, pool to 14×14, Conv 32→64
    3×3, pool to 7×7, Dense 3136→128, Dense 128→10 (421,642 parameters). Inputs may be
    (N, C, H, W), (N, H, W) or flat (N, H*W) for square images: a :class:`Reshape` layer
    in front makes them (N, C, H, W) (see :func:`image_shape`); the bundled 8×8 digits
    work too (8×8 -> 4×4 -> 2×2).

    Raises:
        ValueError: an input_shape that is not an image, or images too small for the
            poolings (each 2×2 pooling halves H and W, rounding down; at least 1×1 must
            remain).
    """
    c, h, w = image_shape(input_shape, "cnn")
    if not channels:
        raise ValueError("cnn: channels must name at least one convolution layer")
    k = _positive("cnn: kernel_size", kernel_size)
    if k % 2 == 0:
        raise ValueError(f"cnn: kernel_size must be odd (for 'same' padding), got {k}")
    if not 0 <= dropout < 1:
        raise ValueError(f"cnn: dropout must be in [0, 1), got {dropout}")
    scale = 2 ** len(channels)
    if h < scale or w < scale:
        raise ValueError(f"cnn: input images of {h}×{w} are too small for {len(channels)} "
                         f"max-poolings of 2×2 (need at least {scale}×{scale})")
    layers: list[nn.Module] = []
    if _shape(input_shape) != (c, h, w):
        layers.append(Reshape(c, h, w))
    for i, out in enumerate(channels):
        out = _positive(f"cnn: channels[{i}]", out)
        layers += [nn.Conv2d(c, out, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    hidden = _positive("cnn: hidden", hidden)
    layers += [nn.Flatten(), nn.Dense(c * h * w, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Dense(hidden, _positive("num_classes", num_classes)))
    return nn.Sequential(*layers)


#: Model builders by name: ``builder(input_shape, num_classes, **kw) -> Module``.
MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": mlp, "cnn": cnn}


def build_model(name: str, input_shape: ShapeLike, num_classes: int, **kw: Any) -> nn.Module:
    """Build the classifier registered as ``name`` in :data:`MODELS` (through
    :func:`~chainrule.models.create_model`, so :func:`chainrule.save_model` knows it).

    ``input_shape`` excludes the batch axis (e.g. ``(28, 28)`` or ``64``); the model
    outputs ``num_classes`` logits per sample. Extra keywords go to the builder (for
    "mlp": ``hidden``, ``dropout``, ``activation``; for "cnn": ``channels``, ``hidden``,
    ``dropout``, ``kernel_size``).

    Raises:
        ValueError: ``name`` is not registered (the message lists the known names), or the
            builder rejects ``input_shape`` (e.g. "cnn" on inputs that are not images).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: "
                         f"{', '.join(sorted(MODELS))}")
    return create_model(name, input_shape, num_classes, **kw)
