"""Metrics against hand computations, and exact aggregation over uneven batches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.train import METRICS, MetricTracker, accuracy, get_metric, mae, mse, rmse

LOGITS = np.array([[2.0, 1.0, 0.0], [0.1, 0.5, 0.2], [0.0, 0.0, 3.0], [1.0, 4.0, 0.0]])
LABELS = np.array([0, 1, 1, 1])  # 3 of 4 right


def test_accuracy_from_logits_and_integer_labels() -> None:
    assert accuracy(LOGITS, LABELS) == 0.75


def test_accuracy_from_probabilities_and_one_hot_targets() -> None:
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    one_hot = np.eye(3)[LABELS]
    assert accuracy(probs, one_hot) == 0.75


def test_accuracy_from_binary_logits_uses_threshold_zero() -> None:
    logits = np.array([[-1.0], [0.5], [2.0], [-0.1]])
    assert accuracy(logits, np.array([0, 1, 0, 0])) == 0.75       # int targets (N,)
    assert accuracy(logits, np.array([[0.0], [1.0], [0.0], [0.0]])) == 0.75  # (N, 1) floats
    assert accuracy(logits[:, 0], np.array([0, 1, 1, 0])) == 1.0   # (N,) logits


def test_accuracy_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="accuracy"):
        accuracy(LOGITS, np.array([0, 1]))


def test_mae_mse_rmse_by_hand() -> None:
    pred = np.array([1.0, 2.0, 3.0, 4.0])
    target = np.array([1.5, 2.0, 1.0, 4.0])
    assert mae(pred, target) == pytest.approx((0.5 + 0 + 2 + 0) / 4)
    assert mse(pred, target) == pytest.approx((0.25 + 4) / 4)
    assert rmse(pred, target) == pytest.approx(math.sqrt((0.25 + 4) / 4))
    # (N, 1) predictions against (N,) targets are accepted
    assert rmse(pred[:, None], target) == pytest.approx(rmse(pred, target))


def test_rmse_accumulates_squared_errors_over_uneven_batches() -> None:
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    tracker = MetricTracker([get_metric("rmse"), get_metric("mae")])
    for lo, hi in ((0, 5), (5, 6), (6, 7)):  # batches of 5, 1 and 1 samples
        tracker.update(0.0, pred[lo:hi], target[lo:hi])
    whole = math.sqrt(np.mean((pred - target) ** 2))
    assert tracker.result()["rmse"] == pytest.approx(whole, rel=1e-12)
    assert tracker.result()["mae"] == pytest.approx(np.mean(np.abs(pred - target)), rel=1e-12)
    per_batch = np.mean([rmse(pred[a:b], target[a:b]) for a, b in ((0, 5), (5, 6), (6, 7))])
    assert abs(per_batch - whole) > 1e-3  # the naive average would be wrong


def test_tracker_weights_loss_and_accuracy_by_batch_size() -> None:
    tracker = MetricTracker([get_metric("accuracy")], prefix="val_")
    tracker.update(1.0, LOGITS[:3], LABELS[:3])  # 2 of 3 right, mean loss 1
    tracker.update(4.0, LOGITS[3:], LABELS[3:])  # 1 of 1 right, mean loss 4
    result = tracker.result()
    assert result == {"val_loss": pytest.approx((3 * 1.0 + 4.0) / 4), "val_accuracy": 0.75}


def test_names_and_custom_callables() -> None:
    assert {"accuracy", "acc", "mae", "mse", "rmse"} <= set(METRICS)
    assert get_metric("ACC").name == "accuracy"
    assert get_metric(rmse).name == "rmse"

    def max_error(pred: np.ndarray, target: np.ndarray) -> float:
        return float(np.max(np.abs(pred - target)))

    metric = get_metric(max_error)
    assert metric.name == "max_error"
    tracker = MetricTracker([metric])
    tracker.update(0.0, np.zeros(3), np.array([1.0, 0.0, 0.0]))  # batch value 1, 3 samples
    tracker.update(0.0, np.zeros(1), np.array([5.0]))            # batch value 5, 1 sample
    assert tracker.result()["max_error"] == pytest.approx((3 * 1 + 5) / 4)


def test_unknown_metric_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known metrics: .*accuracy"):
        get_metric("f1")
