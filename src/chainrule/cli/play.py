"""``chainrule play --checkpoint runs/dqn-CartPole-v1/agent.npz --episodes 10 --gif a.gif``.

Plays a trained agent (greedy) for ``--episodes`` episodes of its environment, prints
their mean total reward, and with ``--gif`` writes an animation of the first episode
(Gymnasium's ``rgb_array`` rendering; needs ``pip install "chainrule[rl]"``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from ..errors import UsageError
from . import _rl, common

NAME = "play"


def register(subparsers: object) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="play a trained reinforcement-learning agent",
                          description="Run the agent of a checkpoint written by chainrule "
                                      "train --model reinforce|dqn|double-dqn|dueling-dqn, "
                                      "print its mean reward, and optionally save a GIF.")
    p.add_argument("--checkpoint", required=True, help="the agent.npz of a training run")
    p.add_argument("--episodes", type=int, default=10, help="episodes to play (default 10)")
    p.add_argument("--gif", default=None, help="write an animation of the first episode here")
    p.add_argument("--env", default=None,
                   help="the environment the agent must have been trained on (default: "
                        "the checkpoint's)")
    p.add_argument("--max-steps", type=int, default=500,
                   help="longest episode (default 500)")
    p.add_argument("--fps", type=int, default=30, help="GIF frames per second (default 30)")
    common.add_seed_arg(p, default=10_000, help="seed of the first episode (default 10000)")
    return p


def run(args: argparse.Namespace) -> int:
    from ..rl import evaluate, load_agent

    for flag in ("episodes", "max_steps", "fps"):
        common.check_positive_int("--" + flag.replace("_", "-"), getattr(args, flag))
    if not Path(args.checkpoint).exists():
        raise UsageError(f"--checkpoint {args.checkpoint} does not exist")
    if args.gif is not None and Path(args.gif).suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif}: give a file name ending in .gif")
    _rl.gymnasium()
    agent = load_agent(args.checkpoint, env_id=args.env)    # CheckpointError: one line
    gif = None
    if args.gif is not None:
        gif = _record(agent, args)
    scores = evaluate(lambda: _rl.make_env(agent.env_id), agent.act, episodes=args.episodes,
                      seed=args.seed, max_steps=args.max_steps)
    print(f"{agent.kind} on {agent.env_id}: mean reward {scores.mean():.1f} ± "
          f"{scores.std():.1f} over {args.episodes} episodes (min {scores.min():.0f}, "
          f"max {scores.max():.0f})")
    if gif is not None:
        print(f"wrote {gif}")
    return 0


def _record(agent: object, args: argparse.Namespace) -> Path:
    """Play one episode with rgb_array rendering and save its frames as a GIF."""
    try:
        from PIL import Image
    except ImportError:
        raise UsageError('--gif needs Pillow: pip install "chainrule[rl]"') from None
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")   # rgb_array frames need no display
    env = _rl.make_env(agent.env_id, render_mode="rgb_array")
    missing = (ImportError, _rl.gymnasium().error.DependencyNotInstalled)
    try:
        obs, _ = env.reset(seed=args.seed)
        frames = [env.render()]
        for _ in range(args.max_steps):
            action = int(agent.act(np.asarray(obs, np.float32)[None])[0])
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(env.render())
            if terminated or truncated:
                break
    except missing as exc:                           # rendering without pygame
        raise UsageError(f"rendering {agent.env_id} failed: {exc}; "
                         f'pip install "chainrule[rl]"') from None
    finally:
        env.close()
    out = Path(args.gif)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(np.asarray(f)) for f in frames[::2]]   # every other frame
    images[0].save(out, save_all=True, append_images=images[1:],
                   duration=int(2000 / args.fps), loop=0)
    return out
