"""Discounted returns for policy gradients (book chapter 18).

>>> from chainrule.rl import discount_rewards
>>> discount_rewards([10, 0, -50], 0.8).tolist()
[-22.0, -40.0, -50.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["discount_rewards", "discount_and_normalize_rewards"]


def discount_rewards(rewards: Sequence[float] | np.ndarray, discount_factor: float) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} for one episode's rewards (a float64 array, same length)."""
    if not 0.0 <= discount_factor <= 1.0:
        raise ValueError(f"discount_rewards: discount_factor must be in [0, 1], "
                         f"got {discount_factor!r}")
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"discount_rewards: expected one episode's rewards (1-D), "
                         f"got shape {r.shape}")
    out = r.copy()
    for t in range(len(out) - 2, -1, -1):
        out[t] += discount_factor * out[t + 1]
    return out


def discount_and_normalize_rewards(all_rewards: Sequence[Sequence[float]],
                                   discount_factor: float) -> list[np.ndarray]:
    """Discount each episode, then standardize with the mean and (population) standard
    deviation of all the returns of all episodes, as the book does."""
    if len(all_rewards) == 0:
        raise ValueError("discount_and_normalize_rewards: no episodes")
    discounted = [discount_rewards(r, discount_factor) for r in all_rewards]
    flat = np.concatenate(discounted)
    if flat.size == 0:
        raise ValueError("discount_and_normalize_rewards: every episode is empty")
    mean, std = flat.mean(), flat.std()
    if std == 0:
        return [d - mean for d in discounted]
    return [(d - mean) / std for d in discounted]
