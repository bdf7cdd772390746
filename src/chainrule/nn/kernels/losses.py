"""Classification losses with PyTorch's signatures and semantics: ``cross_entropy``,
``nll_loss`` (``weight``, ``ignore_index``, ``reduction``, ``label_smoothing``) and
``binary_cross_entropy`` on probabilities (logs clamped at -100, as PyTorch).

Classes are on the LAST axis (PyTorch's axis 1 for inputs of rank 2 is the same axis).
For rank > 2 PyTorch puts them on axis 1: class-index targets of shape (N, d1, ...) with
an input (N, C, d1, ...) are read that way when the last-axis reading does not fit; a
probability target has the input's shape, so it always means classes last. The common
case (class indices, no weight, nothing ignored) stays on the fused
``softmax_cross_entropy`` kernel; the others are compositions of differentiable ops. A
smoothed probability target is built with tensor ops, so a target that requires grad gets
its gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import ops
from ...autograd.tensor import Tensor
from ...errors import ShapeError

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduction(op: str, reduction: str, size_average: Any, reduce_: Any) -> str:
    """PyTorch's legacy size_average / reduce flags folded into ``reduction``."""
    if size_average is not None or reduce_ is not None:
        if reduce_ is False:
            reduction = "none"
        else:
            reduction = "sum" if size_average is False else "mean"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _class_weight(weight: Any, c: int, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (c,):
        raise ShapeError(f"{op}: weight must have shape ({c},) (one per class), got {w.shape}")
    return w


def _classes_last(x: Tensor, target: Any) -> Tensor:
    """x with PyTorch's class axis 1 moved last when only that layout fits the class-index
    target: (N, C, d1, ...) with target (N, d1, ...). Any other input is returned as is."""
    shape = getattr(target, "shape", None)
    if (x.ndim > 2 and shape is not None and tuple(shape) != x.shape[:-1]
            and tuple(shape) == x.shape[:1] + x.shape[2:]):
        return ops.transpose(x, (0, *range(2, x.ndim), 1))
    return x


def _indices(target: Any, lp: Tensor, op: str) -> np.ndarray:
    idx = np.asarray(target.data if isinstance(target, Tensor) else target)
    if idx.dtype.kind not in "iu" or idx.shape != lp.shape[:-1]:
        raise ShapeError(f"{op}: target must be class indices of shape {lp.shape[:-1]}, got "
                         f"{idx.dtype} of shape {idx.shape}")
    return idx


def _nll(lp: Tensor, idx: np.ndarray, w: np.ndarray | None, ignore_index: int,
         reduction: str, smoothing: float, op: str) -> Tensor:
    """Weighted NLL of class indices (optionally label-smoothed), PyTorch's mean: the sum
    divided by the total weight of the targets not ignored."""
    c = lp.shape[-1]
    keep = idx != ignore_index
    bad = keep & ((idx < 0) | (idx >= c))
    if bad.any():
        raise ValueError(f"{op}: target class indices must lie in [0, {c}) or equal "
                         f"ignore_index={ignore_index}, got {idx[bad].reshape(-1)[0]}")
    safe = np.where(keep, idx, 0).reshape(-1)
    wy = keep.reshape(-1).astype(lp.dtype)
    if w is not None:
        wy = wy * w.astype(lp.dtype)[safe]
    flat = ops.reshape(lp, (-1, c))
    loss = -ops.getitem(flat, (np.arange(safe.size), safe)) * Tensor(wy)
    if smoothing:
        per_class = flat if w is None else flat * Tensor(w.astype(lp.dtype))
        smooth = -ops.sum(per_class, axis=-1) * Tensor(keep.reshape(-1).astype(lp.dtype))
        loss = loss * (1.0 - smoothing) + smooth * (smoothing / c)
    if reduction == "mean":
        return ops.sum(loss) / Tensor(np.asarray(wy.sum(), lp.dtype))
    return reduce_loss(ops.reshape(loss, idx.shape), reduction)


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities (last axis):
    -weight[y] · input[..., y], 0 where y == ignore_index; "mean" divides by the summed
    weights of the targets kept."""
    if isinstance(weight, str):  # chainrule's older nll_loss(input, target, reduction)
        weight, reduction = None, weight
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    lp = ops.lift(input)
    if lp.ndim > 2:
        lp = _classes_last(lp, target)
    if lp.ndim < 1:
        raise ShapeError(f"nll_loss: input must have a class axis, got shape {lp.shape}")
    idx = _indices(target, lp, "nll_loss")
    return _nll(lp, idx, _class_weight(weight, lp.shape[-1], "nll_loss"), ignore_index,
                reduction, 0.0, "nll_loss")


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from logits (classes on the last axis), PyTorch's semantics.

    ``target``: class indices (integers, shape input.shape[:-1]) or probability rows
    (floats, input's shape; differentiable). ``weight``: one factor per class;
    ``ignore_index``: a class index whose entries count for nothing (index targets);
    ``label_smoothing`` in [0, 1] mixes the target with the uniform distribution."""
    if isinstance(weight, str):  # chainrule's older (logits, target, reduction, smoothing)
        weight, reduction = None, weight
        if size_average is not None and not isinstance(size_average, bool):
            size_average, label_smoothing = None, size_average
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    z = ops.lift(input)
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if z.ndim > 2:
        z = _classes_last(z, t)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if z.ndim < 1:
        raise ShapeError(f"cross_entropy: input must have a class axis, got shape {z.shape}")
    c = z.shape[-1]
    w = _class_weight(weight, c, "cross_entropy")
    if t.dtype.kind == "f":  # probabilities
        if t.shape != z.shape:
            raise ShapeError(f"cross_entropy: probability target of shape {t.shape} does "
                             f"not match input of shape {z.shape}")
        if t.dtype != z.dtype:
            t = ops.cast(t, z.dtype)
        if label_smoothing:
            t = t * (1.0 - label_smoothing) + label_smoothing / c
        if w is None:
            return reduce_loss(ops.softmax_cross_entropy(z, t), reduction)
        weighted = ops.log_softmax(z, -1) * Tensor(w.astype(z.dtype)) * t
        return reduce_loss(-ops.sum(weighted, axis=-1), reduction)
    idx = _indices(t, z, "cross_entropy")
    if w is None and not (idx == ignore_index).any():  # the fused kernel
        if label_smoothing:
            probs = np.full(z.shape, label_smoothing / c, dtype=z.dtype)
            np.put_along_axis(probs, idx[..., None].astype(np.intp),
                              1.0 - label_smoothing + label_smoothing / c, axis=-1)
            return reduce_loss(ops.softmax_cross_entropy(z, Tensor(probs)), reduction)
        return reduce_loss(ops.softmax_cross_entropy(z, t), reduction)
    return _nll(ops.log_softmax(z, -1), idx, w, ignore_index, reduction, label_smoothing,
                "cross_entropy")


def _clamped_log(x: Tensor) -> Tensor:
    """log x, at least -100 (PyTorch's clamp; no gradient where clamped)."""
    with np.errstate(divide="ignore"):
        live = np.log(x.data) > -100
    if live.all():
        return ops.log(x)
    return ops.where(live, ops.log(ops.where(live, x, 1.0)), -100.0)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-weight · [y log x + (1 - y) log(1 - x)] for probabilities x in [0, 1], each log
    clamped at -100 as PyTorch does (so x = 0 or 1 gives a finite loss)."""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    x, y = ops.lift(input), ops.lift(target)
    if x.shape != y.shape:
        raise ShapeError(f"binary_cross_entropy: input of shape {x.shape} and target of "
                         f"shape {y.shape} differ")
    if x.data.size and not ((x.data >= 0) & (x.data <= 1)).all():
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1]")
    loss = -(y * _clamped_log(x) + (1.0 - y) * _clamped_log(1.0 - x))
    if weight is not None:
        w = ops.lift(weight)
        loss = loss * (ops.cast(w, x.dtype) if w.dtype != x.dtype else w)
    return reduce_loss(loss, reduction)
