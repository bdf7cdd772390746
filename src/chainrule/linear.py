"""Linear regression by the normal equation and by batch, stochastic and mini-batch
gradient descent, each returning the whole path of the parameters.

This reproduces chapter 4 of Géron's *Hands-On Machine Learning* (2nd and 3rd editions,
notebook ``04_training_linear_models.ipynb``) number for number:

>>> import chainrule.linear as linear
>>> X, y = linear.book_data()                  # seed 42, X = 2 rand(100, 1), y = 4 + 3X + noise
>>> linear.normal_equation(X, y).round(8)      # intercept first
array([4.21509616, 2.77011339])
>>> linear.batch_gd(X, y).theta.round(8)       # eta = 0.1, 1000 epochs
array([4.21509616, 2.77011339])
>>> linear.stochastic_gd(X, y).theta.round(8)  # t0, t1 = 5, 50; 50 epochs
array([4.21076011, 2.74856079])

Random-number conventions (what makes the numbers above match)
---------------------------------------------------------------
The book calls ``np.random.seed(42)`` *again* right before each descent, draws the
starting point with ``theta = np.random.randn(2, 1)``, then, for SGD, one
``np.random.randint(m)`` per update (sampling *with replacement*, ``m`` updates per
epoch), and for mini-batch GD one ``np.random.permutation(m)`` per epoch (a *shuffle*).
The schedule is ``eta = t0 / (t + t1)`` with ``t = epoch * updates_per_epoch + i``
counted from 0. Here:

* ``rng=42`` (an ``int``, the default) means a fresh legacy ``np.random.RandomState(42)``,
  which yields exactly the stream of ``np.random.seed(42)`` without touching NumPy's
  global state. Draw order: the starting point (``randn(n_params)``, unless ``theta0`` is
  given), then the samples.
* ``rng=None`` draws from NumPy's *global* legacy state as it stands (no reseeding). Run
  right after the book's data generation without reseeding, SGD ends at
  ``[4.19000137, 2.73381258]``, not the book's numbers: the book reseeds.
* ``rng=np.random.RandomState(...)`` is used as is (and advanced).
* ``rng=np.random.default_rng(...)`` (a ``Generator``) uses ``standard_normal``,
  ``integers`` and ``permutation``: a different stream, so different (equally valid)
  numbers — for 42, SGD ends at ``[4.26111365, 2.78107079]``.

``sampling="with_replacement"`` draws each batch independently (``randint(m)`` for a batch
of one, ``randint(m, size=b)`` otherwise); ``"shuffle"`` permutes the data once per epoch
and walks through it in consecutive batches (the last may be smaller); ``"none"`` walks
through the data in order (batch GD). Either way an epoch is ``ceil(m / batch_size)``
updates.

Mini-batch GD (batch 20, ``t0, t1 = 200, 1000``, 50 epochs, shuffle) follows the current
3rd-edition notebook (global step ``t = epoch * 5 + i``, ageron/handson-ml3 PR #192) and
ends at ``[4.25224124, 2.78970189]``. Earlier printings differ only in the schedule's
step: the first 3rd-edition notebook used ``learning_schedule(iteration)`` (restarting
every epoch; pass ``lr=lambda t: 200 / (t % 5 + 1000)``, which gives
``[4.2857119, 2.8119161]``) and the 2nd edition counted ``t`` from 1 (``lr=lambda t:
200 / (t + 1 + 1000)``, giving ``[4.25214635, 2.7896408]``).

Arithmetic is done in float64 on column vectors in the book's own order
(``theta - eta * (2 / b * Xb.T @ (Xb @ theta - yb))``), so results agree bit for bit.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .optim.surfaces import Surface, line_fit_surface, register_surface

__all__ = [
    "SAMPLINGS",
    "DescentResult",
    "add_bias",
    "batch_gd",
    "book_comparison",
    "book_data",
    "gradient_descent",
    "learning_schedule",
    "minibatch_gd",
    "mse",
    "normal_equation",
    "regression_surface",
    "stochastic_gd",
]

#: The ways a descent can pick its batches (see the module docstring).
SAMPLINGS = ("with_replacement", "shuffle", "none")

RNGLike = int | np.random.RandomState | np.random.Generator | None
LRLike = float | Callable[[int], float]


# --------------------------------------------------------------------------- data


def book_data(m: int = 100, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The book's data: ``np.random.seed(seed)``, ``X = 2 * rand(m, 1)``,
    ``y = 4 + 3 * X + randn(m, 1)``. Returns ``(X, y)``, both shaped ``(m, 1)``.

    Uses its own ``RandomState(seed)``, so NumPy's global random state is untouched.
    """
    rs = np.random.RandomState(seed)
    X = 2 * rs.rand(m, 1)
    y = 4 + 3 * X + rs.randn(m, 1)
    return X, y


def _as_design(X: Any, y: Any, fit_intercept: bool, where: str) -> tuple[np.ndarray,
                                                                       np.ndarray]:
    """``X`` as a float64 (m, n) design matrix (bias column first if asked) and ``y`` as
    an (m, 1) column; raise ValueError naming ``where`` on bad shapes or values."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 1-D (m,) or 2-D (m, n), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where}: y must be shaped (m,) or (m, 1), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{where}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError(f"{where}: no data (X has 0 rows)")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"{where}: X and y must be finite (found NaN or inf)")
    if fit_intercept:
        X = add_bias(X)
    return X, y[:, None]


def add_bias(X: Any) -> np.ndarray:
    """``X`` (m, n) with a first column of ones: (m, n + 1), float64 (the book's ``X_b``)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    return np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)


# --------------------------------------------------------------------------- closed form


def normal_equation(X: Any, y: Any, fit_intercept: bool = True) -> np.ndarray:
    """Least-squares parameters θ minimising ``mean((X_b θ - y)**2)``.

    Args:
        X: inputs, (m,) or (m, n).
        y: targets, (m,) or (m, 1).
        fit_intercept: prepend a column of ones (the intercept is then ``θ[0]``).

    Returns:
        θ, shape (n + 1,) with the intercept first (or (n,) without intercept).

    Solves ``X_bᵀ X_b θ = X_bᵀ y`` by least squares (``np.linalg.lstsq``, the SVD), which
    also gives the minimum-norm solution when ``X_bᵀ X_b`` is singular.
    """
    Xb, yc = _as_design(X, y, fit_intercept, "normal_equation")
    theta, *_ = np.linalg.lstsq(Xb, yc, rcond=None)
    return theta[:, 0]


def mse(X: Any, y: Any, theta: Any, fit_intercept: bool = True) -> np.ndarray | float:
    """Mean squared error of θ: a float for θ shaped (p,), an array (k,) for θ (k, p)."""
    Xb, yc = _as_design(X, y, fit_intercept, "mse")
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[-1] != Xb.shape[1]:
        raise ValueError(f"mse: theta has {theta.shape[-1]} parameters, the model has "
                         f"{Xb.shape[1]}")
    if theta.ndim == 1:
        return float(np.mean((Xb @ theta - yc[:, 0]) ** 2))
    return _path_losses(Xb, yc, theta)


def _path_losses(Xb: np.ndarray, yc: np.ndarray, path: np.ndarray) -> np.ndarray:
    """MSE at every row of ``path`` (k, p), in chunks so memory stays O(m * 4096)."""
    out = np.empty(path.shape[0])
    for start in range(0, path.shape[0], 4096):
        block = path[start:start + 4096]
        out[start:start + 4096] = np.mean((Xb @ block.T - yc) ** 2, axis=0)
    return out


# --------------------------------------------------------------------------- descent


@dataclass(frozen=True)
class DescentResult:
    """The outcome of one gradient descent.

    Attributes:
        name: what ran ("batch GD", "stochastic GD", "mini-batch GD", ...).
        theta: final parameters, (p,), intercept first.
        path: parameters before the first update and after each one, (steps + 1, p).
        losses: full-data MSE at every row of ``path``, (steps + 1,).
        lrs: learning rate used by each update, (steps,).
        batch_size, epochs, updates_per_epoch, sampling: how it ran.
    """

    name: str
    theta: np.ndarray
    path: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray
    batch_size: int
    epochs: int
    updates_per_epoch: int
    sampling: str

    @property
    def steps(self) -> int:
        """Number of parameter updates (``len(path) - 1``)."""
        return self.path.shape[0] - 1

    def __repr__(self) -> str:
        return (f"DescentResult({self.name!r}, theta={np.array2string(self.theta, precision=8)}"
                f", steps={self.steps}, final_loss={self.losses[-1]:.6g})")


def learning_schedule(t0: float, t1: float) -> Callable[[int], float]:
    """The book's schedule ``lr(t) = t0 / (t + t1)``, ``t`` the update index from 0."""
    _check_number("t0", t0, minimum=0.0)
    _check_number("t1", t1, minimum=0.0, strict=True)

    def schedule(t: int) -> float:
        return t0 / (t + t1)

    schedule.__doc__ = f"lr(t) = {t0} / (t + {t1})"
    return schedule


def _check_number(name: str, value: Any, minimum: float, strict: bool = False,
                  where: str = "") -> None:
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{prefix}{name} must be a number, got {value!r}")
    if not math.isfinite(value) or (value <= minimum if strict else value < minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{prefix}{name} must be {op} {minimum:g}, got {value!r}")


class _Sampler:
    """Draws starting points and batches from an int seed, a RandomState, a Generator or
    the global legacy state (``None``), the way the book's code does."""

    def __init__(self, rng: RNGLike, where: str) -> None:
        if rng is None:
            self.legacy: Any = np.random  # the global legacy state, as the book uses
            self.gen = None
        elif isinstance(rng, np.random.Generator):
            self.legacy, self.gen = None, rng
        elif isinstance(rng, np.random.RandomState):
            self.legacy, self.gen = rng, None
        elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
            if rng < 0:
                raise ValueError(f"{where}: a seed must be >= 0, got {rng}")
            self.legacy, self.gen = np.random.RandomState(int(rng)), None
        else:
            raise ValueError(f"{where}: rng must be an int seed, None (NumPy's global "
                             "state), a np.random.RandomState or a np.random.Generator, got "
                             f"{type(rng).__name__}")

    def normal(self, n: int) -> np.ndarray:
        if self.gen is not None:
            return self.gen.standard_normal((n, 1))
        return self.legacy.randn(n, 1)

    def index(self, m: int, size: int) -> Any:
        if self.gen is not None:
            return self.gen.integers(m) if size == 1 else self.gen.integers(m, size=size)
        return self.legacy.randint(m) if size == 1 else self.legacy.randint(m, size=size)

    def permutation(self, m: int) -> np.ndarray:
        if self.gen is not None:
            return self.gen.permutation(m)
        return self.legacy.permutation(m)


def gradient_descent(X: Any, y: Any, *, batch_size: int | None = None, epochs: int = 50,
                     lr: LRLike | None = None, t0: float | None = None,
                     t1: float | None = None, sampling: str = "shuffle", rng: RNGLike = 42,
                     theta0: Any = None, fit_intercept: bool = True,
                     name: str | None = None) -> DescentResult:
    """Linear regression by gradient descent on the MSE, recording every step.

    Each update uses the gradient of the batch MSE ``2 / b * Xbᵀ (Xb θ - yb)`` and
    ``θ <- θ - lr(t) * gradient`` with ``t`` the update index (0, 1, ...).

    Args:
        X, y: data, (m,) or (m, n) and (m,) or (m, 1).
        batch_size: samples per update, 1..m (``None``: all m, batch GD).
        epochs: passes; each is ``ceil(m / batch_size)`` updates.
        lr: a constant learning rate (>= 0) or a function of ``t``. Give either ``lr`` or
            both ``t0`` and ``t1`` (the schedule ``t0 / (t + t1)``).
        sampling: "with_replacement", "shuffle" or "none" (see the module docstring).
        rng: int seed (legacy RandomState), None (global state), RandomState or Generator.
        theta0: starting parameters (p,); default: ``randn(p)`` drawn from ``rng``.
        fit_intercept: add the bias column (then ``θ[0]`` is the intercept).
        name: label for the result.

    Returns:
        A :class:`DescentResult` with the path (steps + 1, p) and the losses.

    Raises:
        ValueError: bad shapes, batch size out of 1..m, negative learning rate, unknown
            sampling, ...; one line naming the culprit.
    """
    where = name or "gradient_descent"
    Xb, yc = _as_design(X, y, fit_intercept, where)
    m, p = Xb.shape
    if batch_size is None:
        batch_size = m
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"{where}: batch_size must be an integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"{where}: batch_size must be >= 1, got {batch_size}")
    if batch_size > m:
        raise ValueError(f"{where}: batch_size={batch_size} is larger than the data "
                         f"({m} samples)")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"{where}: epochs must be an integer >= 0, got {epochs!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"{where}: unknown sampling {sampling!r}; choose one of "
                         f"{', '.join(SAMPLINGS)}")
    schedule = _schedule(lr, t0, t1, where)
    sampler = _Sampler(rng, where)

    if theta0 is None:
        theta = sampler.normal(p)
    else:
        theta = np.array(theta0, dtype=np.float64).reshape(-1, 1)
        if theta.shape[0] != p:
            raise ValueError(f"{where}: theta0 has {theta.shape[0]} values, the model has "
                             f"{p} parameters")
        if not np.all(np.isfinite(theta)):
            raise ValueError(f"{where}: theta0 must be finite")

    per_epoch = math.ceil(m / batch_size)
    steps = epochs * per_epoch
    path = np.empty((steps + 1, p))
    lrs = np.empty(steps)
    path[0] = theta[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        theta = _epochs(Xb, yc, theta, path, lrs, epochs, per_epoch, batch_size, sampling,
                        sampler, schedule, where)
    return DescentResult(name=name or "gradient descent", theta=path[-1].copy(), path=path,
                         losses=_path_losses(Xb, yc, path), lrs=lrs, batch_size=batch_size,
                         epochs=epochs, updates_per_epoch=per_epoch, sampling=sampling)


def _epochs(Xb: np.ndarray, yc: np.ndarray, theta: np.ndarray, path: np.ndarray,
            lrs: np.ndarray, epochs: int, per_epoch: int, batch_size: int, sampling: str,
            sampler: _Sampler, schedule: Callable[[int], float], where: str) -> np.ndarray:
    """The descent loop: fills ``path[1:]`` and ``lrs``; returns the final column θ."""
    m = Xb.shape[0]
    t = 0
    for epoch in range(epochs):
        if sampling == "shuffle":
            order = sampler.permutation(m)
            X_epoch, y_epoch = Xb[order], yc[order]
        else:
            X_epoch, y_epoch = Xb, yc
        for i in range(per_epoch):
            if sampling == "with_replacement":
                if batch_size == 1:  # the book's slice keeps the rows 2-D: (1, p)
                    k = sampler.index(m, 1)
                    xi, yi = Xb[k:k + 1], yc[k:k + 1]
                else:
                    idx = sampler.index(m, batch_size)
                    xi, yi = Xb[idx], yc[idx]
            else:
                lo = i * batch_size
                xi, yi = X_epoch[lo:lo + batch_size], y_epoch[lo:lo + batch_size]
            gradients = 2 / xi.shape[0] * xi.T @ (xi @ theta - yi)
            eta = schedule(t)
            theta = theta - eta * gradients
            lrs[t] = eta
            t += 1
            path[t] = theta[:, 0]
        if not np.all(np.isfinite(theta)):
            raise FloatingPointError(f"{where}: the descent diverged in epoch {epoch + 1} "
                                     "(parameters became inf/NaN); lower the learning rate")
    return theta


def _schedule(lr: LRLike | None, t0: float | None, t1: float | None,
              where: str) -> Callable[[int], float]:
    if lr is not None and (t0 is not None or t1 is not None):
        raise ValueError(f"{where}: give either lr or the schedule (t0, t1), not both")
    if lr is None:
        if t0 is None or t1 is None:
            raise ValueError(f"{where}: give a learning rate lr or both t0 and t1")
        _check_number("t0", t0, 0.0, where=where)
        _check_number("t1", t1, 0.0, strict=True, where=where)
        return learning_schedule(t0, t1)
    if callable(lr):
        def checked(t: int) -> float:
            value = float(lr(t))
            if not value >= 0 or not math.isfinite(value):
                raise ValueError(f"{where}: the learning-rate function gave {value!r} at "
                                 f"step {t}; it must be a finite number >= 0")
            return value
        return checked
    _check_number("lr", lr, 0.0, where=where)
    value = lr

    def constant(t: int) -> float:
        return value

    return constant


def batch_gd(X: Any, y: Any, *, lr: LRLike = 0.1, epochs: int = 1000, rng: RNGLike = 42,
             theta0: Any = None, fit_intercept: bool = True) -> DescentResult:
    """Batch gradient descent: every update uses all the data (the book: η = 0.1, 1000
    epochs, start ``randn`` after ``seed(42)``). See :func:`gradient_descent`."""
    return gradient_descent(X, y, batch_size=None, epochs=epochs, lr=lr, sampling="none",
                            rng=rng, theta0=theta0, fit_intercept=fit_intercept,
                            name="batch GD")


def stochastic_gd(X: Any, y: Any, *, epochs: int = 50, t0: float | None = 5,
                  t1: float | None = 50, lr: LRLike | None = None,
                  sampling: str = "with_replacement", rng: RNGLike = 42, theta0: Any = None,
                  fit_intercept: bool = True) -> DescentResult:
    """Stochastic gradient descent, one sample per update, ``m`` updates per epoch, with
    the schedule ``t0 / (t + t1)`` (the book: 5, 50; 50 epochs; ``randint`` sampling).

    Passing ``lr`` (a constant or a function of ``t``) replaces the schedule.
    """
    if lr is not None:
        t0 = t1 = None
    return gradient_descent(X, y, batch_size=1, epochs=epochs, lr=lr, t0=t0, t1=t1,
                            sampling=sampling, rng=rng, theta0=theta0,
                            fit_intercept=fit_intercept, name="stochastic GD")


def minibatch_gd(X: Any, y: Any, *, batch_size: int = 20, epochs: int = 50,
                 t0: float | None = 200, t1: float | None = 1000, lr: LRLike | None = None,
                 sampling: str = "shuffle", rng: RNGLike = 42, theta0: Any = None,
                 fit_intercept: bool = True) -> DescentResult:
    """Mini-batch gradient descent (the book: batches of 20 from a fresh permutation each
    epoch, schedule ``200 / (t + 1000)``, 50 epochs). Passing ``lr`` replaces the
    schedule; see the module docstring for the variants of the book's printings."""
    if lr is not None:
        t0 = t1 = None
    return gradient_descent(X, y, batch_size=batch_size, epochs=epochs, lr=lr, t0=t0, t1=t1,
                            sampling=sampling, rng=rng, theta0=theta0,
                            fit_intercept=fit_intercept, name="mini-batch GD")


def book_comparison(X: Any = None, y: Any = None, *, rng: RNGLike = 42, batch_epochs: int = 1000,
                    batch_size: int = 20) -> dict[str, DescentResult]:
    """Batch, stochastic and mini-batch GD with the book's settings on the same data
    (default: :func:`book_data`), each started from the same ``rng`` (the book reseeds 42
    before each). Returns ``{"batch": ..., "stochastic": ..., "mini-batch": ...}``."""
    if X is None and y is None:
        X, y = book_data()
    elif X is None or y is None:
        raise ValueError("book_comparison: give both X and y, or neither (the book's data)")
    # An int seed restarts for each method, as the book's np.random.seed(42) does; a
    # RandomState or Generator is shared (and advanced) across the three.
    return {
        "batch": batch_gd(X, y, epochs=batch_epochs, rng=rng),
        "stochastic": stochastic_gd(X, y, rng=rng),
        "mini-batch": minibatch_gd(X, y, batch_size=batch_size, rng=rng),
    }


def regression_surface(X: Any = None, y: Any = None) -> Surface:
    """The MSE of ``θ0 + θ1 x`` as a surface over (θ0, θ1) (default: the book's data), for
    :func:`chainrule.optim.compare_optimizers` and :mod:`chainrule.viz.descent`.

    Its minimum is the normal-equation solution; the default start is the book's
    ``randn(2)`` after ``seed(42)``. Registered as the surface ``"regression"``.
    """
    if X is None and y is None:
        X, y = book_data()
    elif X is None or y is None:
        raise ValueError("regression_surface: give both X and y, or neither (the book's data)")
    xs = np.asarray(X, dtype=np.float64)
    if xs.ndim == 2 and xs.shape[1] == 1:
        xs = xs[:, 0]
    if xs.ndim != 1:
        raise ValueError("regression_surface: needs exactly one feature (two parameters "
                         f"θ0, θ1) to draw, got X of shape {np.shape(X)}")
    start = np.random.RandomState(42).randn(2)
    return line_fit_surface(xs, y, normal_equation(xs, y), start)


register_surface("regression", regression_surface)
