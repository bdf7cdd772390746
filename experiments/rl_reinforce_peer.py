"""REINFORCE with the book's recipe in chainrule and in PyTorch, run for run (issue 17).

The evidence for the REINFORCE acceptance ("last iteration >= 190 over 3 seeds", book:
190.3 from one run): for each seed the same training runs twice,

* ``chainrule``: :func:`chainrule.rl.train_reinforce` (the book's CartPole recipe by default);
* ``torch``: the same loop with the network, the loss gradient and the optimizer step in
  PyTorch — ``torch.nn.Linear``/``ELU`` layers holding a copy of chainrule's initial
  weights for the seed, ``torch.optim.Adam`` (or ``NAdam``) with the same learning rate
  and epsilon.

Everything else is shared, so the two runs see the same thing: the environments are reset
with the same seeds and the actions are drawn from the same NumPy stream
(:func:`chainrule.rl.rollout.run_episodes`, :func:`chainrule.rl.reinforce.sample_actions`),
the returns are discounted and normalized by the same function. While the two networks
agree to the last bit the episodes are identical; float32 rounding differences eventually
flip one sampled action and the runs part ways (``identical_iterations`` says when).

Writes ``docs/rl_reinforce_peer.json`` and ``docs/figures/rl_reinforce_peer_<part>.png``.

    nice -n 10 python experiments/rl_reinforce_peer.py [--part cartpole|lunar]
        [--seeds 0,1,2,3,4] [--libraries chainrule,torch]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from chainrule import nn
from chainrule.random import manual_seed
from chainrule.rl import PolicyAgent, ReinforceConfig, train_reinforce
from chainrule.rl.envs import env_spaces, make_env
from chainrule.rl.reinforce import sample_actions
from chainrule.rl.returns import discount_and_normalize_rewards
from chainrule.rl.rollout import Timer, run_episodes

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "cartpole": ("CartPole-v1", {}, 190.3),
    "lunar": ("LunarLander-v3", {"iterations": 200, "episodes": 16, "max_steps": 1000,
                                 "discount": 0.99, "lr": 0.005, "optimizer": "nadam",
                                 "hidden": (32, 32), "activation": "relu"}, 167.1),
}


def torch_network(torch, agent: PolicyAgent):
    """A ``torch.nn.Sequential`` with the layers and current weights of ``agent.network``."""
    activations = {nn.ELU: torch.nn.ELU, nn.ReLU: torch.nn.ReLU, nn.Tanh: torch.nn.Tanh}
    layers = []
    for m in agent.network:
        if isinstance(m, nn.Linear):
            lin = torch.nn.Linear(m.in_features, m.out_features)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(m.weight.data))
                lin.bias.copy_(torch.from_numpy(m.bias.data))
            layers.append(lin)
        else:
            layers.append(activations[type(m)]())
    return torch.nn.Sequential(*layers)


def torch_loss(torch, net, obs, actions, weights):
    """mean_t w_t * (-log pi(a_t | s_t)), the loss chainrule's PolicyAgent.loss computes."""
    z = net(torch.from_numpy(obs))
    w = torch.from_numpy(np.asarray(weights, np.float32))
    a = torch.from_numpy(np.asarray(actions, np.int64))
    if z.shape[1] == 1:                      # the book's binary cross-entropy on P(left)
        z = z[:, 0]
        left = (a == 0).float()
        logsig = torch.nn.functional.logsigmoid
        return -((w * left) * logsig(z) + (w * (1 - left)) * logsig(-z)).sum() / len(w)
    logp = torch.log_softmax(z, dim=-1)
    return -(logp.gather(1, a[:, None])[:, 0] * w).sum() / len(w)


def train_torch(env_id: str, cfg: ReinforceConfig) -> dict:
    """:func:`train_reinforce`'s loop, step for step, with PyTorch doing the learning."""
    import torch

    torch.set_num_threads(1)
    envs = [make_env(env_id) for _ in range(cfg.episodes)]
    obs_size, n_actions = env_spaces(envs[0], "REINFORCE")
    manual_seed(cfg.seed)                    # chainrule's initial weights for this seed ...
    rng = np.random.default_rng(cfg.seed)
    net = torch_network(torch, PolicyAgent(obs_size, n_actions, cfg.hidden, cfg.activation))
    opt_class = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam}[cfg.optimizer]
    opt = opt_class(net.parameters(), lr=cfg.lr, eps=cfg.eps)

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return sample_actions(net(torch.from_numpy(obs)).numpy(), rng)

    timer, mean_rewards = Timer(), []
    try:
        for _ in range(cfg.iterations):
            seeds = rng.integers(0, 2**31 - 1, size=cfg.episodes).tolist()
            episodes = run_episodes(envs, policy, seeds, cfg.max_steps, timer)
            t0 = time.perf_counter()
            advantages = discount_and_normalize_rewards([e.rewards for e in episodes],
                                                        cfg.discount)
            loss = torch_loss(torch, net, np.concatenate([e.observations for e in episodes]),
                              np.concatenate([e.actions for e in episodes]),
                              np.concatenate(advantages))
            opt.zero_grad()
            loss.backward()
            opt.step()
            timer.agent += time.perf_counter() - t0
            mean_rewards.append(float(np.mean([e.total_reward for e in episodes])))
    finally:
        for env in envs:
            env.close()
    return {"mean_rewards": mean_rewards,
            "timer": {"env_seconds": timer.env, "agent_seconds": timer.agent}}


def run(part: str, library: str, seed: int) -> dict:
    env_id, recipe, _ = RECIPES[part]
    cfg = ReinforceConfig(seed=seed, **recipe)
    t0 = time.perf_counter()
    if library == "chainrule":
        hist = train_reinforce(env_id, cfg)[1]
    else:
        hist = train_torch(env_id, cfg)
    m = hist["mean_rewards"]
    return {"last_iteration_mean": m[-1], "last_10_iterations_mean": float(np.mean(m[-10:])),
            "mean_rewards": m, "minutes": round((time.perf_counter() - t0) / 60, 2),
            "timer": hist["timer"]}


def summarize(part: str, results: dict) -> dict:
    """Mean and spread of each library's last iteration, and how long the twin runs agree."""
    out: dict = {}
    for lib in ("chainrule", "torch"):
        runs = [r for k, r in sorted(results.items()) if k.startswith(f"{part}/{lib}/")]
        if runs:
            last = [r["last_iteration_mean"] for r in runs]
            last10 = [r["last_10_iterations_mean"] for r in runs]
            out[lib] = {"seeds": len(last), "last_iteration_mean": float(np.mean(last)),
                        "last_iteration_std": float(np.std(last)),
                        "last_10_iterations_mean": float(np.mean(last10)),
                        "last_10_iterations_std": float(np.std(last10)),
                        "at_least_book": int(sum(v >= RECIPES[part][2] for v in last))}
            if part == "cartpole":                      # the acceptance's threshold
                out[lib]["at_least_190"] = int(sum(v >= 190 for v in last))
    same = {}
    for key, r in results.items():
        if key.startswith(f"{part}/chainrule/"):
            twin = results.get(key.replace("/chainrule/", "/torch/"))
            if twin:
                a, b = np.asarray(r["mean_rewards"]), np.asarray(twin["mean_rewards"])
                differ = np.flatnonzero(a != b)
                same[key.split("/")[-1]] = int(differ[0]) if differ.size else len(a)
    out["identical_iterations"] = same
    return out


def plot(part: str, results: dict) -> None:
    """Each library's mean over its seeds at every iteration, with a band of one standard
    deviation; the last iteration of every seed as dots."""
    from chainrule.viz.figures import new_figure, save_figure

    env_id, _, book = RECIPES[part]
    fig = new_figure((6.4, 3.8), what="reward curves", layout="constrained")
    ax = fig.add_subplot()
    for lib, color in (("chainrule", "C0"), ("torch", "C1")):
        runs = np.array([r["mean_rewards"] for k, r in sorted(results.items())
                         if k.startswith(f"{part}/{lib}/")])
        if not runs.size:
            continue
        x = np.arange(1, runs.shape[1] + 1)
        mean, std = runs.mean(axis=0), runs.std(axis=0)
        ax.plot(x, mean, color=color, lw=1.2, label=f"{lib}: mean of {len(runs)} seeds")
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15)
        ax.plot(np.full(len(runs), x[-1] + 2 + (lib == "torch") * 2), runs[:, -1], ".",
                color=color, ms=4)
    ax.axhline(book, color="k", ls="--", lw=0.8, label=f"book: {book:g} (one run)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean total reward of the iteration")
    ax.set_title(f"REINFORCE on {env_id}, book recipe: chainrule and PyTorch, same seeds",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, ROOT / "docs" / "figures" / f"rl_reinforce_peer_{part}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=sorted(RECIPES), default="cartpole")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--libraries", default="chainrule,torch")
    ap.add_argument("--out", default=str(ROOT / "docs" / "rl_reinforce_peer.json"))
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if not args.plot_only:
        for seed in (int(s) for s in args.seeds.split(",")):
            for lib in args.libraries.split(","):
                r = run(args.part, lib, seed)
                results[f"{args.part}/{lib}/seed{seed}"] = r
                print(f"{args.part} {lib} seed {seed}: last iteration "
                      f"{r['last_iteration_mean']:.1f}, last 10 "
                      f"{r['last_10_iterations_mean']:.1f}, {r['minutes']:.1f} min", flush=True)
                results[f"{args.part}/summary"] = summarize(args.part, results)
                out.write_text(json.dumps(results, indent=1))
    results[f"{args.part}/summary"] = summarize(args.part, results)
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results[f"{args.part}/summary"], indent=1))
    plot(args.part, results)


if __name__ == "__main__":
    main()
