"""Metrics: plain functions ``(pred, target) -> float`` and epoch-wide accumulators.

Each built-in metric is a function on NumPy arrays that scores one batch, plus the rule
for combining batches into an epoch value without error: a metric is a *sum* over
elements divided by a *count*, finished by an optional function. Accuracy counts correct
samples, MAE sums absolute errors, RMSE sums **squared** errors and takes the square root
only at the end of the epoch (averaging per-batch RMSEs would be wrong, and more wrong the
more uneven the batches).

Names usable as strings: ``"accuracy"`` (alias ``"acc"``), ``"mae"``, ``"mse"``,
``"rmse"``. Any other callable ``(pred, target) -> float`` works too; it is treated as a
per-sample mean and weighted by batch size across batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "Metric",
    "MetricTracker",
    "RunningMean",
    "accuracy",
    "get_metric",
    "mae",
    "mse",
    "rmse",
]

MetricFn = Callable[[np.ndarray, np.ndarray], float]
Totals = Callable[[np.ndarray, np.ndarray], tuple[float, int]]


# --------------------------------------------------------------------------- helpers


def _as_array(x: Any) -> np.ndarray:
    """An ndarray from an array, a chainrule Tensor or anything array-like."""
    return np.asarray(getattr(x, "data", x))


def _predicted_classes(pred: np.ndarray) -> np.ndarray:
    """Class per sample: argmax over the last axis, or ``logit > 0`` for one output."""
    if pred.ndim == 0:
        raise ValueError("accuracy: predictions must have a sample axis, got a 0-d array")
    if pred.shape[-1] == 1 and pred.ndim > 1:
        return (pred[..., 0] > 0).astype(np.int64)
    if pred.ndim == 1:
        if pred.dtype.kind in "iub":
            return pred.astype(np.int64)
        return (pred > 0).astype(np.int64)
    return np.argmax(pred, axis=-1)


def _target_classes(target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Class per sample from integer labels, one-hot/probability rows, or 0/1 targets."""
    if target.shape == pred.shape and pred.ndim > 1 and pred.shape[-1] > 1:
        return np.argmax(target, axis=-1)  # one-hot or probability rows
    if target.shape == pred.shape and pred.ndim > 1:  # binary, (N, ..., 1)
        target = target[..., 0]
    if target.dtype.kind == "f":
        return (target > 0.5).astype(np.int64)  # 0/1 floats (a probability for binary)
    return target.astype(np.int64)


def _paired(pred: Any, target: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of equal shape for an elementwise metric ((N, 1) vs (N,) is accepted)."""
    p, t = _as_array(pred), _as_array(target)
    if p.shape != t.shape:
        if p.size != t.size:
            raise ValueError(f"{name}: prediction of shape {p.shape} and target of shape "
                             f"{t.shape} do not match")
        t = t.reshape(p.shape)
    return p.astype(np.float64, copy=False), t.astype(np.float64, copy=False)


# --------------------------------------------------------------------------- sums and counts


def _accuracy_totals(pred: Any, target: Any) -> tuple[float, int]:
    p, t = _as_array(pred), _as_array(target)
    got, want = _predicted_classes(p), _target_classes(t, p)
    if got.shape != want.shape:
        raise ValueError(f"accuracy: predictions of shape {p.shape} and targets of shape "
                         f"{t.shape} do not match (expected targets of shape {got.shape} "
                         f"or {p.shape})")
    return float(np.count_nonzero(got == want)), int(got.size)


def _abs_error_totals(pred: Any, target: Any) -> tuple[float, int]:
    p, t = _paired(pred, target, "mae")
    return float(np.abs(p - t).sum()), int(p.size)


def _squared_error_totals(pred: Any, target: Any) -> tuple[float, int]:
    p, t = _paired(pred, target, "mse")
    d = p - t
    return float((d * d).sum()), int(p.size)


# --------------------------------------------------------------------------- the metrics


@dataclass(frozen=True)
class Metric:
    """A named metric that can be accumulated over batches.

    ``totals(pred, target)`` gives ``(sum, count)`` for one batch; the epoch value is
    ``finish(total_sum / total_count)``.
    """

    name: str
    totals: Totals
    finish: Callable[[float], float] = field(default=float)

    def __call__(self, pred: Any, target: Any) -> float:
        """The metric of one batch (or of the whole data set, given all of it)."""
        s, n = self.totals(pred, target)
        return self.finish(s / n) if n else float("nan")


ACCURACY = Metric("accuracy", _accuracy_totals)
MAE = Metric("mae", _abs_error_totals)
MSE = Metric("mse", _squared_error_totals)
RMSE = Metric("rmse", _squared_error_totals, math.sqrt)


def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Fraction of samples classified correctly.

    ``pred``: logits or probabilities of shape (N, C) (class = argmax), or binary logits of
    shape (N, 1) or (N,) (class = ``logit > 0``; pass logits, not sigmoid probabilities).
    ``target``: class indices of shape (N,), or one-hot/probability rows of shape (N, C);
    for binary predictions, 0/1 labels of shape (N,) or (N, 1).
    """
    return ACCURACY(pred, target)


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error over all elements (``pred`` and ``target`` of equal size)."""
    return MAE(pred, target)


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over all elements."""
    return MSE(pred, target)


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    """Root of the mean squared error over all elements."""
    return RMSE(pred, target)


#: Metrics by name, for ``Trainer(metrics=["accuracy", "rmse"])``.
METRICS: dict[str, Metric] = {
    "accuracy": ACCURACY,
    "acc": ACCURACY,
    "mae": MAE,
    "mse": MSE,
    "rmse": RMSE,
}
_BY_FUNCTION: dict[Callable[..., float], Metric] = {
    accuracy: ACCURACY, mae: MAE, mse: MSE, rmse: RMSE,
}


def _mean_of(fn: MetricFn) -> Totals:
    """Sum and count for a user function that returns a per-sample mean for a batch."""

    def totals(pred: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        n = len(pred) if np.ndim(pred) else 1
        return float(fn(pred, target)) * n, n

    return totals


def get_metric(metric: str | Metric | MetricFn) -> Metric:
    """A :class:`Metric` from a name (see :data:`METRICS`), a Metric, or a callable.

    A callable ``(pred, target) -> float`` is taken to return a mean over the batch's
    samples; across batches it is averaged weighted by batch size. Its name is its
    ``__name__``.
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        try:
            return METRICS[metric.lower()]
        except KeyError:
            raise ValueError(f"unknown metric {metric!r}; known metrics: "
                             f"{', '.join(sorted(METRICS))} (or pass a function "
                             "(pred, target) -> float)") from None
    if callable(metric):
        if metric in _BY_FUNCTION:
            return _BY_FUNCTION[metric]
        return Metric(getattr(metric, "__name__", type(metric).__name__), _mean_of(metric))
    raise TypeError(f"a metric must be a name or a callable, got {type(metric).__name__}")


class MetricTracker:
    """Running loss and metrics over one pass through the data, weighted exactly.

    ``update(loss, pred, target)`` adds one batch (``loss`` is the batch mean);
    ``result()`` gives ``{"loss": ..., name: ...}`` for everything seen so far,
    with ``prefix`` (e.g. ``"val_"``) prepended to each key.
    """

    def __init__(self, metrics: Iterable[Metric], prefix: str = "") -> None:
        self.metrics = list(metrics)
        self.prefix = prefix
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        self.loss_sum = 0.0
        self.samples = 0
        self.sums = [0.0] * len(self.metrics)
        self.counts = [0] * len(self.metrics)

    def update(self, loss: float, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one batch of ``len(pred)`` samples whose mean loss is ``loss``."""
        n = len(pred) if np.ndim(pred) else 1
        self.loss_sum += float(loss) * n
        self.samples += n
        for i, metric in enumerate(self.metrics):
            s, c = metric.totals(pred, target)
            self.sums[i] += s
            self.counts[i] += c

    def result(self) -> dict[str, float]:
        """The loss and every metric over all batches seen so far."""
        p = self.prefix
        out = {f"{p}loss": self.loss_sum / self.samples if self.samples else float("nan")}
        for metric, s, c in zip(self.metrics, self.sums, self.counts):
            out[f"{p}{metric.name}"] = metric.finish(s / c) if c else float("nan")
        return out

    def state_dict(self) -> dict[str, Any]:
        """The running sums (to resume an epoch exactly)."""
        return {"loss_sum": self.loss_sum, "samples": self.samples, "sums": list(self.sums),
                "counts": list(self.counts)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if len(state["sums"]) != len(self.metrics):
            raise ValueError(f"MetricTracker: the saved state has {len(state['sums'])} "
                             f"metrics, this tracker {len(self.metrics)}")
        self.loss_sum, self.samples = state["loss_sum"], state["samples"]
        self.sums, self.counts = list(state["sums"]), list(state["counts"])


class RunningMean:
    """Running means of the values a training step reports (e.g. a GAN's ``d_loss``).

    ``update(logs)`` adds one step's values, weighted by ``logs["size"]`` when present
    (else 1); ``result()`` gives the mean of every key seen so far (``size`` left out).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        self.sums: dict[str, float] = {}
        self.weights: dict[str, float] = {}
        self.count = 0  # updates since the reset

    def update(self, logs: Mapping[str, float]) -> dict[str, float]:
        """Add one step's values; returns the running means."""
        weight = float(logs.get("size", 1))
        self.count += 1
        for key, value in logs.items():
            if key != "size":
                self.sums[key] = self.sums.get(key, 0.0) + float(value) * weight
                self.weights[key] = self.weights.get(key, 0.0) + weight
        return self.result()

    def result(self) -> dict[str, float]:
        """The mean of every key over the updates seen so far."""
        return {key: total / self.weights[key] for key, total in self.sums.items()}

    def state_dict(self) -> dict[str, Any]:
        """The running sums (to resume an epoch exactly)."""
        return {"sums": dict(self.sums), "weights": dict(self.weights), "count": self.count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sums, self.weights = dict(state["sums"]), dict(state["weights"])
        self.count = state["count"]
