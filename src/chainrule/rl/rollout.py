"""Running episodes: several environments stepped side by side, one batched forward pass
per step, and greedy evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Episode", "run_episodes", "evaluate", "Timer"]


@dataclass
class Episode:
    """One episode: ``observations[t]`` seen, ``actions[t]`` taken, ``rewards[t]`` got."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def total_reward(self) -> float:
        return float(self.rewards.sum())

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass
class Timer:
    """Seconds spent inside ``env.step``/``env.reset`` and in the agent (the rest)."""

    env: float = 0.0
    agent: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)


def run_episodes(envs: Sequence[Any], policy: Callable[[np.ndarray], np.ndarray],
                 seeds: Sequence[int | None], max_steps: int,
                 timer: Timer | None = None) -> list[Episode]:
    """Play one episode in each of ``envs`` (reset with ``seeds``), all at once.

    ``policy(obs_batch)`` gets the observations of the environments still running,
    (k, obs_size) float32, and returns k actions. An episode ends when its environment
    terminates or truncates, or after ``max_steps`` steps.
    """
    n = len(envs)
    clock = time.perf_counter
    t0 = clock()
    obs = [np.asarray(env.reset(seed=s)[0], np.float32) for env, s in zip(envs, seeds)]
    env_time = clock() - t0
    logs: list[tuple[list, list, list]] = [([], [], []) for _ in range(n)]
    active = list(range(n))
    step = 0
    agent_time = 0.0
    while active and step < max_steps:
        t1 = clock()
        batch = np.stack([obs[i] for i in active])
        actions = np.asarray(policy(batch))
        t2 = clock()
        agent_time += t2 - t1
        still = []
        for i, a in zip(active, actions.tolist()):
            o, r, terminated, truncated, _ = envs[i].step(a)
            log = logs[i]
            log[0].append(obs[i])
            log[1].append(a)
            log[2].append(r)
            obs[i] = np.asarray(o, np.float32)
            if not (terminated or truncated):
                still.append(i)
        env_time += clock() - t2
        active = still
        step += 1
    if timer is not None:
        timer.env += env_time
        timer.agent += agent_time
    return [Episode(np.asarray(o, np.float32).reshape(len(o), -1), np.asarray(a),
                    np.asarray(r, np.float64)) for o, a, r in logs]


def evaluate(make_env: Callable[[], Any], policy: Callable[[np.ndarray], np.ndarray],
             episodes: int = 100, seed: int = 10_000, max_steps: int = 500,
             parallel: int = 10) -> np.ndarray:
    """Total rewards of ``episodes`` episodes (environments reset with seeds
    ``seed, seed + 1, ...``), played ``parallel`` at a time."""
    envs = [make_env() for _ in range(min(parallel, episodes))]
    try:
        totals: list[float] = []
        while len(totals) < episodes:
            k = min(len(envs), episodes - len(totals))
            seeds = [seed + len(totals) + j for j in range(k)]
            totals += [e.total_reward for e in run_episodes(envs[:k], policy, seeds, max_steps)]
        return np.asarray(totals)
    finally:
        for env in envs:
            env.close()
