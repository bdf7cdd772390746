"""Table entries for the quantization primitives (``chainrule.quant.primitives``): the QDQ
form that onnxruntime and other runtimes read as an int8 model.

* ``fake_quantize`` -> ``QuantizeLinear`` then ``DequantizeLinear`` with the same scale
  and zero point (uint8 when the integer range is non-negative, int8 otherwise; ``axis``
  for per-channel scales). A range narrower than the 8-bit type's (the symmetric
  -127..127 of weights) is clamped first in float, at the range's end points, so the
  rounding matches chainrule's clip exactly.
* ``dequantize`` -> ``DequantizeLinear`` of the integer initializer (an int8 weight stays
  int8 in the file).

Both operators round half to even and saturate, as chainrule's NumPy forwards do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExportError
from .build import Builder

_RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def _axis_attrs(node: Any) -> dict:
    axis = node.params.get("axis")
    return {} if axis is None or node.inputs[1].shape == () else {"axis": int(axis)}


def _zero_point(b: Builder, node: Any, dtype: Any) -> str:
    zp = node.params.get("zero_point", 0.0)
    lo, hi = _RANGES[np.dtype(dtype)]
    if zp != round(zp) or not lo <= zp <= hi:
        raise ExportError(f"{b.where}: zero point {zp} is not an integer of {np.dtype(dtype)}")
    return b.const(np.full(node.inputs[1].shape, int(zp), dtype=dtype), hint="zero_point")


def _scale_value(b: Builder, node: Any) -> np.ndarray:
    try:
        return node.inputs[1].value()
    except ValueError:
        raise ExportError(f"{b.where}: a clipped range needs a constant scale") from None


def fake_quantize(b: Builder, node: Any, ins: list) -> str:
    p = node.params
    qmin, qmax = int(p["qmin"]), int(p["qmax"])
    dtype = np.uint8 if qmin >= 0 else np.int8
    lo, hi = _RANGES[np.dtype(dtype)]
    if qmin < lo or qmax > hi:
        raise ExportError(f"{b.where}: the integer range [{qmin}, {qmax}] does not fit in 8 "
                          f"bits; ONNX's QuantizeLinear here is uint8 or int8")
    zp, attrs = _zero_point(b, node, dtype), _axis_attrs(node)
    x = ins[0]
    if (qmin, qmax) != (lo, hi):  # clamp to the narrower range in float first
        scale, zero = _scale_value(b, node), p.get("zero_point", 0.0)
        shape = [1] * len(node.inputs[0].shape)
        if attrs:
            shape[attrs["axis"]] = -1
        dt = node.outputs[0].dtype
        low = b.const(((qmin - zero) * scale).astype(dt).reshape(shape if attrs else ()))
        high = b.const(((qmax - zero) * scale).astype(dt).reshape(shape if attrs else ()))
        x = b.op("Min", [b.op("Max", [x, low]), high])
    q = b.op("QuantizeLinear", [x, ins[1], zp], **attrs)
    return b.op("DequantizeLinear", [q, ins[1], zp], **attrs)


def dequantize(b: Builder, node: Any, ins: list) -> str:
    dtype = node.inputs[0].dtype
    if np.dtype(dtype) not in _RANGES:
        raise ExportError(f"{b.where}: DequantizeLinear reads int8 or uint8, not {dtype}")
    zp = _zero_point(b, node, dtype)
    return b.op("DequantizeLinear", [ins[0], ins[1], zp], **_axis_attrs(node))
