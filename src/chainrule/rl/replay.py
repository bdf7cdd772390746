"""Replay buffers for deep Q-learning: uniform, and proportional prioritized replay
(Schaul et al., 2016: P(i) ∝ p_i^alpha, importance weights (N P(i))^-beta / max)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "ReplayBuffer", "PrioritizedReplayBuffer"]


@dataclass
class Batch:
    """A sampled minibatch; ``weights`` are 1 for uniform replay."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    weights: np.ndarray
    indices: np.ndarray


class ReplayBuffer:
    """A ring buffer of (s, a, r, s', done) transitions, sampled uniformly.

    ``done`` must be True only when the episode *terminated* (not when it was truncated by
    a time limit), so that truncated episodes still bootstrap from Q(s', .).
    """

    def __init__(self, capacity: int, obs_size: int) -> None:
        if not isinstance(capacity, (int, np.integer)) or capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be a positive integer, got {capacity!r}")
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_size), np.float32)
        self.next_obs = np.zeros((capacity, obs_size), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
            done: bool) -> int:
        """Store one transition (overwriting the oldest when full); returns its slot."""
        i = self._next
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.dones[i] = next_obs, float(done)
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def _indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.size, size=batch_size)

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        return np.ones(len(idx), np.float32)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = self._indices(batch_size, rng)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.dones[idx], self._weights(idx), idx)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Uniform replay has no priorities (kept so agents need not ask)."""


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay: transitions with larger TD error are replayed more.

    New transitions get the largest priority seen so far. ``beta`` (importance-sampling
    exponent) is set by the agent as training goes (annealed towards 1).
    """

    def __init__(self, capacity: int, obs_size: int, alpha: float = 0.6, beta: float = 0.4,
                 eps: float = 1e-6) -> None:
        super().__init__(capacity, obs_size)
        if alpha < 0 or not 0 <= beta <= 1:
            raise ValueError(f"PrioritizedReplayBuffer: need alpha >= 0 and 0 <= beta <= 1, "
                             f"got alpha={alpha}, beta={beta}")
        self.alpha, self.beta, self.eps = float(alpha), float(beta), float(eps)
        self.priorities = np.zeros(capacity, np.float64)
        self._max_priority = 1.0
        self._probs: np.ndarray | None = None

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray,
            done: bool) -> int:
        i = super().add(obs, action, reward, next_obs, done)
        self.priorities[i] = self._max_priority
        return i

    def _indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        scaled = self.priorities[:self.size] ** self.alpha
        self._probs = scaled / scaled.sum()
        cdf = np.cumsum(self._probs)
        return np.minimum(np.searchsorted(cdf, rng.random(batch_size) * cdf[-1]), self.size - 1)

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        assert self._probs is not None
        w = (self.size * self._probs[idx]) ** (-self.beta)
        return (w / w.max()).astype(np.float32)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        p = np.abs(np.asarray(td_errors, np.float64)) + self.eps
        self.priorities[indices] = p
        self._max_priority = max(self._max_priority, float(p.max()))
