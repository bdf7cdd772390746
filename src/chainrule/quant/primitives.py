"""The two quantization primitives of the rule table, so that an int8 model traces (and
exports to ONNX in the QDQ form, ``chainrule.onnx``):

* ``fake_quantize(x, scale, zero_point=..., qmin=..., qmax=..., axis=...)``: ``x``
  rounded to the levels ``(q - zero_point) * scale``, ``q`` an integer in
  ``[qmin, qmax]`` (round half to even, as NumPy, PyTorch and ONNX's QuantizeLinear);
  ``scale`` a tensor, one number (per tensor) or one per slice along ``axis`` (per
  channel). Its rules are the **straight-through estimator**: the rounding is treated as
  the identity, so vjp = g and jvp = t for ``x`` (``scale`` is a constant: no
  cotangent). The true derivative is 0 almost everywhere, so no finite-difference check
  applies; ``tests/quant/test_primitives.py`` checks the rules are the identity.
  ONNX: ``QuantizeLinear`` then ``DequantizeLinear``.
* ``dequantize(q, scale, zero_point=..., axis=...)``: integer ``q`` to float,
  ``(q - zero_point) * scale``; not differentiable (an int8 weight is a constant).
  ONNX: ``DequantizeLinear`` of the int8 initializer, so the file keeps int8 weights.

PyTorch's ``fake_quantize_per_tensor_affine`` masks the gradient outside the clipping
range; here the gradient is the identity everywhere, as quantization-aware training
(``qat.py``) has used from the start.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.primitive import lift, nondiff, prim, zero
from ..autograd.tensor import Tensor

__all__ = ["dequantize", "fake_quantize"]


def _along(scale: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    """``scale`` shaped to broadcast against an array of ``ndim`` axes along ``axis``."""
    if axis is None or scale.ndim == 0:
        return scale
    shape = [1] * ndim
    shape[axis] = -1
    return scale.reshape(shape)


def _fake_quantize_np(x: np.ndarray, scale: np.ndarray, zero_point: float = 0.0,
                      qmin: int = 0, qmax: int = 255, axis: int | None = None) -> np.ndarray:
    s = _along(scale, x.ndim, axis)
    q = np.clip(np.rint(x / s) + zero_point, qmin, qmax)
    return ((q - zero_point) * s).astype(x.dtype, copy=False)


def _dequantize_np(q: np.ndarray, scale: np.ndarray, zero_point: float = 0.0,
                   axis: int | None = None) -> np.ndarray:
    s = _along(scale, q.ndim, axis)
    values = q.astype(scale.dtype)
    if zero_point:
        values = values - np.asarray(zero_point, scale.dtype)
    return values * s


def _through(g: Tensor, *_: Any, **__: Any) -> Tensor:
    """The straight-through rule: the cotangent (tangent) of ``x`` passes unchanged."""
    return g


_fake_quantize = prim("fake_quantize", _fake_quantize_np, vjp=(_through, zero),
                      jvp=(_through, zero))
_dequantize = nondiff("dequantize", _dequantize_np)


def _scale_tensor(scale: Any) -> Tensor:
    if isinstance(scale, Tensor):
        return scale
    return Tensor(np.asarray(scale, dtype=np.float32))


def fake_quantize(x: Any, scale: Any, zero_point: float = 0.0, qmin: int = 0,
                  qmax: int = 255, axis: int | None = None) -> Tensor:
    """``x`` quantized to integers in ``[qmin, qmax]`` and back (see the module
    docstring); the gradient goes straight through. ``scale``: a number or, with
    ``axis``, one per slice along that axis (per-channel, then ``zero_point`` is shared)."""
    x = lift(x)
    s = _scale_tensor(scale)
    if s.data.ndim > 1 or (s.data.ndim == 1 and axis is None):
        raise ValueError(f"fake_quantize: scale must be a number, or 1-D with an axis; got "
                         f"shape {s.data.shape} and axis {axis}")
    if not qmin < qmax:
        raise ValueError(f"fake_quantize: need qmin < qmax, got {qmin}, {qmax}")
    if axis is not None:
        axis = int(axis) % x.data.ndim
    return _fake_quantize(x, s, zero_point=float(zero_point), qmin=int(qmin),
                          qmax=int(qmax), axis=axis)


def dequantize(q: Any, scale: Any, zero_point: float = 0.0, axis: int | None = None) -> Tensor:
    """Integer ``q`` as float: ``(q - zero_point) * scale`` (``scale`` one number, or one
    per slice along ``axis``). Not differentiable."""
    q = q if isinstance(q, Tensor) else Tensor(np.asarray(q))
    if q.data.dtype.kind not in "iu":
        raise TypeError(f"dequantize: q must hold integers, got {q.data.dtype}")
    s = _scale_tensor(scale)
    if axis is not None:
        axis = int(axis) % q.data.ndim
    return _dequantize(q, s, zero_point=float(zero_point), axis=axis)
