"""REINFORCE (policy gradients) as in Hands-On Machine Learning, chapter 18.

Each iteration plays ``episodes`` episodes with the current policy, discounts and
normalizes their rewards, and takes one optimizer step on the mean over all steps of
``advantage_t * grad(-log pi(a_t | s_t))``. The book computes that gradient step by step
and averages the weighted per-step gradients; here all steps of the iteration go through
the network as one batch, which gives the same gradient (the weights do not change within
an iteration; ``tests/rl/test_reinforce.py`` checks the two agree).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import optim
from ..autograd import Tensor, no_grad
from ..autograd import ops as ag
from .envs import env_spaces, make_env
from .networks import policy_network
from .returns import discount_and_normalize_rewards
from .rollout import Timer, run_episodes

__all__ = ["ReinforceConfig", "PolicyAgent", "train_reinforce", "policy_loss",
           "policy_loss_gradient", "policy_probabilities", "sample_actions"]


@dataclass
class ReinforceConfig:
    """The book's CartPole recipe by default (Adam 0.01, 150 x 10 episodes, 200 steps)."""

    iterations: int = 150
    episodes: int = 10
    max_steps: int = 200
    discount: float = 0.95
    lr: float = 0.01
    optimizer: str = "adam"
    eps: float = 1e-7                    # Keras' Adam/Nadam epsilon (the book's)
    hidden: tuple[int, ...] = (5,)
    activation: str = "elu"
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("iterations", "episodes", "max_steps"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"ReinforceConfig: {name} must be a positive integer, got {v!r}")
        if not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"ReinforceConfig: discount must be in [0, 1], got {self.discount}")
        if not self.lr > 0:
            raise ValueError(f"ReinforceConfig: lr must be positive, got {self.lr}")
        if not self.eps > 0:
            raise ValueError(f"ReinforceConfig: eps must be positive, got {self.eps}")
        self.hidden = tuple(int(h) for h in self.hidden)


def policy_probabilities(logits: np.ndarray) -> np.ndarray:
    """pi(. | s), (N, n_actions) float64, from a policy network's output: one column z
    (two actions, P(action 0) = sigmoid(z), the book's CartPole policy) or one logit per
    action (softmax)."""
    z = np.asarray(logits).astype(np.float64)
    if z.shape[-1] == 1:
        p0 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.stack([p0, 1.0 - p0], axis=1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample_actions(logits: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Actions drawn from pi(. | s) given the policy network's output (one uniform number
    from ``rng`` per row), or the most probable ones when ``rng`` is None.

    With one column z (two actions) this is the book's draw: action 0 when u < sigmoid(z).
    """
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        z = logits[:, 0]
        if rng is None:
            return (z < 0).astype(np.int64)
        return (rng.random(len(z)) * (1.0 + np.exp(-z)) >= 1.0).astype(np.int64)
    p = policy_probabilities(logits)
    if rng is None:
        return p.argmax(axis=-1)
    u = rng.random((len(p), 1))
    return np.minimum((u > np.cumsum(p, axis=-1)).sum(axis=-1), p.shape[-1] - 1)


class PolicyAgent:
    """A stochastic policy pi(a | s) from a :func:`policy_network`."""

    kind = "reinforce"

    def __init__(self, obs_size: int, n_actions: int, hidden: Sequence[int] = (5,),
                 activation: str = "elu") -> None:
        self.network_arguments = {"obs_size": int(obs_size), "n_actions": int(n_actions),
                                  "hidden": [int(h) for h in hidden], "activation": activation}
        self.network = policy_network(obs_size, n_actions, hidden, activation)
        self.n_actions = int(n_actions)
        self._params: tuple[Any, list] = (None, [])

    def log_probs(self, obs: Any) -> Tensor:
        """log pi(. | s) for a batch of observations: (N, n_actions)."""
        z = self.network(obs)
        if self.n_actions == 2:                  # z = logit of action 0
            return ag.concatenate([ag.log_sigmoid(z), ag.log_sigmoid(-z)], axis=-1)
        return ag.log_softmax(z, axis=-1)

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        """pi(. | s) for a batch of observations, (N, n_actions) float64 (no graph)."""
        return policy_probabilities(self.logits(obs))

    def act(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Sample actions (``rng``), or the most probable ones when ``rng`` is None."""
        return sample_actions(self.logits(obs), rng)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """The network's output for a batch of observations, as an array (no graph)."""
        with no_grad():
            return self.network(obs).data

    def loss(self, obs: np.ndarray, actions: np.ndarray, weights: np.ndarray) -> Tensor:
        """mean_t weights_t * (-log pi(a_t | s_t)): its gradient is the book's mean of
        return-weighted per-step gradients."""
        return policy_loss(self.network(obs), actions, weights)

    def step_gradients(self, obs: np.ndarray, rng: np.random.Generator | None
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The book's ``play_one_step`` without the environment: sample an action for each
        observation (``rng``; the most probable one when None) and return it with the
        gradient of mean_t -log pi(a_t | s_t) for every parameter (the order of
        ``network.parameters()``). For one observation that is the per-step gradient of
        the binary cross-entropy with target 1 - action the book keeps for each step.

        The loss's gradient at the logits is taken in closed form
        (:func:`policy_loss_gradient`, a fused sigmoid/softmax cross-entropy) and
        back-propagated through the network by autograd."""
        if self._params[0] is not self.network:      # the parameters, listed once
            self._params = (self.network, self.network.parameters())
        params = self._params[1]
        for p in params:
            p.grad = None
        z = self.network(obs)
        actions = sample_actions(z.data, rng)
        z.backward(policy_loss_gradient(z.data, actions))   # the loss head fused
        return actions, [p.grad.data for p in params]


def policy_loss(logits: Tensor, actions: Any, weights: Any = None) -> Tensor:
    """mean_t weights_t * (-log pi(a_t | s_t)) from the policy network's output (all
    weights 1 when ``weights`` is None).

    One column z (two actions, P(action 0) = sigmoid(z)): -log pi(a | s) is softplus(-z)
    for action 0 and softplus(z) for action 1 — the book's binary cross-entropy with
    target 1 - action, in two primitives. More columns: the fused softmax cross-entropy.
    """
    a = np.asarray(actions).reshape(-1)
    n = a.size
    if logits.ndim != 2 or logits.shape[0] != n:
        raise ValueError(f"policy_loss: logits must be (N, columns) with N = {n} actions, "
                         f"got {logits.shape}")
    if logits.shape[1] == 1:
        sign = np.where(a == 0, -1.0, 1.0).astype(logits.dtype).reshape(n, 1)
        nll = ag.softplus(logits * sign)
    else:
        nll = ag.softmax_cross_entropy(logits, a.astype(np.int64))
    if weights is None:
        return ag.mean(nll)
    w = np.asarray(weights, np.float64).reshape(-1)
    if w.size != n:
        raise ValueError(f"policy_loss: {n} actions but {w.size} weights")
    return ag.sum(nll * (w / n).astype(logits.dtype).reshape(nll.shape))


def policy_loss_gradient(logits: np.ndarray, actions: Any, weights: Any = None) -> np.ndarray:
    """d :func:`policy_loss` / d logits in closed form, as an array of the logits' dtype:
    (sigmoid(z) - 1[a = 0]) w / N for one column, (softmax(z) - onehot(a)) w / N for
    more (all weights 1 when ``weights`` is None)."""
    z = np.asarray(logits)
    a = np.asarray(actions).reshape(-1)
    n = a.size
    if z.ndim != 2 or z.shape[0] != n:
        raise ValueError(f"policy_loss_gradient: logits must be (N, columns) with N = {n} "
                         f"actions, got {z.shape}")
    p = policy_probabilities(z)
    g = p[:, :1] - (a == 0)[:, None] if z.shape[1] == 1 else p
    if z.shape[1] > 1:
        g[np.arange(n), a] -= 1.0
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, np.float64) / n
    if w.shape != (n,):
        raise ValueError(f"policy_loss_gradient: {n} actions but {w.size} weights")
    return (g * w[:, None]).astype(z.dtype)


def train_reinforce(env_id: str = "CartPole-v1", config: ReinforceConfig | None = None,
                    on_iteration: Callable[[int, float], None] | None = None,
                    env_factory: Callable[[], Any] | None = None,
                    ) -> tuple[PolicyAgent, dict[str, Any]]:
    """Train a policy with REINFORCE; returns the agent and a history dict with the mean
    total reward of each iteration (``mean_rewards``), every episode's total reward
    (``episode_rewards``), the environment and agent seconds (``timer``) and the config."""
    from ..random import manual_seed

    cfg = config or ReinforceConfig()
    factory = env_factory or (lambda: make_env(env_id))
    envs = [factory() for _ in range(cfg.episodes)]
    obs_size, n_actions = env_spaces(envs[0], "REINFORCE")
    manual_seed(cfg.seed)                      # the network's initial weights
    rng = np.random.default_rng(cfg.seed)
    agent = PolicyAgent(obs_size, n_actions, cfg.hidden, cfg.activation)
    opt = optim.create_optimizer(cfg.optimizer, agent.network.parameters(), cfg.lr,
                                 **_eps_argument(cfg))
    timer = Timer()
    mean_rewards: list[float] = []
    episode_rewards: list[float] = []
    try:
        for it in range(cfg.iterations):
            seeds = rng.integers(0, 2**31 - 1, size=cfg.episodes).tolist()
            episodes = run_episodes(envs, lambda o: agent.act(o, rng), seeds, cfg.max_steps,
                                    timer)
            t0 = _now()
            advantages = discount_and_normalize_rewards([e.rewards for e in episodes],
                                                        cfg.discount)
            loss = agent.loss(np.concatenate([e.observations for e in episodes]),
                              np.concatenate([e.actions for e in episodes]),
                              np.concatenate(advantages))
            opt.zero_grad()
            loss.backward()
            opt.step()
            timer.agent += _now() - t0
            totals = [e.total_reward for e in episodes]
            episode_rewards += totals
            mean_rewards.append(float(np.mean(totals)))
            if on_iteration is not None:
                on_iteration(it, mean_rewards[-1])
    finally:
        for env in envs:
            env.close()
    history = {"mean_rewards": mean_rewards, "episode_rewards": episode_rewards,
               "timer": {"env_seconds": timer.env, "agent_seconds": timer.agent},
               "config": asdict(cfg)}
    return agent, history


def _eps_argument(cfg: ReinforceConfig) -> dict[str, float]:
    """``eps=cfg.eps`` for the optimizers that take one (the Adam family, RMSprop, ...)."""
    spec = optim.OPTIMIZERS.get(cfg.optimizer.strip().lower())
    takes_eps = spec is not None and "eps" in inspect.signature(spec.cls).parameters
    return {"eps": float(cfg.eps)} if takes_eps else {}


def _now() -> float:
    import time

    return time.perf_counter()
