"""Deep Q-learning: DQN with a target network, Double DQN, Dueling DQN, prioritized replay.

One update on a replayed minibatch (s, a, r, s', done):

    y = r + gamma (1 - done) Q_target(s', a*),  a* = argmax_a Q_target(s', a)   (DQN)
                                                 a* = argmax_a Q_online(s', a)   (Double DQN)
    loss = mean_i w_i L(Q_online(s_i, a_i) - y_i),  L = Huber or squared error

and the target network follows the online one by a hard copy every ``target_update``
steps when ``tau`` is None, else softly after each update (theta_target <- tau theta +
(1 - tau) theta_target). Best-weights restore keeps the weights that did best on separate
validation episodes (never the evaluation episodes) and puts them back at the end;
training stops early once the validation mean reaches ``stop_at``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import optim
from ..autograd import Tensor, no_grad
from ..nn import functional as F
from .envs import env_spaces, make_env
from .networks import q_network
from .replay import PrioritizedReplayBuffer, ReplayBuffer
from .rollout import Timer, run_episodes

__all__ = ["DQNConfig", "DQNAgent", "train_dqn", "epsilon_schedule", "VARIANTS"]

#: The agent names of ``chainrule train --model`` and what each turns on.
VARIANTS = {"dqn": {}, "double-dqn": {"double": True}, "dueling-dqn": {"dueling": True}}


@dataclass
class DQNConfig:
    """Hyperparameters. The defaults solve CartPole-v1 (docs/rl.md); the book's chapter-18
    DQN is ``hidden=(32, 32), activation="elu", lr=1e-2, gamma=0.95, batch_size=32,
    buffer_size=2000, loss="mse"``."""

    steps: int = 50_000
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    lr: float = 5e-4
    optimizer: str = "adam"
    gamma: float = 0.99
    batch_size: int = 64
    buffer_size: int = 50_000
    learning_starts: int = 1000
    train_every: int = 1
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_steps: int = 10_000
    target_update: int = 500
    tau: float | None = 0.005
    double: bool = False
    dueling: bool = False
    loss: str = "huber"
    prioritized: bool = False
    per_alpha: float = 0.6
    per_beta: float = 0.4
    max_grad_norm: float | None = 10.0
    max_episode_steps: int = 500
    val_every: int = 1000
    val_episodes: int = 10
    stop_at: float | None = 500.0
    restore_best: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "buffer_size", "train_every", "eps_steps",
                     "target_update", "max_episode_steps", "val_every", "val_episodes"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"DQNConfig: {name} must be a positive integer, got {v!r}")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"DQNConfig: loss must be 'huber' or 'mse', got {self.loss!r}")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"DQNConfig: gamma must be in [0, 1), got {self.gamma}")
        if self.tau is not None and not 0.0 < self.tau <= 1.0:
            raise ValueError(f"DQNConfig: tau must be in (0, 1], got {self.tau}")
        if not (0.0 <= self.eps_end <= 1.0 and 0.0 <= self.eps_start <= 1.0):
            raise ValueError("DQNConfig: eps_start and eps_end must be in [0, 1]")
        self.hidden = tuple(int(h) for h in self.hidden)


def epsilon_schedule(start: float, end: float, steps: int) -> Callable[[int], float]:
    """Linear decay from ``start`` to ``end`` over ``steps`` steps, then ``end``."""
    return lambda t: end + (start - end) * max(0.0, 1.0 - t / steps)


class DQNAgent:
    """An online Q-network, its target copy, and the update rule of :mod:`.dqn`."""

    def __init__(self, obs_size: int, n_actions: int, config: DQNConfig | None = None) -> None:
        cfg = config or DQNConfig()
        self.config = cfg
        self.n_actions = int(n_actions)
        self.network_arguments = {"obs_size": int(obs_size), "n_actions": int(n_actions),
                                  "hidden": list(cfg.hidden), "activation": cfg.activation,
                                  "dueling": bool(cfg.dueling)}
        self.network = q_network(**self.network_arguments)
        self.target = q_network(**self.network_arguments)
        self.sync_target()
        self.optimizer = optim.create_optimizer(cfg.optimizer, self.network.parameters(), cfg.lr)
        self._eye = np.eye(self.n_actions, dtype=np.float32)

    @property
    def kind(self) -> str:
        cfg = self.config
        return "dueling-dqn" if cfg.dueling else "double-dqn" if cfg.double else "dqn"

    def sync_target(self, tau: float | None = None) -> None:
        """Hard copy (``tau=None``) or soft update of the target network."""
        for t, p in zip(self.target.parameters(), self.network.parameters()):
            if tau is None:
                t.data[...] = p.data
            else:
                t.data *= 1.0 - tau
                t.data += tau * p.data

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.network(obs).data

    def act(self, obs: np.ndarray, epsilon: float = 0.0,
            rng: np.random.Generator | None = None) -> np.ndarray:
        """ε-greedy actions for a batch of observations (greedy when epsilon is 0)."""
        greedy = self.q_values(obs).argmax(axis=1)
        if epsilon > 0:
            assert rng is not None, "act: an epsilon > 0 needs a random generator"
            explore = rng.random(len(greedy)) < epsilon
            greedy = np.where(explore, rng.integers(0, self.n_actions, len(greedy)), greedy)
        return greedy

    def targets(self, rewards: np.ndarray, next_obs: np.ndarray, dones: np.ndarray) -> np.ndarray:
        with no_grad():
            q_next = self.target(next_obs).data
            if self.config.double:
                best = self.network(next_obs).data.argmax(axis=1)
                next_v = q_next[np.arange(len(best)), best]
            else:
                next_v = q_next.max(axis=1)
        return (rewards + self.config.gamma * (1.0 - dones) * next_v).astype(np.float32)

    def loss(self, obs: np.ndarray, actions: np.ndarray, targets: np.ndarray,
             weights: np.ndarray | None = None) -> tuple[Tensor, np.ndarray]:
        """(weighted mean loss, TD errors Q(s, a) - y) for one minibatch."""
        q = self.network(obs)
        q_sa = (q * self._eye[actions]).sum(axis=1)
        fn = F.huber_loss if self.config.loss == "huber" else F.mse_loss
        if weights is None:
            loss = fn(q_sa, targets)
        else:
            loss = (fn(q_sa, targets, reduction="none") * weights).mean()
        return loss, q_sa.data - targets

    def update(self, batch: Any) -> tuple[float, np.ndarray]:
        """One gradient step on a replayed minibatch; returns (loss, TD errors)."""
        y = self.targets(batch.rewards, batch.next_obs, batch.dones)
        weights = None if np.all(batch.weights == 1) else batch.weights
        loss, td = self.loss(batch.obs, batch.actions, y, weights)
        self.optimizer.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is not None:
            optim.clip_grad_norm_(self.network.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        return float(loss.data), td


def train_dqn(env_id: str = "CartPole-v1", config: DQNConfig | None = None,
              on_episode: Callable[[int, int, float], None] | None = None,
              env_factory: Callable[[], Any] | None = None) -> tuple[DQNAgent, dict[str, Any]]:
    """Train a DQN agent for ``config.steps`` environment steps.

    Returns the agent (with the best validation weights restored when
    ``restore_best``) and a history dict: ``episode_rewards``, ``episode_end_steps``,
    ``validation`` ([step, mean reward] pairs), ``best_step``, ``timer`` and ``config``.
    ``on_episode(episode, step, total_reward)`` is called after each training episode.
    """
    from ..random import manual_seed

    cfg = config or DQNConfig()
    factory = env_factory or (lambda: make_env(env_id))
    env = factory()
    val_envs = [factory() for _ in range(cfg.val_episodes)]
    obs_size, n_actions = env_spaces(env, "DQN")
    manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    agent = DQNAgent(obs_size, n_actions, cfg)
    buffer = (PrioritizedReplayBuffer(cfg.buffer_size, obs_size, cfg.per_alpha, cfg.per_beta)
              if cfg.prioritized else ReplayBuffer(cfg.buffer_size, obs_size))
    epsilon = epsilon_schedule(cfg.eps_start, cfg.eps_end, cfg.eps_steps)
    timer = Timer()
    clock = time.perf_counter
    history: dict[str, Any] = {"episode_rewards": [], "episode_end_steps": [], "validation": [],
                               "best_step": None, "stopped_at": None, "config": asdict(cfg)}
    best, best_state = -np.inf, None
    val_seeds = [1_000_000 + i for i in range(cfg.val_episodes)]   # never the eval seeds
    t0 = clock()
    obs = np.asarray(env.reset(seed=int(rng.integers(2**31 - 1)))[0], np.float32)
    timer.env += clock() - t0
    total, length = 0.0, 0
    try:
        for step in range(1, cfg.steps + 1):
            t1 = clock()
            action = int(agent.act(obs[None], epsilon(step), rng)[0])
            t2 = clock()
            nxt, reward, terminated, truncated, _ = env.step(action)
            nxt = np.asarray(nxt, np.float32)
            length += 1
            truncated = truncated or length >= cfg.max_episode_steps
            t3 = clock()
            buffer.add(obs, action, reward, nxt, terminated)
            total += reward
            obs = nxt
            if step >= cfg.learning_starts and step % cfg.train_every == 0:
                if isinstance(buffer, PrioritizedReplayBuffer):
                    buffer.beta = cfg.per_beta + (1 - cfg.per_beta) * step / cfg.steps
                batch = buffer.sample(cfg.batch_size, rng)
                _, td = agent.update(batch)
                buffer.update_priorities(batch.indices, td)
                if cfg.tau is not None:
                    agent.sync_target(cfg.tau)
            if cfg.tau is None and step % cfg.target_update == 0:
                agent.sync_target()
            t4 = clock()
            timer.agent += (t2 - t1) + (t4 - t3)
            timer.env += t3 - t2
            if terminated or truncated:
                history["episode_rewards"].append(total)
                history["episode_end_steps"].append(step)
                if on_episode is not None:
                    on_episode(len(history["episode_rewards"]), step, total)
                t5 = clock()
                obs = np.asarray(env.reset(seed=int(rng.integers(2**31 - 1)))[0], np.float32)
                timer.env += clock() - t5
                total, length = 0.0, 0
            if step % cfg.val_every == 0 and step >= cfg.learning_starts:
                val = run_episodes(val_envs, agent.act, val_seeds, cfg.max_episode_steps, timer)
                score = float(np.mean([e.total_reward for e in val]))
                history["validation"].append([step, score])
                if score > best:
                    best, history["best_step"] = score, step
                    best_state = {k: v.copy() for k, v in agent.network.state_dict().items()}
                if cfg.stop_at is not None and score >= cfg.stop_at:
                    history["stopped_at"] = step    # early stop on the validation episodes
                    break
    finally:
        for e in (env, *val_envs):
            e.close()
    if cfg.restore_best and best_state is not None:
        agent.network.load_state_dict(best_state)
        agent.sync_target()
    history["timer"] = {"env_seconds": timer.env, "agent_seconds": timer.agent}
    return agent, history
