"""Learning-rate schedules: they set ``optimizer.param_groups[i]["lr"]`` as training goes.

Every schedule counts *steps*, whatever you call :meth:`~LRSchedule.step` for (a batch
or an epoch). Creating a schedule sets the learning rate of step 0; each ``step()``
moves to the next step and sets its learning rate, so the loop is::

    schedule = CosineDecay(optimizer, total_steps=1000)
    for x, y in batches:
        ...; optimizer.step(); schedule.step()

Closed-form schedules compute ``lr(t)`` from the step ``t`` and each group's *base*
learning rate (its ``lr`` when the schedule was created): ``get_lr(t)`` evaluates it
for any ``t`` without side effects, ``last_lr`` is what was last applied. Only
:class:`ReduceLROnPlateau` depends on history (``step(metric)``).

=========================  ==========================================================
schedule                   ``lr(t)``
=========================  ==========================================================
:class:`LinearDecay`       ``base + (final - base) * min(t / (T - 1), 1)``
:class:`ExponentialDecay`  ``base * (final / base) ** min(t / (T - 1), 1)``
:class:`StepDecay`         ``base * gamma ** (t // step_size)``
:class:`MultiStepDecay`    ``base * gamma ** (number of milestones <= t)``
:class:`PiecewiseConstant` ``values[number of boundaries <= t]``
:class:`PowerDecay`        ``base / (1 + t / decay_steps) ** power``
:class:`CosineDecay`       linear warmup, then ``min + (base - min)(1 + cos(pi u)) / 2``
:class:`OneCycle`          warm up to ``max_lr``, anneal to ``max_lr / div / final_div``
=========================  ==========================================================
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
from collections.abc import Sequence
from typing import Any

from .optimizer import Optimizer

__all__ = [
    "CosineDecay", "ExponentialDecay", "LRSchedule", "LinearDecay", "MultiStepDecay",
    "OneCycle", "PiecewiseConstant", "PowerDecay", "ReduceLROnPlateau", "StepDecay",
]


# --------------------------------------------------------------------------- checks


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive(name: str, value: Any) -> float:
    if not (isinstance(value, numbers.Real) and value > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _nonneg(name: str, value: Any) -> float:
    if not (isinstance(value, numbers.Real) and value >= 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _per_group(name: str, value: Any, optimizer: Optimizer, check: Any = _nonneg) -> list[float]:
    """One value per parameter group, from a number or a sequence of numbers."""
    n = len(optimizer.param_groups)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} values, the optimizer {n} param groups")
        return [check(name, v) for v in value]
    return [check(name, value)] * n


# --------------------------------------------------------------------------- base class


class LRSchedule:
    """Base class: a closed-form learning rate ``lr(t)`` per parameter group.

    Subclasses implement ``_lr(t, base_lr, i)`` for group ``i``. Attributes:
    ``base_lrs`` (each group's lr at creation), ``last_step`` (``t``), ``last_lr``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer "
                            "(it has no param_groups)")
        self.optimizer = optimizer
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_step = 0
        self.last_lr: list[float] = []
        self._apply()

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        raise NotImplementedError

    def get_lr(self, step: int | None = None) -> list[float]:
        """Learning rates (one per group) at ``step`` (default: the current step)."""
        t = self.last_step if step is None else int(step)
        if t < 0:
            raise ValueError(f"step must be >= 0, got {t}")
        return [self._lr(t, base, i) for i, base in enumerate(self.base_lrs)]

    def get_last_lr(self) -> list[float]:
        """The learning rates last applied (PyTorch's name for ``last_lr``)."""
        return list(self.last_lr)

    def step(self) -> None:
        """Advance one step and set each group's learning rate for it."""
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self.last_lr = lrs

    def state_dict(self) -> dict[str, Any]:
        """Plain data (numbers, strings, lists) describing the schedule and its position."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "optimizer"})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a saved :meth:`state_dict` and re-apply that step's learning rates."""
        self.__dict__.update(copy.deepcopy(dict(state_dict)))
        self._apply()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step={self.last_step}, lr={self.last_lr})"


def _fraction(t: int, total_steps: int) -> float:
    """``min(t / (total_steps - 1), 1)``: 0 at the first step, 1 at the last."""
    return min(t / (total_steps - 1), 1.0) if total_steps > 1 else min(t, 1)


# --------------------------------------------------------------------------- Weidman decays


class LinearDecay(LRSchedule):
    """Decay linearly from each group's lr to ``final_lr`` over ``total_steps`` steps.

    ``lr(t) = base + (final_lr - base) * min(t / (total_steps - 1), 1)``: step 0 uses the
    base lr, step ``total_steps - 1`` (the last of the run) uses ``final_lr``, and later
    steps keep it. This is the linear decay of Weidman, *Deep Learning from Scratch*
    ch. 4, which subtracts ``(lr - final_lr) / (max_epochs - 1)`` after every epoch (so
    call ``step()`` once per epoch to reproduce it, or once per batch for a smoother run).
    ``final_lr`` may be a list (one per group).
    """

    def __init__(self, optimizer: Optimizer, final_lr: float | Sequence[float],
                 total_steps: int) -> None:
        self.total_steps = _positive_int("total_steps", total_steps)
        self.final_lrs = _per_group("final_lr", final_lr, optimizer)
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        if t >= self.total_steps - 1:
            return self.final_lrs[i]
        return base_lr + (self.final_lrs[i] - base_lr) * _fraction(t, self.total_steps)


class ExponentialDecay(LRSchedule):
    """Decay geometrically from each group's lr to ``final_lr`` over ``total_steps`` steps.

    The per-step factor is ``(final_lr / base) ** (1 / (total_steps - 1))``, so
    ``lr(t) = base * (final_lr / base) ** min(t / (total_steps - 1), 1)``: step 0 uses the
    base lr, step ``total_steps - 1`` uses ``final_lr``, later steps keep it. This is
    Weidman's exponential decay (*Deep Learning from Scratch* ch. 4, ``decay_per_epoch =
    (final_lr / lr) ** (1 / (max_epochs - 1))``, applied after each epoch), written in
    closed form so rounding does not accumulate. Needs base and final lr > 0.
    """

    def __init__(self, optimizer: Optimizer, final_lr: float | Sequence[float],
                 total_steps: int) -> None:
        self.total_steps = _positive_int("total_steps", total_steps)
        self.final_lrs = _per_group("final_lr", final_lr, optimizer, _positive)
        for g in optimizer.param_groups:
            if not g["lr"] > 0:
                raise ValueError(f"ExponentialDecay needs the optimizer's lr > 0, got {g['lr']}")
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        if t >= self.total_steps - 1:
            return self.final_lrs[i]
        return base_lr * (self.final_lrs[i] / base_lr) ** _fraction(t, self.total_steps)


# --------------------------------------------------------------------------- steps


class StepDecay(LRSchedule):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (PyTorch ``StepLR``).

    ``lr(t) = base * gamma ** (t // step_size)``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _positive("gamma", gamma)
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepDecay(LRSchedule):
    """Multiply the lr by ``gamma`` at each milestone (PyTorch ``MultiStepLR``).

    ``lr(t) = base * gamma ** k`` where ``k`` counts the milestones ``<= t``.
    """

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int],
                 gamma: float = 0.1) -> None:
        self.milestones = sorted(_nonneg_int("milestones", m) for m in milestones)
        self.gamma = _positive("gamma", gamma)
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class PiecewiseConstant(LRSchedule):
    """A fixed lr on each interval: ``values[k]`` where ``k`` counts the boundaries ``<= t``.

    ``values`` has one more entry than ``boundaries`` (increasing step numbers) and sets
    every group's lr. So ``boundaries=[100], values=[0.1, 0.01]`` uses 0.1 for steps
    0-99 and 0.01 from step 100 (Keras' ``PiecewiseConstantDecay`` switches one step
    later: it uses ``values[0]`` while ``t <= boundaries[0]``).
    """

    def __init__(self, optimizer: Optimizer, boundaries: Sequence[int],
                 values: Sequence[float]) -> None:
        self.boundaries = [_nonneg_int("boundaries", b) for b in boundaries]
        if any(a >= b for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {self.boundaries}")
        if len(values) != len(self.boundaries) + 1:
            raise ValueError(f"values needs len(boundaries) + 1 = {len(self.boundaries) + 1} "
                             f"entries, got {len(values)}")
        self.values = [_nonneg("values", v) for v in values]
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        return self.values[bisect.bisect_right(self.boundaries, t)]


def _nonneg_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be integers >= 0, got {value!r}")
    return value


# --------------------------------------------------------------------------- smooth decays


class PowerDecay(LRSchedule):
    """Power (inverse-time) scheduling: ``lr(t) = base / (1 + t / decay_steps) ** power``.

    The lr halves (for ``power=1``) after ``decay_steps`` steps, a third after twice that,
    ... (Géron, *Hands-On Machine Learning*, "power scheduling"; Keras
    ``InverseTimeDecay`` is ``power=1``).
    """

    def __init__(self, optimizer: Optimizer, decay_steps: float, power: float = 1.0) -> None:
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.power = _nonneg("power", power)
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        return base_lr / (1.0 + t / self.decay_steps) ** self.power


class CosineDecay(LRSchedule):
    """Cosine annealing to ``min_lr``, after an optional linear warmup.

    With ``W = warmup_steps`` and ``T = total_steps``::

        t < W:       lr = warmup_start_lr + (base - warmup_start_lr) * t / W
        W <= t:      u = min((t - W) / (T - W), 1)
                     lr = min_lr + (base - min_lr) * (1 + cos(pi * u)) / 2

    The lr reaches ``min_lr`` at step ``T`` and stays there. Without warmup this equals
    PyTorch's ``CosineAnnealingLR(T_max=T, eta_min=min_lr)`` for ``t <= T`` (PyTorch then
    rises again; this schedule does not). ``min_lr`` may be a list (one per group).
    """

    def __init__(self, optimizer: Optimizer, total_steps: int,
                 min_lr: float | Sequence[float] = 0.0, warmup_steps: int = 0,
                 warmup_start_lr: float = 0.0) -> None:
        self.total_steps = _positive_int("total_steps", total_steps)
        if (isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int)
                or not 0 <= warmup_steps < total_steps):
            raise ValueError(f"warmup_steps must be an integer in [0, total_steps), "
                             f"got {warmup_steps!r}")
        self.warmup_steps = warmup_steps
        self.warmup_start_lr = _nonneg("warmup_start_lr", warmup_start_lr)
        self.min_lrs = _per_group("min_lr", min_lr, optimizer)
        super().__init__(optimizer)

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        w = self.warmup_steps
        if t < w:
            return self.warmup_start_lr + (base_lr - self.warmup_start_lr) * t / w
        u = min((t - w) / (self.total_steps - w), 1.0)
        lo = self.min_lrs[i]
        return lo + (base_lr - lo) * (1.0 + math.cos(math.pi * u)) / 2.0


# --------------------------------------------------------------------------- 1cycle


class OneCycle(LRSchedule):
    """The 1cycle policy (Smith & Topin 2018; PyTorch ``OneCycleLR``, two phases).

    Over ``total_steps`` steps the lr rises from ``max_lr / div_factor`` to ``max_lr``
    during the first ``pct_start`` of the run, then falls to ``max_lr / div_factor /
    final_div_factor`` at step ``total_steps - 1`` (and stays there). With
    ``e = pct_start * total_steps - 1`` (the peak step)::

        t <= e:  lr = anneal(initial, max_lr, t / e)
        t >  e:  lr = anneal(max_lr, minimum, (t - e) / (total_steps - 1 - e))

    where ``anneal(a, b, u)`` is ``b + (a - b) * (1 + cos(pi u)) / 2`` (``anneal="cos"``)
    or ``a + (b - a) * u`` (``"linear"``). With ``cycle_momentum`` the momentum (SGD,
    RMSprop: ``"momentum"``; Adam family: ``beta1``) moves the other way, from
    ``max_momentum`` down to ``base_momentum`` at the peak and back. These values match
    PyTorch's ``OneCycleLR`` step for step; unlike PyTorch, stepping past the end keeps
    the final lr instead of raising. ``max_lr`` may be a list (one per group).
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int,
                 pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, anneal: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95) -> None:
        self.total_steps = _positive_int("total_steps", total_steps)
        if not (isinstance(pct_start, numbers.Real) and 0 <= pct_start <= 1):
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")
        if anneal not in ("cos", "linear"):
            raise ValueError(f"anneal must be 'cos' or 'linear', got {anneal!r}")
        div_factor = _positive("div_factor", div_factor)
        final_div_factor = _positive("final_div_factor", final_div_factor)
        self.anneal = anneal
        self.max_lrs = _per_group("max_lr", max_lr, optimizer, _positive)
        self.initial_lrs = [m / div_factor for m in self.max_lrs]
        self.min_lrs = [m / final_div_factor for m in self.initial_lrs]
        self.peak_step = float(pct_start * total_steps) - 1
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            for name, v in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
                if not (isinstance(v, numbers.Real) and 0 <= v < 1):
                    raise ValueError(f"{name} must be in [0, 1), got {v!r}")
            for g in optimizer.param_groups:
                if "momentum" not in g and "betas" not in g:
                    raise ValueError(f"cycle_momentum=True needs an optimizer with momentum or "
                                     f"betas; {type(optimizer).__name__} has neither (pass "
                                     "cycle_momentum=False)")
        self.base_momentum = float(base_momentum)
        self.max_momentum = float(max_momentum)
        super().__init__(optimizer)

    def _phase(self, t: int) -> tuple[int, float]:
        """(phase 0 or 1, fraction of the phase done) at step ``t``."""
        e, last = self.peak_step, self.total_steps - 1
        if t <= e:
            return 0, (t / e if e > 0 else 1.0)
        return 1, min((t - e) / (last - e), 1.0) if last > e else 1.0

    def _anneal(self, a: float, b: float, u: float) -> float:
        if self.anneal == "cos":
            return b + (a - b) / 2.0 * (math.cos(math.pi * u) + 1)
        return (b - a) * u + a

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        phase, u = self._phase(t)
        if phase == 0:
            return self._anneal(self.initial_lrs[i], self.max_lrs[i], u)
        return self._anneal(self.max_lrs[i], self.min_lrs[i], u)

    def get_momentum(self, step: int | None = None) -> float:
        """The momentum (or beta1) at ``step`` (default: the current step)."""
        phase, u = self._phase(self.last_step if step is None else step)
        if phase == 0:
            return self._anneal(self.max_momentum, self.base_momentum, u)
        return self._anneal(self.base_momentum, self.max_momentum, u)

    def _apply(self) -> None:
        super()._apply()
        if self.cycle_momentum:
            m = self.get_momentum()
            for g in self.optimizer.param_groups:
                if "betas" in g:
                    g["betas"] = (m, *tuple(g["betas"])[1:])
                else:
                    g["momentum"] = m


# --------------------------------------------------------------------------- plateau


class ReduceLROnPlateau(LRSchedule):
    """Multiply the lr by ``factor`` when a metric has stopped improving (PyTorch semantics).

    Call ``step(metric)`` once per evaluation (e.g. with the validation loss). The metric
    *improves* when (``mode="min"``) ``metric < best * (1 - threshold)`` (``threshold_mode=
    "rel"``) or ``metric < best - threshold`` (``"abs"``); mirrored for ``mode="max"``.
    After more than ``patience`` evaluations without improvement each group's lr becomes
    ``max(lr * factor, min_lr)`` (changes smaller than ``eps`` are skipped), then
    ``cooldown`` evaluations pass before bad evaluations count again.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0.0,
                 eps: float = 1e-8) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not (isinstance(factor, numbers.Real) and 0 < factor < 1):
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor = float(factor)
        self.patience = _nonneg_int("patience", patience)
        self.cooldown = _nonneg_int("cooldown", cooldown)
        self.threshold = _nonneg("threshold", threshold)
        self.eps = _nonneg("eps", eps)
        self.min_lrs = _per_group("min_lr", min_lr, optimizer)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_steps = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

    def get_lr(self, step: int | None = None) -> list[float]:
        """The groups' current learning rates (this schedule has no closed form)."""
        if step is not None and step != self.last_step:
            raise ValueError("ReduceLROnPlateau depends on the metrics seen; it can only "
                             "report the current learning rates")
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def _apply(self) -> None:
        if self.last_lr:  # restoring a saved state: put its learning rates back
            for group, lr in zip(self.optimizer.param_groups, self.last_lr):
                group["lr"] = lr
        self.last_lr = self.get_lr()

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            limit = best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else best - self.threshold
            return metric < limit
        limit = best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else best + self.threshold
        return metric > limit

    def step(self, metric: float) -> None:  # type: ignore[override]
        """Record one evaluation of the metric; reduce the lr after a long plateau."""
        current = float(metric)
        self.last_step += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_steps = 0
        if self.num_bad_steps > self.patience:
            for group, lo in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, lo)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_steps = 0
        self.last_lr = self.get_lr()
