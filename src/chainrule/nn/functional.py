"""Stateless neural-network functions: activations, dropout, normalisation, losses.

All are compositions of the engine's primitives (``chainrule.autograd.ops``), so every
one of them is differentiable to any order. Classes are on the LAST axis for
softmax-based losses (as Keras; PyTorch puts them on axis 1 for inputs of rank > 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import (  # re-exported stateless activations
    elu,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    tanh,
)
from ..autograd.tensor import Tensor
from ..graph.randomness import random_primitive
from ..random import get_rng
from .activations import (  # noqa: F401  (PyTorch's activations, re-exported)
    celu,
    gelu,  # + the sigmoid approximation (issue 20)
    gelu_sigmoid,
    hardsigmoid,
    hardswish,
    mish,
    normalize,
    softmin,
    softplus,
    softsign,
    swish,  # Swish with beta (issue 20)
)
from .kernels import (  # noqa: F401  (convolution and pooling, re-exported)
    conv2d,
    conv_transpose2d,
    unfold,
)
from .kernels.convnd import conv1d, conv3d, conv_transpose1d  # noqa: F401
from .kernels.losses import (  # noqa: F401
    REDUCTIONS,
    binary_cross_entropy,
    cross_entropy,
    nll_loss,
    reduce_loss,
)
from .kernels.losses import _reduction as _legacy_reduction  # noqa: F401
from .kernels.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from .kernels.resample import interpolate, pad  # noqa: F401

# (above: convolution, pooling, padding, resampling and the classification losses with
# PyTorch's names and semantics, from nn.kernels)

# isort: split
from ..autograd.ops import (  # noqa: F401  (indexing, scans, creation: issue 23)
    arange,
    cummax,
    cummin,
    cumprod,
    cumsum,
    eye,
    full,
    full_like,
    gather,
    index_select,
    linspace,
    logcumsumexp,
    masked_fill,
    masked_select,
    meshgrid,
    nonzero,
    one_hot,
    repeat_interleave,
    scatter_reduce,
    topk,
    tril,
    triu,
)
from ..autograd.ops.selection import (  # noqa: F401  (PyTorch's, not NumPy's, sort)
    argsort,
    scatter,
    scatter_add,
    sort,
)
from .sampled_softmax import sampled_softmax_cross_entropy  # noqa: F401  (issue 15, ex. 7)

__all__ = ["elu", "gelu", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "relu", "selu",
           "sigmoid", "silu", "softmax", "softplus", "swish", "tanh", "dropout", "alpha_dropout",
           "batch_norm", "layer_norm", "mse_loss", "l1_loss", "huber_loss", "cross_entropy",
           "nll_loss", "binary_cross_entropy_with_logits",
           "celu", "hardsigmoid", "hardswish", "mish", "normalize", "softmin", "softsign"]

_REDUCTIONS = REDUCTIONS
_reduce = reduce_loss


def _check_p(p: float, name: str) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: drop probability must be in [0, 1), got {p}")


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
    _check_p(p, "dropout")
    x = ops.lift(x)
    if not training or p == 0.0:
        return x
    if rng is None:  # a primitive that draws: a compiled graph draws anew at every run
        return x * _dropout_mask(x, p=p)
    keep = rng.random(x.shape) >= p
    return x * Tensor((keep / (1.0 - p)).astype(x.dtype))


def _dropout_mask_np(x: np.ndarray, p: float) -> np.ndarray:
    # 0 or 1/(1-p) rounded to x's dtype, written in it directly (no float64 mask)
    keep = get_rng().random(x.shape) >= p
    return np.multiply(keep, x.dtype.type(1.0 / (1.0 - p)), dtype=x.dtype)


_dropout_mask = random_primitive("dropout_mask", _dropout_mask_np)  # (issue 16, graphs)


def alpha_dropout(x: Any, p: float = 0.5, training: bool = True,
                  rng: np.random.Generator | None = None) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's negative saturation value and
    an affine correction keeps mean 0 and variance 1 (Klambauer et al., 2017)."""
    _check_p(p, "alpha_dropout")
    x = ops.lift(x)
    if not training or p == 0.0:
        return x
    alpha_p = -ops.SELU_ALPHA * ops.SELU_SCALE
    keep = (rng or get_rng()).random(x.shape) >= p
    a = (1.0 / np.sqrt((1 - p) * (1 + p * alpha_p ** 2)))
    b = -a * alpha_p * p
    kept = Tensor(keep.astype(x.dtype))
    return (x * kept + alpha_p * (1 - kept)) * a + b


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise over every axis but 1 (channels): (N, C) or (N, C, *spatial).

    In training the batch statistics are used and the running ones updated in place
    (running = (1 - momentum) * running + momentum * batch, unbiased variance, as PyTorch);
    in evaluation the running statistics are used.
    """
    x = ops.lift(x)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.var(x, axis=axes, keepdims=True, correction=0)
        if running_mean is not None:
            n = x.data.size // x.shape[1]
            running_mean *= 1 - momentum
            running_mean += momentum * mean.data.reshape(-1)
            running_var *= 1 - momentum
            running_var += momentum * var.data.reshape(-1) * (n / max(n - 1, 1))
    else:
        mean = Tensor(running_mean.reshape(shape).astype(x.dtype, copy=False))
        var = Tensor(running_var.reshape(shape).astype(x.dtype, copy=False))
    y = (x - mean) / ops.sqrt(var + eps)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    if bias is not None:
        y = y + ops.reshape(bias, shape)
    return y


def layer_norm(x: Any, normalized_shape: tuple[int, ...], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes of each example."""
    x = ops.lift(x)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != tuple(normalized_shape):
        raise ops.ShapeError(f"layer_norm: input of shape {x.shape} does not end with "
                             f"normalized_shape {tuple(normalized_shape)}")
    if k == 1 and weight is not None and bias is not None:  # the fused kernel (issue 15)
        return _layer_norm_last_axis(x, weight, bias, eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = ops.mean(x, axis=axes, keepdims=True)
    var = ops.var(x, axis=axes, keepdims=True, correction=0)
    y = (x - mean) / ops.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# ----------------------------------------------------------------------------- losses


def _same_shape(pred: Tensor, target: Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ops.ShapeError(f"{name}: prediction of shape {pred.shape} and target of shape "
                             f"{target.shape} differ")


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    pred, target = ops.lift(pred), ops.lift(target)
    _same_shape(pred, target, "mse_loss")
    d = pred - target
    return _reduce(d * d, reduction)


def l1_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    pred, target = ops.lift(pred), ops.lift(target)
    _same_shape(pred, target, "l1_loss")
    return _reduce(ops.abs(pred - target), reduction)


def huber_loss(pred: Any, target: Any, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """0.5 d² where |d| <= delta, else delta (|d| - 0.5 delta)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    pred, target = ops.lift(pred), ops.lift(target)
    _same_shape(pred, target, "huber_loss")
    d = pred - target
    ad = ops.abs(d)
    loss = ops.where(ad.data <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean",
                                     pos_weight: float | None = None) -> Tensor:
    """-[w y log σ(z) + (1 - y) log(1 - σ(z))], computed stably from the logits z."""
    z, y = ops.lift(logits), ops.lift(target)
    _same_shape(z, y, "binary_cross_entropy_with_logits")
    pos = ops.log_sigmoid(z)
    neg = ops.log_sigmoid(-z)
    if pos_weight is not None:
        pos = pos * pos_weight
    return _reduce(-(y * pos + (1 - y) * neg), reduction)


# ----------------------------------------------------------------------------- convolution


def global_avg_pool2d(x: Any) -> Tensor:
    """(N, C, H, W) -> (N, C): the mean of each feature map."""
    x = ops.lift(x)
    if x.ndim != 4:
        raise ops.ShapeError(f"global_avg_pool2d: expected (N, C, H, W), got {x.shape}")
    return ops.mean(x, axis=(2, 3))


__all__ += ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "unfold",
            "pad", "interpolate",
            "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "max_unpool1d",
            "max_unpool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
            "adaptive_max_pool1d", "adaptive_max_pool2d", "global_avg_pool2d",
            "binary_cross_entropy"]

# isort: split
# (issue 15: attention; the fused primitive lives in nn/kernels/attention.py)
from .kernels.attention import scaled_dot_product_attention  # noqa: E402
from .kernels.norm import layer_norm_last_axis as _layer_norm_last_axis  # noqa: E402

__all__ += ["scaled_dot_product_attention"]
