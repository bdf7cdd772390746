"""Gymnasium, imported lazily, and the checks on the environments an agent is given."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["require_gymnasium", "make_env", "check_discrete", "env_spaces", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "chainrule[rl]"'


def require_gymnasium() -> Any:
    """The ``gymnasium`` module, or an ImportError saying how to install it."""
    try:
        import gymnasium
    except ImportError as exc:
        raise ImportError(f"chainrule.rl needs Gymnasium for its environments: "
                          f"{INSTALL_HINT}") from exc
    return gymnasium


def make_env(env_id: str, render_mode: str | None = None, **kwargs: Any) -> Any:
    """``gymnasium.make(env_id)``; an unknown id raises ValueError naming close ids."""
    gym = require_gymnasium()
    if not isinstance(env_id, str) or env_id not in gym.envs.registry:
        known = sorted(gym.envs.registry)
        stem = str(env_id).split("-")[0].lower()
        close = [k for k in known if stem and stem in k.lower()][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else \
            " (list them with gymnasium.pprint_registry())"
        raise ValueError(f"unknown Gymnasium environment {env_id!r}{hint}")
    try:
        return gym.make(env_id, render_mode=render_mode, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise ImportError(f"environment {env_id!r} needs more packages ({exc}); for "
                          f"Box2D ones (LunarLander): pip install \"gymnasium[box2d]\"") \
            from exc


def check_discrete(env: Any, agent: str) -> int:
    """The number of actions of ``env``; ValueError if its action space is not Discrete
    or its observations are not a flat Box."""
    gym = require_gymnasium()
    name = env.spec.id if getattr(env, "spec", None) else type(env).__name__
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"{agent} needs a discrete action space (gymnasium.spaces.Discrete), "
                         f"but {name} has {space}; use an environment with discrete actions, "
                         f"e.g. CartPole-v1 or LunarLander-v3")
    obs = env.observation_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        raise ValueError(f"{agent} needs flat vector observations (a 1-D Box), but {name} has "
                         f"{obs}")
    return int(space.n)


def env_spaces(env: Any, agent: str) -> tuple[int, int]:
    """(observation size, number of actions) of a discrete-action vector environment."""
    n_actions = check_discrete(env, agent)
    return int(np.prod(env.observation_space.shape)), n_actions
