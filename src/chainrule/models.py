"""A small model factory: ``build_model("mlp", input_shape=(8, 8), num_classes=10)``.

Builders are registered by name in :data:`MODELS` (``name -> builder(input_shape,
num_classes, **kw) -> Module``); add ``"cnn"``, ``"char-lstm"``... there as they arrive.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from . import nn

__all__ = ["MODELS", "build_model", "mlp"]

ShapeLike = int | Sequence[int]


def _shape(input_shape: ShapeLike) -> tuple[int, ...]:
    shape = (input_shape,) if isinstance(input_shape, numbers.Integral) else tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0
                        for d in shape):
        raise ValueError(f"input_shape must be positive integers (without the batch axis), "
                         f"got {input_shape!r}")
    return tuple(int(d) for d in shape)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def mlp(input_shape: ShapeLike, num_classes: int, hidden: Sequence[int] = (256,),
        dropout: float = 0.2, activation: str = "relu") -> nn.Sequential:
    """Multi-layer perceptron: Flatten -> [Dense -> activation -> Dropout] per hidden
    size -> Dense(num_classes). Outputs logits of shape (N, num_classes).

    ``dropout=0`` leaves the Dropout layers out; ``activation`` is ``"relu"``, ``"tanh"``,
    ``"sigmoid"``, ``"gelu"``, ``"elu"``, ``"selu"`` or ``"leaky_relu"``.
    """
    acts: dict[str, Callable[[], nn.Module]] = {
        "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
        "elu": nn.ELU, "selu": nn.SELU, "leaky_relu": nn.LeakyReLU,
    }
    if activation not in acts:
        raise ValueError(f"mlp: unknown activation {activation!r}; known: {', '.join(acts)}")
    if not 0 <= dropout < 1:
        raise ValueError(f"mlp: dropout must be in [0, 1), got {dropout}")
    width = math.prod(_shape(input_shape))
    layers: list[nn.Module] = [nn.Flatten()]
    for i, size in enumerate(hidden):
        size = _positive(f"mlp: hidden[{i}]", size)
        layers += [nn.Dense(width, size), acts[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Dense(width, _positive("num_classes", num_classes)))
    return nn.Sequential(*layers)


#: Model builders by name: ``builder(input_shape, num_classes, **kw) -> Module``.
MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": mlp}


def build_model(name: str, input_shape: ShapeLike, num_classes: int, **kw: Any) -> nn.Module:
    """Build the model registered as ``name`` in :data:`MODELS`.

    ``input_shape`` excludes the batch axis (e.g. ``(28, 28)`` or ``64``); the model
    outputs ``num_classes`` logits per sample. Extra keywords go to the builder (for
    "mlp": ``hidden``, ``dropout``, ``activation``).

    Raises:
        ValueError: ``name`` is not registered (the message lists the known names).
    """
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: "
                         f"{', '.join(sorted(MODELS))}") from None
    return builder(input_shape, num_classes, **kw)
