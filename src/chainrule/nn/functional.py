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
    gelu,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ..autograd.tensor import Tensor
from ..random import get_rng
from .kernels import (  # noqa: F401  (convolution and pooling, re-exported)
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    max_pool2d,
    unfold,
)

swish = silu
__all__ = ["elu", "gelu", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "relu", "selu",
           "sigmoid", "silu", "softmax", "softplus", "swish", "tanh", "dropout", "alpha_dropout",
           "batch_norm", "layer_norm", "mse_loss", "l1_loss", "huber_loss", "cross_entropy",
           "nll_loss", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


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
    keep = (rng or get_rng()).random(x.shape) >= p
    return x * Tensor((keep / (1.0 - p)).astype(x.dtype))


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


def cross_entropy(logits: Any, target: Any, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from logits (classes on the last axis), fused and stable.

    ``target``: class indices (integers, shape logits.shape[:-1]) or one-hot /
    probability rows (floats, logits' shape).
    """
    z = ops.lift(logits)
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1), got "
                         f"{label_smoothing}")
    if label_smoothing:
        c = z.shape[-1]
        probs = t.data if t.dtype.kind == "f" else np.eye(c, dtype=z.dtype)[t.data]
        t = Tensor((probs * (1 - label_smoothing) + label_smoothing / c).astype(z.dtype))
    elif t.dtype.kind == "f" and t.dtype != z.dtype:
        t = ops.cast(t, z.dtype)
    return _reduce(ops.softmax_cross_entropy(z, t), reduction)


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities (last axis)."""
    lp = ops.lift(log_probs)
    idx = np.asarray(target.data if isinstance(target, Tensor) else target)
    if idx.dtype.kind not in "iu" or idx.shape != lp.shape[:-1]:
        raise ops.ShapeError(f"nll_loss: target must be class indices of shape "
                             f"{lp.shape[:-1]}, got {idx.dtype} of shape {idx.shape}")
    picked = lp[tuple(np.indices(idx.shape)) + (idx,)]
    return _reduce(-picked, reduction)


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


def conv1d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: Any = 0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution: x (N, C, L), weight (O, C/groups, k) -> (N, O, Lo)."""
    x, weight = ops.lift(x), ops.lift(weight)
    if x.ndim != 3 or weight.ndim != 3:
        raise ops.ShapeError(f"conv1d: expected input (N, C, L) and weight (O, C/groups, k), "
                             f"got shapes {x.shape} and {weight.shape}")
    pad = padding if isinstance(padding, str) else (0, padding)
    y = conv2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, stride=(1, stride),
               padding=pad, dilation=(1, dilation), groups=groups)
    return ops.squeeze(y, 2)


def max_pool1d(x: Any, kernel_size: int, stride: int | None = None, padding: int = 0) -> Tensor:
    """Max over windows of a (N, C, L) input."""
    x = ops.lift(x)
    if x.ndim != 3:
        raise ops.ShapeError(f"max_pool1d: expected input (N, C, L), got shape {x.shape}")
    y = max_pool2d(ops.unsqueeze(x, 2), (1, kernel_size),
                   None if stride is None else (1, stride), (0, padding))
    return ops.squeeze(y, 2)


def global_avg_pool2d(x: Any) -> Tensor:
    """(N, C, H, W) -> (N, C): the mean of each feature map."""
    x = ops.lift(x)
    if x.ndim != 4:
        raise ops.ShapeError(f"global_avg_pool2d: expected (N, C, H, W), got {x.shape}")
    return ops.mean(x, axis=(2, 3))
