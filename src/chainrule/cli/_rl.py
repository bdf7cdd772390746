"""``chainrule train --model reinforce|dqn|double-dqn|dueling-dqn --env CartPole-v1``.

Trains an agent of :mod:`chainrule.rl` and writes to the run folder (``--out``, default
``runs/MODEL-ENV``, numbered ``-2``, ``-3``, ... when taken): ``agent.npz`` (the
checkpoint ``chainrule play`` reads), ``rewards.csv`` (the total reward of every training
episode) and ``rewards.png`` (its curve), then prints the greedy agent's mean reward over
``--eval-episodes`` evaluation episodes. ``--steps`` is the number of environment steps
of a DQN run; ``--iterations``/``--episodes`` shape a REINFORCE run; ``--lr``/
``--optimizer``/``--seed`` apply to both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import common

#: The agents ``chainrule train --model`` trains here.
MODELS = ("reinforce", "dqn", "double-dqn", "dueling-dqn")
OUTPUTS = ("agent.npz", "rewards.csv", "rewards.png")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The reinforcement-learning flags of ``chainrule train``."""
    p.add_argument("--env", default="CartPole-v1",
                   help="reinforce, dqn, double-dqn, dueling-dqn: the Gymnasium environment "
                        "(default CartPole-v1)")
    p.add_argument("--iterations", type=int, default=150,
                   help="reinforce: policy updates (default 150)")
    p.add_argument("--episodes", type=int, default=10,
                   help="reinforce: episodes per update (default 10)")
    p.add_argument("--eval-episodes", type=int, default=100,
                   help="reinforce, dqn...: greedy evaluation episodes after training "
                        "(default 100)")


def gymnasium() -> Any:
    from ..rl import require_gymnasium

    try:
        return require_gymnasium()
    except ImportError as exc:
        raise UsageError(str(exc)) from None


def make_env(env_id: str, **kwargs: Any) -> Any:
    from ..rl import make_env as make

    gymnasium()
    try:
        return make(env_id, **kwargs)
    except (ValueError, ImportError) as exc:
        raise UsageError(str(exc)) from None


def _out_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "out", None):
        out = Path(args.out)
        if (out / "agent.npz").exists() and not getattr(args, "overwrite", False):
            raise UsageError(f"--out {out} already holds an agent; pass --overwrite to replace "
                             f"it, or another --out")
        return common.out_dir(out)
    base = Path("runs") / f"{args.model}-{args.env}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return common.out_dir(out)


def train(args: argparse.Namespace) -> int:
    """Train ``args.model`` on ``args.env``; bad input raises UsageError."""
    from ..rl import (
        DQNConfig,
        ReinforceConfig,
        check_discrete,
        evaluate,
        save_agent,
        train_dqn,
        train_reinforce,
    )
    from ..rl.dqn import VARIANTS

    common.check_choice("agent", args.model, MODELS)
    for flag in ("iterations", "episodes", "eval_episodes"):
        common.check_positive_int("--" + flag.replace("_", "-"), getattr(args, flag))
    common.check_positive_number("--lr", getattr(args, "lr", None))
    steps = getattr(args, "steps", None)
    if steps is not None:
        common.check_positive_int("--steps", steps)
    env = make_env(args.env)                  # unknown id: one line naming close ids
    try:
        check_discrete(env, "REINFORCE" if args.model == "reinforce" else "DQN")
    except ValueError as exc:                 # a continuous action space
        raise UsageError(str(exc)) from None
    finally:
        env.close()
    optimizer = getattr(args, "optimizer", None) or "adam"
    seed = getattr(args, "seed", 0)
    quiet = getattr(args, "quiet", False)
    out = _out_dir(args)
    t0 = time.perf_counter()
    try:
        if args.model == "reinforce":
            cfg: Any = ReinforceConfig(iterations=args.iterations, episodes=args.episodes,
                                       optimizer=optimizer, seed=seed,
                                       lr=args.lr if args.lr is not None else 0.01)
            report = None if quiet else lambda i, r: print(
                f"iteration {i + 1}/{cfg.iterations}: mean reward {r:.1f}", flush=True)
            agent, hist = train_reinforce(args.env, cfg, on_iteration=report)
        else:
            extra: dict[str, Any] = dict(VARIANTS[args.model])
            if args.lr is not None:
                extra["lr"] = args.lr
            if steps is not None:
                extra["steps"] = steps
            cfg = DQNConfig(optimizer=optimizer, seed=seed, **extra)
            report = None if quiet else lambda e, s, r: print(
                f"episode {e} (step {s}/{cfg.steps}): reward {r:.0f}", flush=True) \
                if e % 20 == 0 else None
            agent, hist = train_dqn(args.env, cfg, on_episode=report)
    except ValueError as exc:                 # continuous actions, bad hyperparameters
        raise UsageError(str(exc)) from None
    minutes = (time.perf_counter() - t0) / 60
    save_agent(out / "agent.npz", agent, args.env, hist)
    rewards = hist["episode_rewards"]
    with open(out / "rewards.csv", "w") as f:
        f.write("episode,reward\n")
        f.writelines(f"{i + 1},{r:g}\n" for i, r in enumerate(rewards))
    plot = _plot(out, args, rewards)
    scores = evaluate(lambda: make_env(args.env), agent.act, episodes=args.eval_episodes,
                      seed=10_000)
    timer = hist["timer"]
    print(f"{args.model} on {args.env}: {len(rewards)} training episodes in {minutes:.1f} min "
          f"(environment {timer['env_seconds']:.0f} s, agent {timer['agent_seconds']:.0f} s); "
          f"greedy mean reward over {args.eval_episodes} episodes: {scores.mean():.1f} "
          f"± {scores.std():.1f}")
    print(f"wrote {out}/: agent.npz, rewards.csv{', ' + plot if plot else ''}")
    return 0


def _plot(out: Path, args: argparse.Namespace, rewards: list[float]) -> str | None:
    from ..rl.plots import plot_reward_curves

    try:
        plot_reward_curves({args.model: (range(1, len(rewards) + 1), rewards)},
                           out / "rewards.png", f"{args.model} on {args.env}",
                           window=10)
    except ImportError as exc:
        print(f"no rewards.png: {exc}")
        return None
    return "rewards.png"
