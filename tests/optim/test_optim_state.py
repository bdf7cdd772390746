"""Optimizer behaviour without an oracle: state_dict, in-place updates, allocations, errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

ALL = [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.5),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
    lambda ps: optim.AdamW(ps, lr=0.05),
    lambda ps: optim.Adamax(ps, lr=0.05, weight_decay=0.01),
    lambda ps: optim.NAdam(ps, lr=0.05, weight_decay=0.01, decoupled_weight_decay=True),
]
NAMES = ["SGD-nesterov", "SGD-dampening", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax",
         "NAdam"]


def _steps(problem, params, opt, start, n):
    out = []
    for t in range(start, start + n):
        for p, g in zip(params, problem.grads(t, *[p.data for p in params])):
            p.grad = None if g is None else cr.tensor(g)
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


def _params(problem, dtype=np.float64):
    return [cr.tensor(a.astype(dtype), requires_grad=True) for a in problem.init]


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_state_dict_save_continue_restore_continue_is_identical(problem, make):
    params = _params(problem)
    opt = make(params)
    _steps(problem, params, opt, 0, 5)
    saved_state = opt.state_dict()
    saved_params = [p.data.copy() for p in params]
    first = _steps(problem, params, opt, 5, 5)
    for p, v in zip(params, saved_params):
        p.data[...] = v
    opt.load_state_dict(saved_state)
    again = _steps(problem, params, opt, 5, 5)
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_state_dict_survives_a_file_and_loads_into_a_new_optimizer(problem, make, tmp_path):
    params = _params(problem)
    opt = make(params)
    _steps(problem, params, opt, 0, 5)
    sd = opt.state_dict()
    # plain data: int keys, ndarrays and numbers only
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1, 2]
    for entry in sd["state"].values():
        assert all(isinstance(v, np.ndarray | int | float) for v in entry.values())
    # np.savez: flatten to "state/0/exp_avg"-style keys, no pickle
    flat = {f"state/{i}/{k}": np.asarray(v) for i, e in sd["state"].items() for k, v in e.items()}
    np.savez(tmp_path / "opt.npz", **flat)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    rebuilt = {"state": {}, "param_groups": sd["param_groups"]}
    for key, v in loaded.items():
        _, i, name = key.split("/")
        rebuilt["state"].setdefault(int(i), {})[name] = v if v.ndim else v.item()

    copy_params = [cr.tensor(p.data.copy(), requires_grad=True) for p in params]
    fresh = make(copy_params)
    fresh.load_state_dict(rebuilt)
    a = _steps(problem, params, opt, 5, 5)
    b = _steps(problem, copy_params, fresh, 5, 5)
    np.testing.assert_array_equal(a[-1][0], b[-1][0])


def test_state_dict_round_trips_through_chainrule_io(problem, tmp_path):
    crio = pytest.importorskip("chainrule.io")
    params = _params(problem)
    opt = optim.NAdam(params, lr=0.05, betas=(0.8, 0.9))
    _steps(problem, params, opt, 0, 4)
    crio.save(opt.state_dict(), tmp_path / "opt.npz")
    fresh = optim.NAdam([cr.tensor(p.data.copy(), requires_grad=True) for p in params])
    fresh.load_state_dict(crio.load(tmp_path / "opt.npz"))
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9)
    assert fresh.param_groups[0]["lr"] == 0.05
    for i, p in enumerate(params):
        mine, theirs = opt.state[p], fresh.state[fresh.param_groups[0]["params"][i]]
        assert mine.keys() == theirs.keys()
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k])


def test_state_dict_is_a_copy(problem):
    params = _params(problem)
    opt = optim.Adam(params, lr=0.1)
    _steps(problem, params, opt, 0, 2)
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    _steps(problem, params, opt, 2, 2)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    assert sd["state"][0]["step"] == 2


def test_load_state_dict_rejects_mismatches(problem):
    params = _params(problem)
    opt = optim.Adam(params)
    _steps(problem, params, opt, 0, 4)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(params[:2]).load_state_dict(sd)
    other = optim.Adam([cr.tensor(np.zeros(5), requires_grad=True) for _ in range(3)])
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(sd)


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_updates_in_place_and_skips_params_without_grad(problem, make):
    params = _params(problem)
    arrays = [p.data for p in params]
    opt = make(params)
    _steps(problem, params, opt, 0, 2)  # c has no gradient in steps 0-2
    assert all(p.data is a for p, a in zip(params, arrays))
    np.testing.assert_array_equal(params[2].data, problem.init[2])
    assert params[2] not in opt.state
    _steps(problem, params, opt, 2, 3)
    assert params[2] in opt.state
    assert not np.array_equal(params[2].data, problem.init[2])


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_steps_after_the_first_allocate_nothing_param_sized(make):
    rng = np.random.default_rng(0)
    p = cr.tensor(rng.normal(size=100_000), requires_grad=True)  # 800 kB
    g = cr.tensor(rng.normal(size=100_000))
    opt = make([p])
    p.grad = g
    opt.step()
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000, f"a step allocated {peak} bytes"


def test_allocation_check_would_see_a_temporary():
    x = np.ones(100_000)
    tracemalloc.start()
    try:
        x = x + 1.0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak >= 800_000


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_zero_dimensional_parameters(make):
    p = cr.tensor(np.array(1.5), requires_grad=True)
    opt = make([p])
    for _ in range(3):
        p.grad = cr.tensor(np.array(2.0) * p.data)
        opt.step()
    assert p.data.shape == () and p.data < 1.5


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_gradients_are_not_modified(problem, make):
    params = _params(problem)
    opt = make(params)
    for p, g in zip(params, problem.grads(5, *[p.data for p in params])):
        p.grad = cr.tensor(g)
    before = [p.grad.data.copy() for p in params]
    opt.step()
    opt.step()
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad.data, g)


def test_zero_grad_and_closure():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)  # the closure records a graph anyway
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # nothing to do without gradients
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-6)


def test_group_options_and_add_param_group():
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b]})
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = cr.tensor([1.0]), cr.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.5, 0.9], rtol=1e-6)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="unknown option"):
        optim.SGD([{"params": [cr.tensor([1.0])], "betas": (0.9, 0.9)}])


@pytest.mark.parametrize("call, match", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr"),
    (lambda p: optim.Adam(p, lr=float("nan")), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda p: optim.RMSprop(p, momentum=1.5), "momentum"),
    (lambda p: optim.RMSprop(p, alpha=1.0), "alpha"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda p: optim.Adamax(p, betas=(0.9,)), "betas"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "momentum_decay"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optim.Adam([{"params": p, "lr": -1}]), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, clipnorm=-1), "clipnorm"),
    (lambda p: optim.SGD([], lr=0.1), "empty"),
    (lambda p: optim.Adam(iter([])), "empty"),
    (lambda p: optim.SGD(p + p, lr=0.1), "more than once"),
])
def test_bad_hyperparameters_raise_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call([cr.tensor([1.0, 2.0], requires_grad=True)])


def test_bad_param_types_raise_type_error():
    with pytest.raises(TypeError, match="list"):
        optim.SGD(cr.tensor([1.0], requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)


def test_repr_lists_groups():
    opt = optim.Adam([cr.tensor([1.0], requires_grad=True)], lr=0.01)
    assert "Adam" in repr(opt) and "lr=0.01" in repr(opt)
