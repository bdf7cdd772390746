"""Optimizers on sparse gradients (Embedding(sparse=True), issue 20), against PyTorch.

The same table (float64), the same batches of indices (repeats included) and the same
loss in chainrule and in torch (nn.Embedding(sparse=True) + the torch optimizer); the
tables must agree to 1e-10 after every step.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.sparse_grad import SparseGrad
from chainrule.optim import SGD, Adagrad, Adam, AdamW, RMSprop, SparseAdam

NUM, DIM, STEPS = 12, 4, 8
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")  # torch


def _batches(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, NUM // 2 if t < 3 else NUM, size=(3, 5)) for t in range(STEPS)]


def _init(seed=0):
    return np.random.default_rng(seed + 100).standard_normal((NUM, DIM))


def _ct(t):
    return np.random.default_rng(1000 + t).standard_normal((3, 5, DIM))


def _ours(make_opt, sparse=True, padding_idx=None):
    emb = nn.Embedding(NUM, DIM, padding_idx=padding_idx, sparse=sparse)
    emb.weight.data = _init()
    opt = make_opt([emb.weight])
    traj = []
    for t, idx in enumerate(_batches()):
        opt.zero_grad()
        out = emb(idx)
        (out * out * cr.tensor(_ct(t)) + out).sum().backward()
        opt.step()
        traj.append(emb.weight.data.copy())
    return traj


def _torch(make_opt, padding_idx=None):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle")
    emb = torch.nn.Embedding(NUM, DIM, padding_idx=padding_idx, sparse=True).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(_init()))
    opt = make_opt(torch.optim, [emb.weight])
    traj = []
    for t, idx in enumerate(_batches()):
        opt.zero_grad()
        out = emb(torch.from_numpy(idx))
        (out * out * torch.from_numpy(_ct(t)) + out).sum().backward()
        opt.step()
        traj.append(emb.weight.detach().numpy().copy())
    return traj


CASES = {
    "sgd": (lambda ps: SGD(ps, lr=0.1), lambda o, ps: o.SGD(ps, lr=0.1)),
    "momentum": (lambda ps: SGD(ps, lr=0.05, momentum=0.9),
                 lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9)),
    "dampening": (lambda ps: SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
                  lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3)),
    "nesterov": (lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                 lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    "adagrad": (lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
                lambda o, ps: o.Adagrad(ps, lr=0.1, lr_decay=0.01,
                                        initial_accumulator_value=0.1)),
    "sparse_adam": (lambda ps: SparseAdam(ps, lr=0.05),
                    lambda o, ps: o.SparseAdam(ps, lr=0.05)),
    "sparse_adam_betas": (lambda ps: SparseAdam(ps, lr=0.02, betas=(0.5, 0.9), eps=1e-3),
                          lambda o, ps: o.SparseAdam(ps, lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    "sparse_adam_maximize": (lambda ps: SparseAdam(ps, lr=0.01, maximize=True),
                             lambda o, ps: o.SparseAdam(ps, lr=0.01, maximize=True)),
}


@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_pytorch(case, padding_idx):
    ours, theirs = CASES[case]
    expected = _torch(theirs, padding_idx)
    got = _ours(ours, padding_idx=padding_idx)
    for t, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"step {t}")


@pytest.mark.parametrize("case", ["sgd", "momentum", "dampening", "nesterov", "adagrad"])
def test_sparse_sgd_equals_dense_sgd(case):
    """PyTorch's sparse SGD (momentum included) and Adagrad are the dense algorithms on a
    table whose untouched rows have zero gradient: so are ours."""
    make = CASES[case][0]
    for a, b in zip(_ours(make, sparse=True), _ours(make, sparse=False)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_sparse_adam_leaves_untouched_rows_and_their_moments_alone():
    emb = nn.Embedding(NUM, DIM, sparse=True)
    opt = SparseAdam(emb.parameters(), lr=0.1)
    emb(np.array([1, 2])).sum().backward()
    opt.step()
    opt.zero_grad()
    before = emb.weight.data.copy()
    m_before = opt.state[emb.weight]["exp_avg"].copy()
    emb(np.array([5, 5])).sum().backward()
    opt.step()
    changed = np.flatnonzero(np.any(emb.weight.data != before, axis=1))
    assert changed.tolist() == [5]
    m = opt.state[emb.weight]["exp_avg"]
    np.testing.assert_array_equal(m[[1, 2]], m_before[[1, 2]])  # lazy: no decay
    assert opt.state[emb.weight]["step"] == 2


@pytest.mark.parametrize("cls", [Adam, AdamW, RMSprop])
def test_dense_optimizers_refuse_sparse_gradients(cls):
    emb = nn.Embedding(NUM, DIM, sparse=True)
    opt = cls(emb.parameters())
    emb(np.array([1, 2])).sum().backward()
    before = emb.weight.data.copy()
    with pytest.raises(RuntimeError, match=f"{cls.__name__} does not support sparse "
                                           "gradients.*SparseAdam"):
        opt.step()
    np.testing.assert_array_equal(emb.weight.data, before)


def test_sparse_adam_refuses_dense_gradients():
    emb = nn.Embedding(NUM, DIM)  # dense
    opt = SparseAdam(emb.parameters())
    emb(np.array([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        opt.step()


@pytest.mark.parametrize("cls", [SGD, Adagrad])
def test_weight_decay_with_a_sparse_gradient_raises(cls):
    emb = nn.Embedding(NUM, DIM, sparse=True)
    opt = cls(emb.parameters(), lr=0.1, weight_decay=0.01)
    emb(np.array([1])).sum().backward()
    with pytest.raises(RuntimeError, match="weight_decay"):
        opt.step()


def test_momentum_survives_dense_steps_and_a_state_dict_round_trip():
    """Sparse, dense, sparse steps on one table with momentum equal the dense algorithm;
    a restored optimizer continues the same trajectory (rows held are found again)."""
    def run(restore_at=None):
        sparse = nn.Embedding(NUM, DIM, sparse=True)
        sparse.weight.data = _init()
        opt = SGD([sparse.weight], lr=0.05, momentum=0.9)
        for t, idx in enumerate(_batches()):
            if t == restore_at:
                saved = opt.state_dict()
                opt = SGD([sparse.weight], lr=0.05, momentum=0.9)
                opt.load_state_dict(saved)
            opt.zero_grad()
            out = sparse(idx)
            loss = (out * out * cr.tensor(_ct(t))).sum()
            if t == 4:  # a dense step: the table's gradient is dense once
                loss = loss + (sparse.weight * sparse.weight).sum() * 1e-3
            loss.backward()
            opt.step()
        return sparse.weight.data.copy()

    dense = nn.Embedding(NUM, DIM)
    dense.weight.data = _init()
    opt = SGD([dense.weight], lr=0.05, momentum=0.9)
    for t, idx in enumerate(_batches()):
        opt.zero_grad()
        out = dense(idx)
        loss = (out * out * cr.tensor(_ct(t))).sum()
        if t == 4:
            loss = loss + (dense.weight * dense.weight).sum() * 1e-3
        loss.backward()
        opt.step()
    np.testing.assert_allclose(run(), dense.weight.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(restore_at=6), dense.weight.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(restore_at=2), dense.weight.data, rtol=1e-12, atol=1e-12)


def test_a_sparse_grad_of_the_wrong_shape_is_refused():
    w = cr.tensor(np.zeros((4, 2)), requires_grad=True)
    w.grad = SparseGrad([1], np.ones((1, 3)), (4, 3))
    with pytest.raises(ValueError, match="gradient shape"):
        SGD([w], lr=0.1).step()
