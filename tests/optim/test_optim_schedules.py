"""Learning-rate schedules against closed forms and torch.optim.lr_scheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import schedules as S


def _sgd(lr=0.1, groups=1, **kw):
    ps = [cr.tensor([1.0], requires_grad=True) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)], **kw)


def _trace(schedule, n):
    """The lr of group 0 at steps 0..n-1, as applied to the optimizer."""
    out = []
    for _ in range(n):
        out.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step()
    return out


# --------------------------------------------------------------------------- Weidman decays


def _weidman(lr, final_lr, epochs, kind):
    """Deep Learning from Scratch, ch. 4: _setup_decay, then _decay_lr after every epoch."""
    if kind == "exponential":
        decay = np.power(final_lr / lr, 1.0 / (epochs - 1))
    else:
        decay = (lr - final_lr) / (epochs - 1)
    out = []
    for _ in range(epochs):
        out.append(lr)
        lr = lr * decay if kind == "exponential" else lr - decay
    return out


@pytest.mark.parametrize("kind, cls", [("linear", S.LinearDecay),
                                       ("exponential", S.ExponentialDecay)])
def test_weidman_decays_match_the_book(kind, cls):
    sched = cls(_sgd(0.1), final_lr=0.001, total_steps=10)
    ours = _trace(sched, 13)
    np.testing.assert_allclose(ours[:10], _weidman(0.1, 0.001, 10, kind), rtol=1e-12)
    assert ours[9:] == [0.001] * 4  # stays at final_lr


def test_exponential_decay_has_constant_ratio_and_handles_groups():
    sched = S.ExponentialDecay(_sgd(0.1, groups=2), final_lr=[1e-3, 1e-2], total_steps=5)
    lrs = np.array([sched.get_lr(t) for t in range(5)])
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios[:, 0], (1e-3 / 0.1) ** 0.25, rtol=1e-12)
    np.testing.assert_allclose(ratios[:, 1], (1e-2 / 0.2) ** 0.25, rtol=1e-12)
    assert sched.get_lr() == [0.1, 0.2]  # get_lr(t) has no side effects


# --------------------------------------------------------------------------- steps


def test_step_and_multistep_match_torch():
    torch = pytest.importorskip("torch")
    cases = [(lambda o: S.StepDecay(o, step_size=3, gamma=0.5),
              lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
             (lambda o: S.MultiStepDecay(o, milestones=[7, 2, 5], gamma=0.1),
              lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[7, 2, 5],
                                                             gamma=0.1))]
    for ours_f, theirs_f in cases:
        ours = _trace(ours_f(_sgd(0.1)), 12)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        tsched = theirs_f(topt)
        theirs = []
        for _ in range(12):
            theirs.append(topt.param_groups[0]["lr"])
            topt.step()
            tsched.step()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_piecewise_constant():
    sched = S.PiecewiseConstant(_sgd(0.1), boundaries=[2, 5], values=[1.0, 0.5, 0.1])
    assert _trace(sched, 7) == [1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="values"):
        S.PiecewiseConstant(_sgd(), boundaries=[2], values=[1.0])
    with pytest.raises(ValueError, match="boundaries"):
        S.PiecewiseConstant(_sgd(), boundaries=[5, 2], values=[1.0, 2.0, 3.0])


def test_power_decay_closed_form():
    sched = S.PowerDecay(_sgd(0.1, groups=2), decay_steps=4, power=0.5)
    for t in range(10):
        assert sched.get_lr() == pytest.approx([0.1 / (1 + t / 4) ** 0.5,
                                                0.2 / (1 + t / 4) ** 0.5], rel=1e-12)
        sched.step()
    inv = S.PowerDecay(_sgd(1.0), decay_steps=10)  # power 1: halves after decay_steps
    assert inv.get_lr(10) == [0.5] and inv.get_lr(20) == [pytest.approx(1 / 3)]


# --------------------------------------------------------------------------- cosine


def test_cosine_matches_torch_cosine_annealing():
    torch = pytest.importorskip("torch")
    ours = _trace(S.CosineDecay(_sgd(0.1), total_steps=10, min_lr=0.01), 11)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, eta_min=0.01)
    theirs = []
    for _ in range(11):
        theirs.append(topt.param_groups[0]["lr"])
        topt.step()
        tsched.step()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    sched = S.CosineDecay(_sgd(0.1), total_steps=10, min_lr=0.01)
    assert sched.get_lr(10) == [0.01] and sched.get_lr(25) == [0.01]


def test_cosine_with_warmup_closed_form():
    sched = S.CosineDecay(_sgd(0.1), total_steps=12, warmup_steps=4, warmup_start_lr=0.02)
    lrs = _trace(sched, 13)
    np.testing.assert_allclose(lrs[:4], [0.02, 0.04, 0.06, 0.08], rtol=1e-12)
    expected = [0.05 * (1 + math.cos(math.pi * k / 8)) for k in range(9)]
    np.testing.assert_allclose(lrs[4:], expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="warmup_steps"):
        S.CosineDecay(_sgd(), total_steps=5, warmup_steps=5)


# --------------------------------------------------------------------------- 1cycle


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("total, pct", [(20, 0.3), (7, 0.25), (10, 0.0)])
def test_one_cycle_matches_torch(anneal, opt_name, total, pct):
    torch = pytest.importorskip("torch")
    kw = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.1)
    ps = [cr.tensor([1.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)]
    opt = getattr(optim, opt_name)([{"params": ps[:1]}, {"params": ps[1:]}], **kw)
    sched = S.OneCycle(opt, max_lr=[1.0, 0.5], total_steps=total, pct_start=pct,
                       anneal=anneal, div_factor=10.0, final_div_factor=100.0)
    tps = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    topt = getattr(torch.optim, opt_name)([{"params": tps[:1]}, {"params": tps[1:]}], **kw)
    tsched = torch.optim.lr_scheduler.OneCycleLR(
        topt, max_lr=[1.0, 0.5], total_steps=total, pct_start=float(pct),
        anneal_strategy=anneal, div_factor=10.0, final_div_factor=100.0)
    key = "momentum" if opt_name == "SGD" else "betas"
    for _ in range(total):
        for g, tg in zip(opt.param_groups, topt.param_groups):
            assert g["lr"] == pytest.approx(tg["lr"], rel=1e-12)
            assert np.allclose(g[key], tg[key], rtol=1e-12)
        topt.step()
        tsched.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 / 10 / 100)  # past the end: stays


def test_one_cycle_requires_momentum_to_cycle_it():
    opt = optim.Adagrad([cr.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum"):
        S.OneCycle(opt, max_lr=1.0, total_steps=10)
    sched = S.OneCycle(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)
    assert sched.get_lr(0) == [pytest.approx(0.04)]


# --------------------------------------------------------------------------- plateau


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs"),
    dict(patience=1, cooldown=2, min_lr=[0.005, 0.05], factor=0.3),
    dict(mode="max", patience=0, threshold=0.05, cooldown=1),
])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    metrics = np.concatenate([np.linspace(1, 0.5, 10), 0.5 + 0.05 * rng.normal(size=40)])
    opt = _sgd(0.1, groups=2)
    sched = S.ReduceLROnPlateau(opt, **kw)
    tps = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    topt = torch.optim.SGD([{"params": [tps[0]], "lr": 0.1}, {"params": [tps[1]], "lr": 0.2}])
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    seen = set()
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        assert sched.get_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        assert sched.last_lr == sched.get_lr()
        seen.add(sched.last_lr[0])
    assert len(seen) > 1  # the lr actually changed


def test_reduce_on_plateau_closed_story():
    opt = _sgd(1.0)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=0.3)
    for m in [1.0, 1.0, 1.0]:
        sched.step(m)
    assert sched.last_lr == [1.0]  # two bad evaluations: patience not exceeded
    sched.step(1.0)
    assert sched.last_lr == [0.5]
    for _ in range(3):
        sched.step(2.0)
    assert sched.last_lr == [0.3]  # floored at min_lr
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="lowest")


# --------------------------------------------------------------------------- common


MAKERS = [
    lambda o: S.LinearDecay(o, final_lr=0.01, total_steps=10),
    lambda o: S.ExponentialDecay(o, final_lr=0.01, total_steps=10),
    lambda o: S.StepDecay(o, step_size=3),
    lambda o: S.MultiStepDecay(o, milestones=[2, 4]),
    lambda o: S.PiecewiseConstant(o, boundaries=[3], values=[0.1, 0.01]),
    lambda o: S.PowerDecay(o, decay_steps=2),
    lambda o: S.CosineDecay(o, total_steps=10, warmup_steps=2),
    lambda o: S.OneCycle(o, max_lr=1.0, total_steps=10),
]


@pytest.mark.parametrize("make", MAKERS)
def test_state_dict_resumes_the_schedule(make):
    opt = _sgd(0.1, momentum=0.5)
    sched = make(opt)
    for _ in range(4):
        sched.step()
    saved, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved
    later = _trace(sched, 5)
    opt2 = _sgd(0.1, momentum=0.5)
    opt2.load_state_dict(saved_opt)
    sched2 = make(opt2)
    sched2.load_state_dict(saved)
    assert _trace(sched2, 5) == later
    assert sched2.get_last_lr() == sched2.last_lr


def test_plateau_state_dict_resumes():
    opt = _sgd(1.0)
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    for m in [3.0, 2.0, 2.0]:
        sched.step(m)
    saved = sched.state_dict()
    opt2 = _sgd(1.0)
    sched2 = S.ReduceLROnPlateau(opt2, patience=0, factor=0.5)
    sched2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.5
    sched.step(2.0)
    sched2.step(2.0)
    assert sched.last_lr == sched2.last_lr == [0.25]


@pytest.mark.parametrize("call, match", [
    (lambda o: S.LinearDecay(o, final_lr=0.0, total_steps=0), "total_steps"),
    (lambda o: S.ExponentialDecay(o, final_lr=0.01, total_steps=-3), "total_steps"),
    (lambda o: S.ExponentialDecay(o, final_lr=0.0, total_steps=5), "final_lr"),
    (lambda o: S.CosineDecay(o, total_steps=0), "total_steps"),
    (lambda o: S.OneCycle(o, max_lr=1.0, total_steps=0), "total_steps"),
    (lambda o: S.OneCycle(o, max_lr=1.0, total_steps=10, pct_start=1.5), "pct_start"),
    (lambda o: S.OneCycle(o, max_lr=1.0, total_steps=10, anneal="cubic"), "anneal"),
    (lambda o: S.OneCycle(o, max_lr=[1.0, 2.0], total_steps=10), "max_lr"),
    (lambda o: S.StepDecay(o, step_size=0), "step_size"),
    (lambda o: S.PowerDecay(o, decay_steps=0), "decay_steps"),
    (lambda o: S.LinearDecay(o, final_lr=-1.0, total_steps=5), "final_lr"),
])
def test_bad_schedule_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(_sgd(0.1, momentum=0.9))


def test_linear_decay_single_step_and_get_lr_validation():
    sched = S.LinearDecay(_sgd(0.1), final_lr=0.01, total_steps=1)
    assert sched.last_lr == [0.01]  # the only step is the last one
    with pytest.raises(ValueError, match="step"):
        sched.get_lr(-1)
