"""The networks of the agents: a policy network (logits) and Q-networks (plain, dueling).

Every builder takes plain arguments only, so a checkpoint stores them and rebuilds the
network from the file alone (:func:`build_network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import nn
from ..autograd import Tensor

__all__ = ["policy_network", "q_network", "DuelingQNetwork", "build_network", "ACTIVATIONS"]

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "selu": nn.SELU}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]()


def _mlp(sizes: Sequence[int], activation: str) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), _activation(activation)]
    return layers


def _logit_count(n_actions: int) -> int:
    if n_actions < 2:
        raise ValueError(f"a policy needs at least 2 actions, got {n_actions}")
    return 1 if n_actions == 2 else n_actions


def policy_network(obs_size: int, n_actions: int, hidden: Sequence[int] = (5,),
                   activation: str = "elu") -> nn.Sequential:
    """Observations -> action logits. With 2 actions, one logit z and P(action 0) = σ(z)
    (the book's Dense(1, sigmoid) on CartPole); otherwise one logit per action (softmax)."""
    sizes = [int(obs_size), *map(int, hidden)]
    return nn.Sequential(*_mlp(sizes, activation), nn.Linear(sizes[-1], _logit_count(n_actions)))


class DuelingQNetwork(nn.Module):
    """Q(s, a) = V(s) + A(s, a) - mean_a A(s, a) on a shared trunk (Wang et al., 2016)."""

    def __init__(self, obs_size: int, n_actions: int, hidden: Sequence[int] = (32, 32),
                 activation: str = "elu") -> None:
        super().__init__()
        sizes = [int(obs_size), *map(int, hidden)]
        self.trunk = nn.Sequential(*_mlp(sizes, activation))
        self.value = nn.Linear(sizes[-1], 1)
        self.advantage = nn.Linear(sizes[-1], int(n_actions))

    def forward(self, x: Any) -> Tensor:
        h = self.trunk(x)
        a = self.advantage(h)
        return self.value(h) + a - a.mean(axis=-1, keepdims=True)


def q_network(obs_size: int, n_actions: int, hidden: Sequence[int] = (32, 32),
              activation: str = "elu", dueling: bool = False) -> nn.Module:
    """Observations -> one Q-value per action; the book's DQN is 32-32 ELU."""
    if dueling:
        return DuelingQNetwork(obs_size, n_actions, hidden, activation)
    sizes = [int(obs_size), *map(int, hidden)]
    return nn.Sequential(*_mlp(sizes, activation), nn.Linear(sizes[-1], int(n_actions)))


def build_network(kind: str, arguments: dict[str, Any]) -> nn.Module:
    """Rebuild a network from a checkpoint's ``network`` entry."""
    builders = {"policy": policy_network, "q": q_network}
    if kind not in builders:
        raise ValueError(f"unknown network kind {kind!r}; known: policy, q")
    return builders[kind](**arguments)
