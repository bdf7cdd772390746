"""Softmax regression by batch gradient descent, NumPy only (Hands-On ML ch. 4, exercise 12).

The book's notebook, step for step, so that its printed numbers come out to the last
digits: the iris petal features with a bias column, a 60/20/20 split drawn by
``np.random.seed(42); np.random.permutation(150)``, standardization with the training
statistics, ``Theta = np.random.randn(3, 3)`` after seeding 42 again, and the update
``Theta -= eta * (1 / m * X.T @ (softmax(X @ Theta) - Y))``::

    from chainrule.linear_softmax import iris_split, softmax_bgd

    split = iris_split()
    run = softmax_bgd(split, epochs=5001)
    run.logged[5000]        # 0.11002459532472425 (validation cross-entropy)
    stop = softmax_bgd(split, epochs=50_001, C=100, early_stopping=True)
    stop.stopped_epoch      # 282

Early stopping follows the notebook: the validation loss (cross-entropy plus
``1/C * 1/2 * ||Theta[1:]||^2``) is computed every epoch before the update, and training
stops at the first epoch whose loss is not below the best so far (``Theta`` is then the
one that gave that loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule.data import IRIS_FEATURES, load_iris

__all__ = ["IrisSplit", "SoftmaxRun", "accuracy", "iris_split", "softmax", "softmax_bgd",
           "to_one_hot"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax exactly as the notebook writes it (no max subtraction)."""
    exps = np.exp(logits)
    return exps / exps.sum(axis=1, keepdims=True)


def to_one_hot(y: np.ndarray) -> np.ndarray:
    """One-hot rows, ``y.max() + 1`` columns (the notebook's ``np.diag(...)[y]``)."""
    return np.diag(np.ones(y.max() + 1))[y]


@dataclass
class IrisSplit:
    """Design matrices with a bias column (features standardized) and class labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def iris_split(seed: int = 42, test_ratio: float = 0.2, validation_ratio: float = 0.2,
               features: tuple[str, ...] = ("petal length (cm)", "petal width (cm)")
               ) -> IrisSplit:
    """The notebook's split of the bundled iris data (``np.random.seed(seed)`` then one
    permutation; train first, then validation, test last), standardized with the
    training mean and (population) standard deviation."""
    x, y = load_iris()
    X = x[:, [IRIS_FEATURES.index(f) for f in features]]
    X_with_bias = np.c_[np.ones(len(X)), X]
    total = len(X_with_bias)
    test_size = int(total * test_ratio)
    valid_size = int(total * validation_ratio)
    train_size = total - test_size - valid_size
    idx = np.random.RandomState(seed).permutation(total)  # == np.random.seed + permutation
    parts = [idx[:train_size], idx[train_size:-test_size], idx[-test_size:]]
    Xs = [X_with_bias[p] for p in parts]
    mean = Xs[0][:, 1:].mean(axis=0)
    std = Xs[0][:, 1:].std(axis=0)
    for Xp in Xs:
        Xp[:, 1:] = (Xp[:, 1:] - mean) / std
    return IrisSplit(Xs[0], y[parts[0]], Xs[1], y[parts[1]], Xs[2], y[parts[2]])


@dataclass
class SoftmaxRun:
    """``theta`` (n_inputs, n_classes) at the end; ``logged``: epoch -> validation loss
    at every ``log_every`` epochs; ``stopped_epoch``/``best_loss`` for early stopping."""

    theta: np.ndarray
    logged: dict[int, float] = field(default_factory=dict)
    stopped_epoch: int | None = None
    best_loss: float | None = None


def softmax_bgd(split: IrisSplit, *, eta: float = 0.5, epochs: int = 5001,
                epsilon: float = 1e-5, C: float | None = None, early_stopping: bool = False,
                seed: int = 42, log_every: int = 1000) -> SoftmaxRun:
    """Batch gradient descent on the cross-entropy (plus ``1/C`` times the l2 penalty of
    the non-bias weights when ``C`` is given); see the module docstring."""
    X, Xv = split.X_train, split.X_valid
    Y, Yv = to_one_hot(split.y_train), to_one_hot(split.y_valid)
    n_inputs, n_outputs = X.shape[1], len(np.unique(split.y_train))
    m = len(X)
    theta = np.random.RandomState(seed).randn(n_inputs, n_outputs)
    run = SoftmaxRun(theta)
    best = np.inf
    for epoch in range(epochs):
        Y_proba = softmax(X @ theta)
        if early_stopping or epoch % log_every == 0:
            losses = -(Yv * np.log(softmax(Xv @ theta) + epsilon))
            loss = losses.sum(axis=1).mean()
            if C is not None:
                loss = loss + 1 / C * (1 / 2 * (theta[1:] ** 2).sum())
            if epoch % log_every == 0:
                run.logged[epoch] = float(loss)
            if early_stopping:
                if loss < best:
                    best = loss
                else:
                    run.stopped_epoch, run.best_loss = epoch, float(best)
                    break
        error = Y_proba - Y
        gradients = 1 / m * X.T @ error
        if C is not None:
            gradients += np.r_[np.zeros([1, n_outputs]), 1 / C * theta[1:]]
        theta = theta - eta * gradients
    run.theta = theta
    return run


def accuracy(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``argmax(softmax(X @ theta))`` equal to ``y``."""
    return float((softmax(X @ theta).argmax(axis=1) == y).mean())
