"""Policy gradients (REINFORCE) and tabular Q-learning, with the book's recipes (issue 17).

* ``cartpole``: Hands-On ML ch. 18: Dense(5, ELU) -> Dense(1, sigmoid), Adam 0.01,
  150 iterations x 10 episodes of at most 200 steps, discount 0.95. The book reports a
  mean of 190.3 over the episodes of its last iteration; we run ``--seeds`` seeds.
* ``lunar``: the book's exercise 8 on LunarLander-v3: 32-32 ReLU -> softmax(4), NAdam
  0.005, 200 iterations x 16 episodes (at most 1000 steps), discount 0.99 (book: 167.1).
  Needs ``pip install "gymnasium[box2d]"``.
* ``qlearning``: tabular Q-learning on the book's MDP (alpha0 0.05, decay 0.005, gamma
  0.90, random exploration) for 10^4, 10^5, 10^6 steps: its largest distance to the
  Q-value-iteration values, over the seeds; and the book's own run replayed draw for draw
  (``book_rng=True``, seed 42).

Writes ``docs/rl_reinforce.json`` (merged per key) and ``docs/figures/rl_*.png``.

    nice -n 10 python experiments/rl_reinforce.py [--parts cartpole,lunar,qlearning]
        [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from chainrule.rl import ReinforceConfig, book_mdp, q_learning, q_value_iteration, train_reinforce
from chainrule.rl.plots import plot_reward_curves

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "cartpole": ("CartPole-v1", {}),
    "lunar": ("LunarLander-v3", {"iterations": 200, "episodes": 16, "max_steps": 1000,
                                 "discount": 0.99, "lr": 0.005, "optimizer": "nadam",
                                 "hidden": (32, 32), "activation": "relu"}),
}


def policy_gradients(part: str, seeds: list[int], results: dict, out: Path) -> None:
    env_id, recipe = RECIPES[part]
    for seed in seeds:
        t0 = time.perf_counter()
        _, hist = train_reinforce(env_id, ReinforceConfig(seed=seed, **recipe),
                                  on_iteration=_progress(part, seed))
        minutes = (time.perf_counter() - t0) / 60
        m = hist["mean_rewards"]
        results[f"{part}/seed{seed}"] = {
            "last_iteration_mean": m[-1], "last_10_iterations_mean": float(np.mean(m[-10:])),
            "mean_rewards": m, "minutes": round(minutes, 2), "timer": hist["timer"]}
        print(f"{part} seed {seed}: last iteration {m[-1]:.1f}, last 10 iterations "
              f"{np.mean(m[-10:]):.1f}, {minutes:.1f} min (env "
              f"{hist['timer']['env_seconds']:.0f} s, agent "
              f"{hist['timer']['agent_seconds']:.0f} s)", flush=True)
        out.write_text(json.dumps(results, indent=1))
    plot_part(part, results)


def _progress(part: str, seed: int):
    def report(it: int, mean: float) -> None:
        if (it + 1) % 10 == 0:
            print(f"  {part} seed {seed} iteration {it + 1}: {mean:.1f}", flush=True)
    return report


def plot_part(part: str, results: dict) -> None:
    """The curves of every seed of ``part`` stored in ``results``."""
    curves = {f"seed {key.split('seed')[-1]}": (np.arange(1, len(r["mean_rewards"]) + 1),
                                                r["mean_rewards"])
              for key, r in sorted(results.items()) if key.startswith(part + "/")}
    plot_reward_curves(curves, ROOT / "docs" / "figures" / f"rl_reinforce_{part}.png",
                       f"REINFORCE on {RECIPES[part][0]}, the book's recipe",
                       xlabel="iteration (mean total reward of its episodes)",
                       threshold=190.3 if part == "cartpole" else 167.1)


def tabular(seeds: list[int], results: dict, out: Path,
            steps_list: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> None:
    mdp = book_mdp()
    exact = q_value_iteration(mdp, 0.90, 50)
    finite = np.isfinite(exact)
    # the book's own run: np.random.seed(42), its call order (tests/rl/test_mdp.py)
    book = q_learning(mdp, 0.90, steps=10_000, seed=42, book_rng=True)
    gap = np.zeros_like(exact)
    gap[finite] = np.abs(book[finite] - exact[finite])
    results["qlearning/book_run"] = {
        "q": np.where(finite, book, None).tolist(), "abs_error": gap.tolist(),
        "max_abs_error": float(gap.max()),
        "same_best_actions": book.argmax(axis=1).tolist() == [0, 0, 1]}
    print(f"Q-learning, the book's run (seed 42, legacy RNG): max |Q - Q*| {gap.max():.3f} "
          f"at {tuple(int(i) for i in np.unravel_index(gap.argmax(), gap.shape))}", flush=True)
    for steps in steps_list:
        errs, same = [], []
        for seed in seeds:
            q = q_learning(mdp, 0.90, steps=steps, seed=seed)
            errs.append(float(np.abs(q[finite] - exact[finite]).max()))
            same.append(q.argmax(axis=1).tolist() == [0, 0, 1])
        results[f"qlearning/{steps}"] = {"max_abs_error": errs, "same_best_actions": same}
        print(f"Q-learning {steps} steps: max |Q - Q*| per seed {np.round(errs, 3).tolist()}, "
              f"same best actions {same}", flush=True)
    out.write_text(json.dumps(results, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="qlearning,cartpole")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--qlearning-steps", default="10000,100000,1000000",
                    help="the run lengths of the qlearning part (10^6 takes minutes a seed)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "rl_reinforce.json"))
    ap.add_argument("--plot-only", action="store_true", help="redraw the figures from --out")
    args = ap.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.plot_only:
        for part in RECIPES:
            if any(k.startswith(part + "/") for k in results):
                plot_part(part, results)
        return
    for part in args.parts.split(","):
        if part == "qlearning":
            tabular(seeds, results, out,
                    tuple(int(n) for n in args.qlearning_steps.split(",")))
        else:
            policy_gradients(part, seeds, results, out)


if __name__ == "__main__":
    main()
