"""The three-phase 1cycle schedule of Hands-On ML ch. 11 (the book's Keras callback;
issue 20). PyTorch's two-phase policy is :class:`~chainrule.optim.OneCycle`.

With ``T = total_steps``, ``L = last_steps`` (default ``T // 10 + 1``) and
``h = (T - L) // 2``, the lr goes linearly from ``start_lr`` (default ``max_lr / 10``) up to
``max_lr`` over steps ``0 .. h``, back down to ``start_lr`` over ``h .. 2h``, then to
``last_lr`` (default ``start_lr / 1000``) over ``2h .. T``, each phase interpolated from its
first step. For ``T = 10,750`` and ``max_lr = 0.1``: ``lr[4837] = 0.1``,
``lr[9674] = 0.01``, ``lr[10749] = 1.928...e-5``.
"""

from __future__ import annotations

from .optimizer import Optimizer
from .schedules import LRSchedule

__all__ = ["OneCycleThreePhase"]


class OneCycleThreePhase(LRSchedule):
    """Linear warm-up, linear cool-down, then a final linear decay (see the module)."""

    def __init__(self, optimizer: Optimizer, total_steps: int, max_lr: float = 1e-3,
                 start_lr: float | None = None, last_steps: int | None = None,
                 last_lr: float | None = None) -> None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 3:
            raise ValueError(f"total_steps must be an int >= 3, got {total_steps!r}")
        if not max_lr > 0:
            raise ValueError(f"max_lr must be > 0, got {max_lr!r}")
        self.total_steps = total_steps
        self.max_lr = float(max_lr)
        self.start_lr = float(start_lr or max_lr / 10)
        self.last_steps = int(last_steps or total_steps // 10 + 1)
        self.half_step = (total_steps - self.last_steps) // 2
        if self.half_step <= 0 or 2 * self.half_step >= total_steps:
            raise ValueError(f"last_steps={self.last_steps} leaves no room for the two first "
                             f"phases in {total_steps} steps")
        self.final_lr = float(last_lr or self.start_lr / 1000)  # (last_lr: the applied lrs)
        super().__init__(optimizer)

    @staticmethod
    def _interp(t: int, t1: int, t2: int, lr1: float, lr2: float) -> float:
        return (lr2 - lr1) * (t - t1) / (t2 - t1) + lr1

    def _lr(self, t: int, base_lr: float, i: int) -> float:
        h = self.half_step
        if t < h:
            return self._interp(t, 0, h, self.start_lr, self.max_lr)
        if t < 2 * h:
            return self._interp(t, h, 2 * h, self.max_lr, self.start_lr)
        t = min(t, self.total_steps)
        return self._interp(t, 2 * h, self.total_steps, self.start_lr, self.final_lr)
