"""Deep Q-learning on CartPole-v1 (issue 17): which DQN variants solve it.

Each variant trains for ``--steps`` environment steps from the same fixed hyperparameters
(``DQNConfig`` defaults), keeps the weights that did best on 10 validation episodes
(seeds 1,000,000+, every 1000 steps; it stops early when they all reach 500), and is
then evaluated greedily on 100 *other*
episodes (seeds 10,000 to 10,099, up to 500 steps). Solved = mean >= 475 (Gymnasium's
threshold). Writes ``docs/rl_dqn.json`` and ``docs/figures/rl_dqn.png``.

    nice -n 10 python experiments/rl_dqn.py [--variants dqn,double-dqn,dueling-dqn,per]
        [--seeds 0,1,2] [--steps 50000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from chainrule.rl import DQNConfig, evaluate, make_env, train_dqn
from chainrule.rl.plots import plot_reward_curves

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"dqn": {}, "double-dqn": {"double": True}, "dueling-dqn": {"dueling": True},
            "per": {"prioritized": True}, "hard": {"tau": None},
            "book": {"hidden": (32, 32), "activation": "elu", "lr": 1e-2, "gamma": 0.95,
                     "batch_size": 32, "buffer_size": 2000, "loss": "mse"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="dqn,double-dqn,dueling-dqn")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--out", default=str(ROOT / "docs" / "rl_dqn.json"))
    ap.add_argument("--plot-only", action="store_true", help="redraw the figure from --out")
    args = ap.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.plot_only:
        return plot(results)
    for variant in args.variants.split(","):
        for seed in map(int, args.seeds.split(",")):
            cfg = DQNConfig(steps=args.steps, seed=seed, **VARIANTS[variant])
            t0 = time.perf_counter()
            agent, hist = train_dqn("CartPole-v1", cfg)
            minutes = (time.perf_counter() - t0) / 60
            scores = evaluate(lambda: make_env("CartPole-v1"), agent.act, episodes=100,
                              seed=10_000, max_steps=500)
            key = f"{variant}/seed{seed}"
            results[key] = {
                "eval_mean": float(scores.mean()), "eval_std": float(scores.std()),
                "eval_min": float(scores.min()), "solved": bool(scores.mean() >= 475),
                "best_step": hist["best_step"], "steps": args.steps,
                "stopped_at": hist["stopped_at"], "config": hist["config"],
                "train_minutes": round(minutes, 2), "timer": hist["timer"],
                "validation": hist["validation"],
                "episode_rewards": hist["episode_rewards"],
                "episode_end_steps": hist["episode_end_steps"]}
            print(f"{key}: eval mean {scores.mean():.1f} ± {scores.std():.1f} (min "
                  f"{scores.min():.0f}), best weights at step {hist['best_step']}, "
                  f"{minutes:.1f} min (env {hist['timer']['env_seconds']:.0f} s, agent "
                  f"{hist['timer']['agent_seconds']:.0f} s)", flush=True)
            merged = json.loads(out.read_text()) if out.exists() else {}
            merged[key] = results[key]                # another run may have added keys
            results.update(merged)
            out.write_text(json.dumps(results, indent=1))
    plot(results)


def plot(results: dict) -> None:
    """Greedy validation mean (10 episodes) against environment steps, seed 0 of each."""
    curves = {}
    for key, r in sorted(results.items()):
        if key.endswith("seed0") and r["validation"]:
            steps, scores = zip(*r["validation"])
            curves[key.rsplit("/", 1)[0]] = (steps, scores)
    plot_reward_curves(curves, ROOT / "docs" / "figures" / "rl_dqn.png",
                       "DQN variants on CartPole-v1 (seed 0): greedy validation mean",
                       xlabel="environment step", threshold=475)


if __name__ == "__main__":
    main()
