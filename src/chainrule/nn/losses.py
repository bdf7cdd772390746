"""Loss modules and weight penalties. Each loss returns a scalar unless reduction="none"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in F._REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{F._REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, pred: Any, target: Any) -> Tensor:
        return F.mse_loss(pred, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, pred: Any, target: Any) -> Tensor:
        return F.l1_loss(pred, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, pred: Any, target: Any) -> Tensor:
        return F.huber_loss(pred, target, self.delta, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits: targets are class indices or probability rows.
    PyTorch's options: per-class ``weight``, ``ignore_index``, ``label_smoothing``."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        if isinstance(weight, str):  # the older CrossEntropyLoss(reduction, label_smoothing)
            weight, reduction = None, weight
            if size_average is not None and not isinstance(size_average, bool):
                size_average, label_smoothing = None, size_average
        super().__init__(F._legacy_reduction("CrossEntropyLoss", reduction, size_average,
                                             reduce))
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self.weight, self.ignore_index = weight, ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices: ``weight``, ``ignore_index`` as PyTorch."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        if isinstance(weight, str):  # the older NLLLoss(reduction)
            weight, reduction = None, weight
        super().__init__(F._legacy_reduction("NLLLoss", reduction, size_average, reduce))
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, log_probs: Any, target: Any) -> Tensor:
        return F.nll_loss(log_probs, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (logs clamped at -100, as PyTorch)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(F._legacy_reduction("BCELoss", reduction, size_average, reduce))
        self.weight = weight

    def forward(self, probs: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(probs, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, reduction: str = "mean", pos_weight: float | None = None) -> None:
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction,
                                                  self.pos_weight)


# ----------------------------------------------------------------------------- penalties


def _weights(params: Module | Iterable[Parameter]) -> list[Parameter]:
    """Weights to penalise: a module's parameters with 2+ dimensions (not biases)."""
    if isinstance(params, Module):
        return [p for p in params.parameters() if p.ndim >= 2]
    return list(params)


def l1_penalty(params: Module | Iterable[Parameter], factor: float) -> Tensor:
    """factor * sum |w|, to add to the loss (biases excluded when given a module)."""
    return factor * ops.sum(ops.stack([ops.abs(w).sum() for w in _weights(params)]))


def l2_penalty(params: Module | Iterable[Parameter], factor: float) -> Tensor:
    """factor * sum w² (Keras' l2; equals weight decay 2*factor for plain SGD)."""
    return factor * ops.sum(ops.stack([(w * w).sum() for w in _weights(params)]))


def max_norm_(params: Module | Iterable[Parameter], max_value: float, axis: int = 1) -> None:
    """Max-norm constraint, applied after each optimizer step: rescale each weight row
    (the incoming weights of one unit: axis 1 for (out, in) weights) whose norm exceeds
    ``max_value``."""
    if max_value <= 0:
        raise ValueError(f"max_norm_: max_value must be positive, got {max_value}")
    for w in _weights(params):
        axes = tuple(a for a in range(w.ndim) if a != 0) if axis == 1 else (axis,)
        norms = np.sqrt(np.sum(w.data * w.data, axis=axes, keepdims=True))
        w.data *= np.minimum(1.0, max_value / np.maximum(norms, 1e-12)).astype(w.dtype)
