"""Post-training int8 quantization: see the package docstring."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..autograd.ops import cast
from ..autograd.tensor import Tensor
from ..nn.conv import Conv1d, Conv2d, Conv3d
from ..nn.layers import Linear
from ..nn.module import Module
from .primitives import _fake_quantize_np, dequantize
from .primitives import fake_quantize as fake_quantize_op

__all__ = ["QUANTIZATION_ATTRIBUTE", "QuantizedLayer", "apply_structure",
           "quantizable_layers", "quantize"]

#: The attribute on a quantized model describing its quantization (saved with the model).
QUANTIZATION_ATTRIBUTE = "__chainrule_quantization__"
SCHEME = "int8-weights-per-channel-symmetric/uint8-activations-minmax"
_LAYERS = (Linear, Conv1d, Conv2d, Conv3d)


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(q, scale)``: int8 ``q`` and float32 per-output-channel ``scale`` (axis 0) with
    ``q * scale ~ w``, symmetric (zero maps to zero), levels -127..127."""
    w = np.asarray(w, dtype=np.float32)
    top = np.abs(w).reshape(len(w), -1).max(axis=1)
    scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
    shaped = scale.reshape((-1,) + (1,) * (w.ndim - 1))
    q = np.clip(np.rint(w / shaped), -127, 127).astype(np.int8)
    return q, scale


def activation_params(low: float, high: float) -> tuple[float, float]:
    """``(scale, zero_point)`` of 8-bit affine quantization over ``[low, high]`` (widened
    to hold 0, so that zero padding and ReLU zeros stay exact)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = (high - low) / 255.0 or 1.0
    return scale, float(np.rint(-low / scale))


def fake_quantize(x: np.ndarray, scale: float, zero_point: float) -> np.ndarray:
    """``x`` rounded to the 256 levels ``(q - zero_point) * scale``, ``q`` in 0..255 (the
    NumPy forward of the ``fake_quantize`` primitive, with a float32 scale)."""
    return _fake_quantize_np(x, np.asarray(scale, np.float32), zero_point)


class QuantizedLayer(Module):
    """A ``Linear``/``Conv`` layer with int8 weights and a quantized input (see the
    package docstring). Its state: ``weight_q`` (int8), ``weight_scale`` (float32, one per
    output channel), ``input_range`` (float32 ``[min, max]``) and the layer's own float
    ``bias``."""

    def __init__(self, layer: Module) -> None:
        super().__init__()
        weight = layer._parameters.pop("weight")
        self.layer = layer
        q, scale = quantize_weight(weight.data)
        self.register_buffer("weight_q", q)
        self.register_buffer("weight_scale", scale)
        self.register_buffer("input_range", np.array([np.inf, -np.inf], np.float32))
        self._calibrating = False
        object.__setattr__(layer, "weight", None)

    def dequantized_weight(self) -> np.ndarray:
        shaped = self.weight_scale.reshape((-1,) + (1,) * (self.weight_q.ndim - 1))
        return self.weight_q.astype(np.float32) * shaped

    def forward(self, x: Any) -> Any:
        # Primitives only (fake_quantize, dequantize), so the int8 model traces and
        # exports to ONNX in the QDQ form; the numbers are those of the NumPy forwards.
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=np.float32))
        elif x.dtype != np.float32:
            x = cast(x, np.float32)
        if self._calibrating:  # widen the range, then round as the int8 model will, so the
            data = x.data  # next layer calibrates on what it will see
            low, high = self.input_range
            self.input_range[...] = [min(low, data.min()), max(high, data.max())]
        if np.isfinite(self.input_range).all():
            scale, zero_point = activation_params(*self.input_range)
            x = fake_quantize_op(x, scale, zero_point, qmin=0, qmax=255)
        weight = dequantize(Tensor(self.weight_q), self.weight_scale, axis=0)
        object.__setattr__(self.layer, "weight", weight)
        try:
            return self.layer(x)
        finally:
            object.__setattr__(self.layer, "weight", None)

    def extra_repr(self) -> str:
        low, high = self.input_range
        return f"int8 weights {tuple(self.weight_q.shape)}, input range [{low:.4g}, {high:.4g}]"


def quantizable_layers(model: Module) -> list[str]:
    """The dotted names of the layers :func:`quantize` replaces."""
    return [name for name, m in model.named_modules()
            if name and isinstance(m, _LAYERS) and not isinstance(m, QuantizedLayer)]


def _replace(model: Module, name: str, new: Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model
    for part in filter(None, parent_name.split(".")):
        parent = parent._modules[part]
    parent._modules[child] = new  # same place: a Sequential keeps its order
    object.__setattr__(parent, child, new)


def apply_structure(model: Module, spec: dict[str, Any]) -> Module:
    """Wrap the layers ``spec["layers"]`` of ``model`` in place (the weights are then
    loaded from a saved state dict); used by :func:`chainrule.load_model`."""
    if spec.get("scheme") != SCHEME:
        raise ValueError(f"unknown quantization scheme {spec.get('scheme')!r}")
    modules = dict(model.named_modules())
    for name in spec["layers"]:
        if not isinstance(modules.get(name), _LAYERS):
            raise ValueError(f"the model has no quantizable layer {name!r}")
        _replace(model, name, QuantizedLayer(modules[name]))
    object.__setattr__(model, QUANTIZATION_ATTRIBUTE,
                       {"scheme": SCHEME, "layers": list(spec["layers"])})
    return model


def _batches(data: Any, batch_size: int) -> Iterable[np.ndarray]:
    if isinstance(data, (np.ndarray, Tensor)):
        array = np.asarray(data.numpy() if isinstance(data, Tensor) else data)
        for start in range(0, len(array), batch_size):
            yield array[start:start + batch_size]
    else:  # an iterable of batches, or of (inputs, targets)
        for batch in data:
            yield batch[0] if isinstance(batch, (tuple, list)) else batch


def quantize(model: Module, calibration_data: Any, *, batch_size: int = 256) -> Module:
    """An int8 copy of ``model`` (see the package docstring), its activation ranges
    calibrated on ``calibration_data`` (an array of inputs, a few hundred training
    examples, or an iterable of batches or ``(inputs, targets)``). ``model`` is left
    unchanged; the copy is in eval mode, and :func:`chainrule.save_model` saves it with
    int8 weights.

    Raises:
        ValueError: nothing to quantize, or no calibration data.
    """
    names = quantizable_layers(model)
    if not names:
        raise ValueError(f"quantize: the {type(model).__name__} has no Linear or Conv layer")
    qmodel = copy.deepcopy(model)
    apply_structure(qmodel, {"scheme": SCHEME, "layers": names})
    layers = [m for m in qmodel.modules() if isinstance(m, QuantizedLayer)]
    qmodel.eval()
    seen = 0
    for layer in layers:
        layer._calibrating = True
    try:
        with no_grad():
            for batch in _batches(calibration_data, batch_size):
                qmodel(batch)
                seen += len(batch)
    finally:
        for layer in layers:
            layer._calibrating = False
    if not seen:
        raise ValueError("quantize: the calibration data is empty")
    return qmodel
