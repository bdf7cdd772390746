"""Quantization-aware training: fake quantization with straight-through gradients.

    qat = prepare_qat(model)           # a copy; train it as usual (a few epochs, small lr)
    trainer = Trainer(qat, loss, Adam(qat.parameters(), 1e-4)); trainer.fit(...)
    int8 = convert(qat, x_train[:500]) # the int8 model, as chainrule.quantize makes it

In the forward pass each ``Linear``/``Conv`` layer sees its weights rounded to int8 (per
output channel, symmetric) and its input rounded to 8 bits over the range seen so far
(a running min/max in training), exactly as the int8 model will; the backward pass treats
the rounding as the identity (the straight-through estimator), so the float weights keep
learning and settle where rounding costs little.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..autograd import ops
from ..nn.module import Module
from .primitives import fake_quantize
from .ptq import (
    _LAYERS,
    _replace,
    activation_params,
    quantizable_layers,
    quantize,
    quantize_weight,
)

__all__ = ["FakeQuantLayer", "convert", "prepare_qat"]


class FakeQuantLayer(Module):
    """A layer trained with fake-quantized weights and input (see the module docstring);
    ``momentum`` smooths the running input range (1 = first batch only)."""

    def __init__(self, layer: Module, momentum: float = 0.9) -> None:
        super().__init__()
        self.layer = layer
        self.momentum = momentum
        self.register_buffer("input_range", np.array([np.inf, -np.inf], np.float32))

    def _observe(self, data: np.ndarray) -> None:
        low, high = float(data.min()), float(data.max())
        if not np.isfinite(self.input_range).all():
            self.input_range[...] = [low, high]
        else:
            m = self.momentum
            self.input_range[...] = [m * self.input_range[0] + (1 - m) * low,
                                     m * self.input_range[1] + (1 - m) * high]

    def forward(self, x: Any) -> Any:
        # the fake_quantize primitive (straight-through rules), so a QAT model also traces
        # and exports to ONNX in the QDQ form
        x = ops.lift(x)
        if self.training:
            self._observe(x.numpy())
        if np.isfinite(self.input_range).all():
            scale, zero_point = activation_params(*self.input_range)
            x = fake_quantize(x, scale, zero_point, qmin=0, qmax=255)
        weight = self.layer._parameters["weight"]
        _, scale = quantize_weight(weight.data)  # per output channel, symmetric
        fake = fake_quantize(weight, scale, 0, qmin=-127, qmax=127, axis=0)
        object.__setattr__(self.layer, "weight", fake)
        try:
            return self.layer(x)
        finally:
            object.__setattr__(self.layer, "weight", weight)


def prepare_qat(model: Module, momentum: float = 0.9) -> Module:
    """A copy of ``model`` whose ``Linear``/``Conv`` layers train with fake quantization."""
    names = quantizable_layers(model)
    if not names:
        raise ValueError(f"prepare_qat: the {type(model).__name__} has no Linear or Conv "
                         "layer")
    qat = copy.deepcopy(model)
    modules = dict(qat.named_modules())
    for name in names:
        _replace(qat, name, FakeQuantLayer(modules[name], momentum))
    return qat


def convert(qat: Module, calibration_data: Any, *, batch_size: int = 256) -> Module:
    """The int8 model (:func:`chainrule.quantize` of the trained float weights, its input
    ranges calibrated on ``calibration_data``); ``qat`` is left unchanged."""
    plain = copy.deepcopy(qat)
    for name, m in list(plain.named_modules()):
        if isinstance(m, FakeQuantLayer) and isinstance(m.layer, _LAYERS):
            _replace(plain, name, m.layer)
    return quantize(plain, calibration_data, batch_size=batch_size)
