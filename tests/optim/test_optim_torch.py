"""Trajectories match torch.optim step for step (float64, rtol 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                     initial_accumulator_value=0.5, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.01)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.8, 0.99))),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.05, eps=1e-6)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, weight_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.05, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, momentum_decay=0.01, betas=(0.8, 0.9))),
]


def _ids(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("name, kwargs", CASES, ids=[_ids(c) for c in CASES])
def test_trajectory_matches_torch(problem, same_trajectory, name, kwargs):
    ours = problem.run(lambda ps: getattr(optim, name)(ps, **kwargs))
    theirs = problem.run_torch(lambda ps: getattr(torch.optim, name)(ps, foreach=False,
                                                                     **kwargs))
    same_trajectory(ours, theirs)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05)),
])
def test_float32_stays_float32_and_matches_torch(problem, same_trajectory, name, kwargs):
    opts = []

    def make(ps):
        opts.append(getattr(optim, name)(ps, **kwargs))
        return opts[-1]

    ours = problem.run(make, dtype=np.float32)
    assert all(a.dtype == np.float32 for step in ours for a in step)
    opt = opts[0]
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, key
    assert {dt for dt, _ in opt._work} == {np.dtype(np.float32)}
    theirs = problem.run_torch(lambda ps: getattr(torch.optim, name)(ps, foreach=False,
                                                                     **kwargs),
                               dtype=np.float32)
    same_trajectory(ours, theirs, rtol=2e-5, atol=2e-6)


def test_param_groups_match_torch(problem, same_trajectory):
    def groups(ps):
        return [{"params": ps[:1], "lr": 0.01, "betas": (0.8, 0.9)},
                {"params": ps[1:], "weight_decay": 0.1}]

    ours = problem.run(lambda ps: optim.Adam(groups(ps), lr=0.05, amsgrad=True))
    theirs = problem.run_torch(lambda ps: torch.optim.Adam(groups(ps), lr=0.05, amsgrad=True,
                                                           foreach=False))
    same_trajectory(ours, theirs)


def test_lr_changed_between_steps_is_used(problem, same_trajectory):
    def halve(t, opt):
        for g in opt.param_groups:
            g["lr"] *= 0.8

    ours = problem.run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), on_step=halve)
    theirs = problem.run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                               on_step=halve)
    same_trajectory(ours, theirs)


def test_end_to_end_mlp_with_chainrule_autograd_matches_torch():
    """Gradients from chainrule's engine and torch's, Adam on both: same losses."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    init = [rng.normal(size=(3, 5)) * 0.5, np.zeros(5), rng.normal(size=(5, 1)) * 0.5]

    params = [cr.tensor(a.copy(), requires_grad=True) for a in init]
    opt = optim.Adam(params, lr=0.05, weight_decay=1e-3)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.Adam(tparams, lr=0.05, weight_decay=1e-3, foreach=False)
    ours, theirs = [], []
    for _ in range(20):
        W1, b1, W2 = params
        loss = (((cr.tanh(cr.tensor(X) @ W1 + b1) @ W2) - Y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ours.append(loss.item())
        tW1, tb1, tW2 = tparams
        tloss = ((torch.tanh(torch.from_numpy(X) @ tW1 + tb1) @ tW2 - torch.from_numpy(Y))
                 ** 2).mean()
        topt.zero_grad()
        tloss.backward()
        topt.step()
        theirs.append(tloss.item())
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert ours[-1] < 0.5 * ours[0]
