"""Agent checkpoints: the network, what kind of agent it is, and its environment.

Written in the library's one checkpoint layout (:func:`chainrule.io.write_checkpoint`),
with an ``rl`` entry ``{"agent", "env_id", "network", "config"}``; :func:`load_agent`
rebuilds a greedy policy from the file alone and refuses a checkpoint of another agent or
environment, naming what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..errors import CheckpointError
from ..io import load_weights, read_checkpoint, write_checkpoint
from .networks import build_network

__all__ = ["save_agent", "load_agent", "LoadedAgent", "AGENT_KINDS"]

AGENT_KINDS = ("reinforce", "dqn", "double-dqn", "dueling-dqn")


def save_agent(path: str | Path, agent: Any, env_id: str, history: dict[str, Any] | None = None
               ) -> None:
    """Write ``agent`` (a PolicyAgent or DQNAgent) trained on ``env_id`` to ``path``."""
    kind = agent.kind
    network_kind = "policy" if kind == "reinforce" else "q"
    config = history.get("config") if history else None
    if config is None and hasattr(agent, "config"):
        config = asdict(agent.config)
    rl = {"agent": kind, "env_id": env_id, "network": network_kind,
          "network_arguments": dict(agent.network_arguments), "config": config or {}}
    extra = {}
    if history and "episode_rewards" in history:
        extra["episode_rewards"] = np.asarray(history["episode_rewards"], np.float64)
    write_checkpoint(path, agent.network, architecture={"name": f"rl-{kind}", "arguments": {}},
                     rl=rl, **extra)


class LoadedAgent:
    """A network read back from a checkpoint, with the greedy ``act`` of its kind."""

    def __init__(self, kind: str, env_id: str, network: Any, n_actions: int,
                 config: dict[str, Any]) -> None:
        self.kind, self.env_id, self.network = kind, env_id, network
        self.n_actions, self.config = n_actions, config

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The greedy action: argmax Q for DQN agents, the most probable one for a policy."""
        with no_grad():
            out = self.network(obs).data
        if self.kind == "reinforce" and self.n_actions == 2:
            return (out[:, 0] < 0).astype(np.int64)     # logit of action 0 below 0.5
        return out.argmax(axis=1)


def load_agent(path: str | Path, kinds: Sequence[str] | None = None,
               env_id: str | None = None) -> LoadedAgent:
    """Read an agent checkpoint. ``kinds``/``env_id``: what the caller expects; another
    agent or environment raises CheckpointError naming both."""
    data = read_checkpoint(path)
    rl = data.get("rl")
    if not isinstance(rl, dict) or "agent" not in rl:
        raise CheckpointError(f"{path}: not a reinforcement-learning agent checkpoint "
                              f"(expected one written by chainrule train --model "
                              f"{'|'.join(AGENT_KINDS)})")
    if kinds is not None and rl["agent"] not in kinds:
        raise CheckpointError(f"{path}: a {rl['agent']} agent, expected "
                              f"{' or '.join(kinds)}")
    if env_id is not None and rl["env_id"] != env_id:
        raise CheckpointError(f"{path}: an agent trained on {rl['env_id']}, expected one "
                              f"for {env_id}")
    args = dict(rl["network_arguments"])
    if "hidden" in args:
        args["hidden"] = [int(h) for h in args["hidden"]]
    network = build_network(rl["network"], args)
    load_weights(path, network, data["model"])
    network.eval()
    return LoadedAgent(rl["agent"], rl["env_id"], network, int(args["n_actions"]),
                       dict(rl.get("config") or {}))
