"""The learning-rate range test (Smith 2017; fastai's ``lr_find``).

Train for a few steps while the learning rate grows exponentially from ``start_lr`` to
``end_lr``, record an exponentially smoothed loss, stop once it diverges, and suggest
an lr from the curve (fastai's "valley" rule by default). The model's parameters (and gradients) and
the optimizer's state are put back afterwards, so the sweep leaves no trace.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.mode import enable_grad
from ..autograd.tensor import Tensor, _make, as_tensor

__all__ = ["LRFinderResult", "LRSweep", "Snapshot", "find_lr", "set_lr", "suggest_lr"]


@dataclass
class LRFinderResult:
    """What :func:`find_lr` measured.

    ``lrs[i]`` is the learning rate of step ``i``; ``raw_losses[i]`` the loss of the batch
    at step ``i`` (before that step's update) and ``losses[i]`` its bias-corrected
    exponential moving average. ``suggested_lr`` comes from :func:`suggest_lr` on the
    smoothed losses (None if too few steps ran); ``diverged`` says the sweep stopped
    early because the loss blew up.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    raw_losses: list[float] = field(default_factory=list)
    suggested_lr: float | None = None
    diverged: bool = False

    def plot(self, ax: Any = None, path: Any = None) -> Any:
        """Draw smoothed loss against lr (log axis) on ``ax`` (default: a new figure) and
        save it to ``path`` if given; returns the axes (see
        :func:`chainrule.viz.curves.plot_lr_finder`)."""
        from ..viz.curves import plot_lr_finder

        return plot_lr_finder(self, ax=ax, path=path)


def _batches(data: Iterable[Any]) -> Iterator[Any]:
    """Cycle through ``data`` (restarting it when exhausted) while it yields anything."""
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            return


def _valley(losses: np.ndarray) -> int:
    """fastai's "valley": a point about half-way down the longest descending run.

    The run is the longest strictly decreasing subsequence of ``losses``; the index is
    ``start + k + k // 2`` with ``k`` a third of its length (O(n**2), n is small).
    """
    n = len(losses)
    run = np.ones(n, dtype=np.int64)  # length of the longest decreasing run ending at i
    best_end = 0
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            run[i] = run[:i][higher].max() + 1
        if run[i] > run[best_end]:
            best_end = i
    start = best_end - int(run[best_end])
    third = (best_end - start) / 3
    return max(start + int(third) + int(third / 2), 0)


def suggest_lr(lrs: list[float], losses: list[float], method: str = "valley",
               skip_start: int = 10, skip_end: int = 5) -> float | None:
    """Suggest a learning rate from a sweep's (smoothed) losses.

    * ``"valley"`` (default, fastai's): about half-way down the longest stretch over which
      the loss keeps falling — robust to noisy early losses.
    * ``"steepest"``: where the loss falls fastest against ``log(lr)`` (central
      differences), ignoring the first ``skip_start`` points.
    * ``"minimum"``: a tenth of the lr with the lowest loss.

    The last ``skip_end`` points (where the loss usually blows up) are ignored when at
    least 3 points remain. Returns None with fewer than 3 points.
    """
    if method not in ("valley", "steepest", "minimum"):
        raise ValueError(f"method must be 'valley', 'steepest' or 'minimum', got {method!r}")
    if len(lrs) < 3:
        return None
    hi = len(lrs) - skip_end if len(lrs) - skip_end >= 3 else len(lrs)
    x, y = np.log(np.asarray(lrs[:hi], dtype=np.float64)), np.asarray(losses[:hi], np.float64)
    if method == "minimum":
        return float(lrs[int(np.argmin(y))]) / 10.0
    if method == "valley":
        return float(lrs[_valley(y)])
    lo = skip_start if hi - skip_start >= 3 else 0
    slope = np.gradient(y[lo:], x[lo:])
    return float(lrs[lo + int(np.argmin(slope))])


class LRSweep:
    """The range test's bookkeeping, shared by :func:`find_lr` and the Trainer's
    ``LRFinder`` callback: the learning rate of step ``i``, the smoothed loss, the
    divergence test. ``record(lr, loss)`` returns False when the sweep must stop."""

    def __init__(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100,
                 smooth: float = 0.98, diverge_threshold: float = 4.0,
                 suggestion: str = "valley") -> None:
        if not start_lr > 0:
            raise ValueError(f"start_lr must be > 0, got {start_lr}")
        if not end_lr > start_lr:
            raise ValueError(f"end_lr must be > start_lr, got end_lr={end_lr}, "
                             f"start_lr={start_lr}")
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
            raise ValueError(f"num_steps must be an integer >= 2, got {num_steps!r}")
        if not 0 <= smooth < 1:
            raise ValueError(f"smooth must be in [0, 1), got {smooth}")
        if suggestion not in ("valley", "steepest", "minimum"):
            raise ValueError(f"suggestion must be 'valley', 'steepest' or 'minimum', "
                             f"got {suggestion!r}")
        if not diverge_threshold > 1:
            raise ValueError(f"diverge_threshold must be > 1, got {diverge_threshold}")
        self.start_lr, self.ratio = start_lr, end_lr / start_lr
        self.num_steps, self.smooth = num_steps, smooth
        self.diverge_threshold, self.suggestion = diverge_threshold, suggestion
        self.result = LRFinderResult()
        self._avg, self._best = 0.0, math.inf

    def lr(self, step: int) -> float:
        """``start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))``."""
        return self.start_lr * self.ratio ** (step / (self.num_steps - 1))

    def record(self, lr: float, value: float) -> bool:
        """Add step ``len(result.lrs)``'s loss; False when the sweep stops (the loss is not
        finite, the smoothed loss exceeds ``diverge_threshold`` times its best, or
        ``num_steps`` were recorded)."""
        result = self.result
        if not math.isfinite(value):
            result.diverged = True
            return False
        self._avg = self.smooth * self._avg + (1 - self.smooth) * value
        smoothed = self._avg / (1 - self.smooth ** (len(result.lrs) + 1))
        result.lrs.append(lr)
        result.raw_losses.append(value)
        result.losses.append(smoothed)
        if smoothed > self._best + (self.diverge_threshold - 1) * abs(self._best):
            result.diverged = True
            return False
        self._best = min(self._best, smoothed)
        return len(result.lrs) < self.num_steps

    def finish(self) -> LRFinderResult:
        """The result, with its ``suggested_lr``."""
        self.result.suggested_lr = suggest_lr(self.result.lrs, self.result.losses,
                                              self.suggestion)
        return self.result


def set_lr(optimizer: Any, lr: float) -> None:
    """Write ``lr`` into every parameter group of ``optimizer``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


class Snapshot:
    """The parameters' values (in their own arrays) and gradients, the model's
    ``state_dict()`` (if it has one) and the optimizer's state; ``restore()`` puts them
    back exactly."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model, self.optimizer = model, optimizer
        self.params = list(model.parameters())
        self.arrays = [p.data for p in self.params]
        self.values = [a.copy() for a in self.arrays]
        self.grads = [None if p.grad is None else p.grad.data.copy() for p in self.params]
        self.opt_state = copy.deepcopy(optimizer.state_dict())
        has_state = hasattr(model, "state_dict") and hasattr(model, "load_state_dict")
        self.model_state = copy.deepcopy(model.state_dict()) if has_state else None

    def restore(self) -> None:
        if self.model_state is not None:
            self.model.load_state_dict(self.model_state)
        self.optimizer.load_state_dict(self.opt_state)
        for p, a, v, g in zip(self.params, self.arrays, self.values, self.grads):
            a[...] = v
            p.data = a
            p.grad = None if g is None else _make(g)


def find_lr(model: Callable[[Any], Tensor], loss_fn: Callable[[Tensor, Any], Tensor],
            optimizer: Any, data: Iterable[tuple[Any, Any]], start_lr: float = 1e-7,
            end_lr: float = 10.0, num_steps: int = 100, smooth: float = 0.98,
            diverge_threshold: float = 4.0, suggestion: str = "valley") -> LRFinderResult:
    """Run the learning-rate range test and restore the model and optimizer afterwards.

    Step ``i`` (of ``num_steps``) sets every param group's lr to
    ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``, computes
    ``loss_fn(model(x), y)`` on the next batch (``x`` as a Tensor, ``y`` as given), records
    it, and takes an optimizer step. The smoothed loss is
    ``avg_i = smooth * avg_{i-1} + (1 - smooth) * loss_i``, reported as
    ``avg_i / (1 - smooth**(i+1))``. The sweep stops early when the loss is not finite or
    the smoothed loss exceeds ``diverge_threshold`` times its best (for positive losses).
    ``data`` is cycled if it has fewer than ``num_steps`` batches. ``suggestion`` picks
    the rule for ``suggested_lr`` (see :func:`suggest_lr`).

    ``model(x)`` must return a Tensor and ``model.parameters()`` list the parameters.
    Afterwards every parameter's values (in their original arrays) and ``.grad``, the
    model's ``state_dict()`` (if it has one, e.g. for running statistics), and the
    optimizer's ``state_dict()`` (state and learning rates) are as they were before.
    A :class:`~chainrule.train.Trainer` runs the same test with its own training step:
    ``trainer.find_lr(data)`` (the ``LRFinder`` callback).
    """
    sweep = LRSweep(start_lr, end_lr, num_steps, smooth, diverge_threshold, suggestion)
    snapshot = Snapshot(model, optimizer)
    try:
        with enable_grad():
            batches = _batches(data)
            for i in range(num_steps):
                batch = next(batches, None)
                if batch is None:
                    if i == 0:
                        raise ValueError("find_lr: data yielded no batches")
                    break
                x, y = batch
                lr = sweep.lr(i)
                set_lr(optimizer, lr)
                optimizer.zero_grad()
                loss = loss_fn(model(as_tensor(x)), y)
                if not sweep.record(lr, float(loss.item())) and sweep.result.diverged:
                    break
                loss.backward()
                optimizer.step()
    finally:
        snapshot.restore()
    return sweep.finish()
