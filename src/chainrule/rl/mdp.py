"""Markov decision processes: Q-value iteration and tabular Q-learning (book chapter 18).

>>> from chainrule.rl import book_mdp, q_value_iteration
>>> q = q_value_iteration(book_mdp(), gamma=0.90, iterations=50)
>>> q.argmax(axis=1).tolist()
[0, 0, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MDP", "book_mdp", "q_value_iteration", "q_learning", "learning_rate_decay"]


@dataclass(frozen=True)
class MDP:
    """A finite MDP: ``transitions[s, a, s']`` = P(s' | s, a), ``rewards[s, a, s']``, and
    the actions possible in each state (the other rows of ``transitions`` are unused).

    Built from the book's nested lists with :meth:`from_lists` (``None`` marks an action
    that is impossible in a state).
    """

    transitions: np.ndarray
    rewards: np.ndarray
    possible_actions: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        t, r = np.asarray(self.transitions, float), np.asarray(self.rewards, float)
        if t.ndim != 3 or t.shape[0] != t.shape[2]:
            raise ValueError(f"MDP: transitions must have shape (states, actions, states), "
                             f"got {t.shape}")
        if r.shape != t.shape:
            raise ValueError(f"MDP: rewards must have the shape of transitions {t.shape}, "
                             f"got {r.shape}")
        if len(self.possible_actions) != t.shape[0]:
            raise ValueError(f"MDP: possible_actions needs one list per state "
                             f"({t.shape[0]}), got {len(self.possible_actions)}")
        for s, actions in enumerate(self.possible_actions):
            if not actions:
                raise ValueError(f"MDP: state {s} has no possible action")
            for a in actions:
                if not 0 <= a < t.shape[1]:
                    raise ValueError(f"MDP: state {s}: action {a} is not in 0..{t.shape[1]-1}")
                total = t[s, a].sum()
                if np.any(t[s, a] < 0) or not np.isclose(total, 1.0):
                    raise ValueError(f"MDP: P(. | s={s}, a={a}) must be probabilities "
                                     f"summing to 1, got {t[s, a].tolist()}")
        object.__setattr__(self, "transitions", t)
        object.__setattr__(self, "rewards", r)
        object.__setattr__(self, "possible_actions",
                           tuple(tuple(int(a) for a in acts) for acts in self.possible_actions))

    @classmethod
    def from_lists(cls, transitions: Sequence, rewards: Sequence,
                   possible_actions: Sequence[Sequence[int]]) -> MDP:
        """The book's layout: ``transitions[s][a]`` is a list over s', or None."""
        n_states = len(transitions)
        n_actions = max(len(row) for row in transitions)
        t = np.zeros((n_states, n_actions, n_states))
        for s, row in enumerate(transitions):
            for a, probs in enumerate(row):
                if probs is not None:
                    t[s, a] = probs
        return cls(t, np.asarray(rewards, float), tuple(map(tuple, possible_actions)))

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[1]

    def initial_q(self) -> np.ndarray:
        """Zeros for the possible actions, -inf for the impossible ones."""
        q = np.full((self.n_states, self.n_actions), -np.inf)
        for s, actions in enumerate(self.possible_actions):
            q[s, list(actions)] = 0.0
        return q

    def step(self, state: int, action: int, rng: Any) -> tuple[int, float]:
        """Sample (next state, reward) of taking ``action`` in ``state`` (``rng``: a NumPy
        ``Generator`` or legacy ``RandomState``; one ``rng.choice`` call)."""
        if action not in self.possible_actions[state]:
            raise ValueError(f"MDP.step: action {action} is not possible in state {state} "
                             f"(possible: {list(self.possible_actions[state])})")
        nxt = int(rng.choice(self.n_states, p=self.transitions[state, action]))
        return nxt, float(self.rewards[state, action, nxt])


def book_mdp() -> MDP:
    """The 3-state MDP of Hands-On Machine Learning, chapter 18."""
    return MDP.from_lists(
        transitions=[[[0.7, 0.3, 0.0], [1.0, 0.0, 0.0], [0.8, 0.2, 0.0]],
                     [[0.0, 1.0, 0.0], None, [0.0, 0.0, 1.0]],
                     [None, [0.8, 0.1, 0.1], None]],
        rewards=[[[+10, 0, 0], [0, 0, 0], [0, 0, 0]],
                 [[0, 0, 0], [0, 0, 0], [0, 0, -50]],
                 [[0, 0, 0], [+40, 0, 0], [0, 0, 0]]],
        possible_actions=[[0, 1, 2], [0, 2], [1]])


def _check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma!r}")


def q_value_iteration(mdp: MDP, gamma: float = 0.90, iterations: int = 50) -> np.ndarray:
    """Q_{k+1}(s, a) = sum_s' T(s, a, s') [R(s, a, s') + gamma max_a' Q_k(s', a')].

    Starts from :meth:`MDP.initial_q`; impossible actions stay at -inf.
    """
    _check_gamma(gamma)
    q = mdp.initial_q()
    mask = np.isfinite(q)
    for _ in range(int(iterations)):
        best_next = q.max(axis=1)                               # V_k(s')
        new = np.einsum("sat,sat->sa", mdp.transitions, mdp.rewards) \
            + gamma * mdp.transitions @ best_next
        q = np.where(mask, new, -np.inf)
    return q


def learning_rate_decay(alpha0: float, decay: float) -> Callable[[int], float]:
    """The book's schedule alpha_t = alpha0 / (1 + t * decay)."""
    return lambda t: alpha0 / (1.0 + t * decay)


def q_learning(mdp: MDP, gamma: float = 0.90, steps: int = 10_000, alpha0: float = 0.05,
               decay: float = 0.005, state: int = 0, seed: int | None = 42,
               policy: Callable[[int, Any], int] | None = None,
               book_rng: bool = False) -> np.ndarray:
    """Tabular Q-learning with a random exploration policy, as in the book.

    At step t the agent in state s takes ``policy(s, rng)`` (default: uniform over the
    possible actions), observes (s', r) and updates
    Q(s, a) <- (1 - alpha_t) Q(s, a) + alpha_t (r + gamma max_a' Q(s', a')) with
    alpha_t = alpha0 / (1 + t * decay). The environment is sampled from ``mdp``.

    ``rng`` is ``np.random.default_rng(seed)``; with ``book_rng=True`` it is NumPy's legacy
    ``np.random.RandomState(seed)``, drawn in the book notebook's order (the action, then
    the next state, each with ``choice``), so ``seed=42`` replays the book's own run
    (``np.random.seed(42)`` before its loop) draw for draw.
    """
    _check_gamma(gamma)
    rng = np.random.RandomState(seed) if book_rng else np.random.default_rng(seed)
    alpha = learning_rate_decay(alpha0, decay)
    if policy is None:
        def policy(s: int, g: Any) -> int:
            return int(g.choice(mdp.possible_actions[s]))
    q = mdp.initial_q()
    for t in range(int(steps)):
        action = policy(state, rng)
        nxt, reward = mdp.step(state, action, rng)
        a_t = alpha(t)
        q[state, action] = (1 - a_t) * q[state, action] + a_t * (reward + gamma * q[nxt].max())
        state = nxt
    return q
