"""Reinforcement-learning steps, chainrule against PyTorch, side by side (issue 17).

* ``dqn-update``: one DQN training update, batch 32, the book's 32-32 ELU Q-network on
  CartPole (4 inputs, 2 actions): target-network forward (no grad), online forward,
  Q(s, a), Huber loss, backward, Adam step.
* ``pg-step``: one step of the book's REINFORCE loop: forward of one observation through
  Dense(5, ELU) -> Dense(1, sigmoid), sample the action, binary cross-entropy, backward.
* ``pg-act``: chainrule's batched rollout step: one no-grad forward of 10 observations
  (10 episodes side by side) and the sampled actions.
* ``pg-update``: chainrule's batched REINFORCE update: one forward/backward over the 2000
  steps of an iteration (10 episodes x 200) and an Adam step.

Both libraries start from the same weights. Goal: chainrule >= 0.8x PyTorch's speed.
``--cpu-clock`` (with --threads 1, the default) times this thread's CPU time, which
ignores other processes on a shared machine.

    python benchmarks/bench_rl.py [--threads 1] [--cpu-clock] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

cr = common.import_chainrule()
from chainrule.rl import DQNAgent, DQNConfig, PolicyAgent  # noqa: E402
from chainrule.rl.replay import Batch  # noqa: E402


def _copy_linear(torch, linears, tlinears):
    with torch.no_grad():
        for m, t in zip(linears, tlinears):
            t.weight.copy_(torch.from_numpy(m.weight.data))
            t.bias.copy_(torch.from_numpy(m.bias.data))


def dqn_candidates(torch):
    rng = np.random.default_rng(0)
    b = 32
    batch = Batch(rng.normal(size=(b, 4)).astype(np.float32), rng.integers(0, 2, b),
                  rng.normal(size=b).astype(np.float32), rng.normal(size=(b, 4)).astype(
                      np.float32), (rng.random(b) < 0.1).astype(np.float32),
                  np.ones(b, np.float32), np.arange(b))
    cr.manual_seed(0)
    agent = DQNAgent(4, 2, DQNConfig(hidden=(32, 32), activation="elu", lr=1e-3,
                                     max_grad_norm=None, gamma=0.95))
    fns = {"chainrule": lambda: agent.update(batch)}
    if torch is not None:
        def net():
            return torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ELU(),
                                       torch.nn.Linear(32, 32), torch.nn.ELU(),
                                       torch.nn.Linear(32, 2))
        online, target = net(), net()
        lin = [m for m in agent.network if hasattr(m, "weight")]
        _copy_linear(torch, lin, [m for m in online if hasattr(m, "weight")])
        _copy_linear(torch, lin, [m for m in target if hasattr(m, "weight")])
        opt = torch.optim.Adam(online.parameters(), lr=1e-3)
        t = {k: torch.from_numpy(np.asarray(v)) for k, v in vars(batch).items()}

        def torch_update():
            with torch.no_grad():
                y = t["rewards"] + 0.95 * (1 - t["dones"]) * target(t["next_obs"]).max(1).values
            q = online(t["obs"]).gather(1, t["actions"][:, None])[:, 0]
            loss = torch.nn.functional.huber_loss(q, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return float(loss.detach())
        fns["pytorch"] = torch_update
    return fns


def pg_step_candidates(torch):
    cr.manual_seed(0)
    agent = PolicyAgent(4, 2, hidden=(5,), activation="elu")
    obs = np.random.default_rng(0).normal(size=(1, 4)).astype(np.float32)
    rng = np.random.default_rng(1)

    def chainrule_step():              # forward, sample, -log pi(a|s), backward
        return agent.step_gradients(obs, rng)
    fns = {"chainrule": chainrule_step}
    if torch is not None:
        lin = [m for m in agent.network if hasattr(m, "weight")]
        tnet = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ELU(), torch.nn.Linear(5, 1),
                                   torch.nn.Sigmoid())
        _copy_linear(torch, lin, [m for m in tnet if hasattr(m, "weight")])
        tobs = torch.from_numpy(obs)
        tparams = list(tnet.parameters())

        def torch_step():
            for p in tparams:
                p.grad = None
            p_left = tnet(tobs)
            action = torch.rand(1, 1) > p_left
            y = 1.0 - action.float()
            loss = torch.nn.functional.binary_cross_entropy(p_left, y)
            loss.backward()
            return [p.grad for p in tparams]
        fns["pytorch"] = torch_step
    return fns


def pg_batched_candidates(torch):
    cr.manual_seed(0)
    agent = PolicyAgent(4, 2, hidden=(5,), activation="elu")
    rng = np.random.default_rng(0)
    obs10 = rng.normal(size=(10, 4)).astype(np.float32)
    obs = rng.normal(size=(2000, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 2000)
    w = rng.normal(size=2000)
    opt = cr.optim.Adam(agent.network.parameters(), lr=0.01)

    def update():
        loss = agent.loss(obs, actions, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    act = {"chainrule": lambda: agent.act(obs10, rng)}
    upd = {"chainrule": update}
    if torch is not None:
        lin = [m for m in agent.network if hasattr(m, "weight")]
        tnet = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ELU(), torch.nn.Linear(5, 1))
        _copy_linear(torch, lin, [m for m in tnet if hasattr(m, "weight")])
        topt = torch.optim.Adam(tnet.parameters(), lr=0.01)
        t10, tobs = torch.from_numpy(obs10), torch.from_numpy(obs)
        left = torch.from_numpy((actions == 0).astype(np.float32))
        tw = torch.from_numpy(w.astype(np.float32))

        def tact():
            with torch.no_grad():
                return (torch.rand(10) > torch.sigmoid(tnet(t10)[:, 0])).long()

        def tupdate():
            z = tnet(tobs)[:, 0]
            per = torch.nn.functional.binary_cross_entropy_with_logits(z, left, reduction="none")
            loss = (tw * per).mean()
            topt.zero_grad()
            loss.backward()
            topt.step()
        act["pytorch"] = tact
        upd["pytorch"] = tupdate
    return act, upd


def main() -> None:
    args = common.peer_arguments(__doc__.split("\n")[0]).parse_args()
    torch, clock = common.start_peer_run(args)
    act, upd = pg_batched_candidates(torch)
    workloads = {"dqn-update (batch 32, 32-32)": dqn_candidates(torch),
                 "pg-step (book, 1 obs)": pg_step_candidates(torch),
                 "pg-act (10 obs, no grad)": act,
                 "pg-update (2000 steps)": upd}
    common.freeze_heap()
    rows = []
    for name, fns in workloads.items():
        timing = common.measure(fns, min_time=0.05 if args.quick else 0.2,
                                repeat=3 if args.quick else 7, clock=clock)
        c, t = timing["chainrule"], timing.get("pytorch")
        rows.append([name, common.fmt(c.median * 1e6),
                     common.fmt(t.median * 1e6) if t else "-",
                     f"{t.median / c.median:.2f}x" if t else "-",
                     f"{t.best / c.best:.2f}x" if t else "-"])
    print(f"threads {args.threads}, clock {'CPU (this thread)' if args.cpu_clock else 'wall'}, "
          f"median of {3 if args.quick else 7} interleaved repeats")
    print(common.format_table(["workload", "chainrule µs", "pytorch µs",
                               "speed vs pytorch (median)", "(best)"], rows))


if __name__ == "__main__":
    main()
