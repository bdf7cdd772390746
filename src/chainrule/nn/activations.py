"""PyTorch's activation functions with its names, defaults and edge semantics.

``celu``, ``mish``, ``softsign``, ``softmin``, ``normalize`` and ``softplus(beta,
threshold)`` are compositions of the engine's primitives; ``hardsigmoid`` and ``hardswish``
are primitives (``autograd/ops/elementwise.py``) so that their derivatives at the kinks
are PyTorch's. All are re-exported by ``chainrule.nn.functional``. ``inplace`` is accepted
where PyTorch has it, for ported code; the result is always a new tensor.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import hardsigmoid as _hardsigmoid
from ..autograd.ops import hardswish as _hardswish
from ..autograd.tensor import Tensor
from .kernels.gelu import gelu as _fused_gelu  # one primitive (issue 15)

__all__ = ["celu", "gelu", "gelu_sigmoid", "hardsigmoid", "hardswish", "mish", "normalize",
           "softmin", "softplus", "softsign", "swish"]


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule:
    there the gradient is exactly 1)."""
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")
    x = ops.lift(x)
    z = x if beta == 1 else x * beta
    y = ops.softplus(z) if beta == 1 else ops.softplus(z) / beta
    over = z.data > threshold
    return ops.where(over, x, y) if over.any() else y


def swish(x: Any, beta: float = 1.0) -> Tensor:
    """x sigmoid(beta x) (Ramachandran et al.); beta = 1 is SiLU (issue 20)."""
    x = ops.lift(x)
    return ops.silu(x) if beta == 1 else x * ops.sigmoid(x * beta)


def gelu_sigmoid(x: Any) -> Tensor:
    """GELU's sigmoid approximation x sigmoid(1.702 x) (Hendrycks and Gimpel; Hands-On ML
    ch. 11)."""
    x = ops.lift(x)
    return x * ops.sigmoid(x * 1.702)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x): exact (``"none"``, with erf), ``"tanh"`` or ``"sigmoid"`` approximation."""
    return gelu_sigmoid(x) if approximate == "sigmoid" else _fused_gelu(x, approximate)


def celu(x: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1)) = alpha elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (it divides x)")
    x = ops.lift(x)
    return ops.elu(x) if alpha == 1 else ops.elu(x / alpha) * alpha


def mish(x: Any, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)) (Misra, 2019)."""
    x = ops.lift(x)
    return x * ops.tanh(ops.softplus(x))


def hardswish(x: Any, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6; derivative 0 for x <= -3, 1 for x >= 3 (PyTorch's)."""
    return _hardswish(ops.lift(x))


def hardsigmoid(x: Any, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; derivative 1/6 strictly inside (-3, 3), else 0 (PyTorch's)."""
    return _hardsigmoid(ops.lift(x))


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = ops.lift(x)
    return x / (1 + ops.abs(x))


def _implicit_dim(name: str, ndim: int) -> int:
    """PyTorch's deprecated choice of axis when ``dim`` is not given (with its warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(x: Any, dim: int | None = None, dtype: Any = None) -> Tensor:
    """softmax(-x) over ``dim`` (PyTorch's softmin; ``dim=None`` picks the axis as PyTorch
    does, with its deprecation warning)."""
    x = ops.lift(x)
    if dtype is not None:
        x = ops.cast(x, dtype)
    if dim is None:
        dim = _implicit_dim("softmin", x.ndim)
    return ops.softmax(-x, axis=dim)


def _vector_norm(x: Tensor, p: float, dim: Any) -> Tensor:
    if p == 2:
        return ops.norm(x, axis=dim, keepdims=True)
    a = ops.abs(x)
    if p == 1:
        return ops.sum(a, axis=dim, keepdims=True)
    if p == math.inf:
        return ops.max(a, axis=dim, keepdims=True)
    if p == -math.inf:
        return ops.min(a, axis=dim, keepdims=True)
    if p == 0:
        return ops.sum(ops.cast(ops.not_equal(x, 0), x.dtype), axis=dim, keepdims=True)
    return ops.sum(a ** p, axis=dim, keepdims=True) ** (1 / p)


def normalize(x: Any, p: float = 2.0, dim: Any = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (PyTorch's ``F.normalize``)."""
    x = ops.lift(x)
    if x.ndim == 0:
        raise ValueError(f"normalize: x must have at least one axis to normalize along "
                         f"dim={dim}, got a 0-d tensor")
    if not isinstance(p, (int, float, np.integer, np.floating)) or isinstance(p, bool):
        raise TypeError(f"normalize: p must be a number, got {p!r}")
    return x / ops.clip(_vector_norm(x, float(p), dim), min=eps)
