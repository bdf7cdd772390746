"""Embedding(sparse=True): the weight's gradient is a SparseGrad of the rows used (issue 20).

Checked against the dense lookup (same values, same gradient once densified) and against
PyTorch's nn.Embedding(sparse=True) (same rows, same values; padding rows left out).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.sparse_grad import SparseGrad
from chainrule.optim import SGD, clip_grad_norm_, clip_grad_value_

IDX = np.array([[1, 4, 1, 7], [7, 0, 4, 4]])


def _pair(padding_idx=None, num=10, dim=3, seed=0):
    """A sparse and a dense Embedding with the same float64 weights."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((num, dim))
    if padding_idx is not None:
        w[padding_idx] = 0
    sparse = nn.Embedding(num, dim, padding_idx=padding_idx, sparse=True)
    dense = nn.Embedding(num, dim, padding_idx=padding_idx)
    sparse.weight.data = w.copy()
    dense.weight.data = w.copy()
    return sparse, dense


def _loss(emb, idx, ct):
    out = emb(idx)
    return (out * out * cr.tensor(ct)).sum(), out


@pytest.mark.parametrize("padding_idx", [None, 4])
def test_values_and_gradient_match_the_dense_lookup(padding_idx):
    sparse, dense = _pair(padding_idx)
    ct = np.random.default_rng(1).standard_normal(IDX.shape + (3,))
    ls, ys = _loss(sparse, IDX, ct)
    ld, yd = _loss(dense, IDX, ct)
    np.testing.assert_array_equal(ys.data, yd.data)
    ls.backward()
    ld.backward()
    g = sparse.weight.grad
    assert isinstance(g, SparseGrad) and g.shape == (10, 3)
    expected_rows = sorted(set(IDX.ravel()) - {padding_idx})
    assert g.indices.tolist() == expected_rows  # coalesced: sorted, unique, no padding row
    assert g.values.shape == (len(expected_rows), 3)
    np.testing.assert_allclose(g.to_dense(), dense.weight.grad.data, rtol=1e-14, atol=1e-14)


def test_gradients_accumulate_over_backward_calls_and_retained_graphs():
    sparse, dense = _pair()
    ct = np.ones(3)
    for idx in (IDX, np.array([2, 2, 9])):
        _loss(sparse, idx, ct)[0].backward()
        _loss(dense, idx, ct)[0].backward()
    ls, _ = _loss(sparse, IDX, ct)
    ld, _ = _loss(dense, IDX, ct)
    ls.backward(retain_graph=True)
    ls.backward()  # the second pass through a retained graph adds only its own part
    ld.backward(retain_graph=True)
    ld.backward()
    assert sparse.weight.grad.indices.tolist() == [0, 1, 2, 4, 7, 9]
    np.testing.assert_allclose(sparse.weight.grad.to_dense(), dense.weight.grad.data,
                               rtol=1e-14, atol=1e-14)


def test_a_table_also_used_densely_gets_a_dense_gradient():
    """Tied weights (the table is also a dense matrix elsewhere): sparse + dense = dense,
    in either order of accumulation."""
    sparse, dense = _pair()
    x = np.random.default_rng(2).standard_normal((2, 3))
    for emb in (sparse, dense):
        out = emb(IDX)
        logits = cr.tensor(x) @ emb.weight.T  # dense use of the same table
        ((out * out).sum() + (logits * logits).sum()).backward()
    assert not isinstance(sparse.weight.grad, SparseGrad)
    np.testing.assert_allclose(sparse.weight.grad.data, dense.weight.grad.data,
                               rtol=1e-13, atol=1e-13)


def test_no_grad_and_frozen_tables_use_the_plain_lookup():
    sparse, _ = _pair()
    with cr.no_grad():
        y = sparse(IDX)
    assert not y.requires_grad
    sparse.weight.requires_grad = False
    assert not sparse(IDX).requires_grad
    assert "sparse=True" in repr(sparse)


def test_sparse_grad_has_no_dense_data_and_zero_grad_keeps_it_sparse():
    sparse, _ = _pair()
    sparse(IDX).sum().backward()
    with pytest.raises(TypeError, match="sparse"):
        sparse.weight.grad.data  # noqa: B018
    opt = SGD(sparse.parameters(), lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert isinstance(sparse.weight.grad, SparseGrad) and sparse.weight.grad.indices.size == 0
    opt.zero_grad()
    assert sparse.weight.grad is None


def test_clipping_a_sparse_gradient_equals_clipping_the_dense_one():
    sparse, dense = _pair()
    ct = np.random.default_rng(3).standard_normal(IDX.shape + (3,))
    _loss(sparse, IDX, ct)[0].backward()
    _loss(dense, IDX, ct)[0].backward()
    n_s = clip_grad_norm_(sparse.parameters(), 0.5)
    n_d = clip_grad_norm_(dense.parameters(), 0.5)
    assert n_s == pytest.approx(n_d, rel=1e-14)
    clip_grad_value_(sparse.parameters(), 0.05)
    clip_grad_value_(dense.parameters(), 0.05)
    np.testing.assert_allclose(sparse.weight.grad.to_dense(), dense.weight.grad.data,
                               rtol=1e-14, atol=1e-14)


def test_sparse_grad_checks_its_arguments():
    with pytest.raises(ValueError, match="values of shape"):
        SparseGrad([0, 1], np.zeros((3, 2)), (4, 2))
    with pytest.raises(IndexError, match="row indices"):
        SparseGrad([0, 4], np.zeros((2, 2)), (4, 2))
    g = SparseGrad([3, 1, 3], np.arange(6.0).reshape(3, 2), (4, 2))
    assert g.indices.tolist() == [1, 3]
    np.testing.assert_array_equal(g.values, [[2.0, 3.0], [4.0, 6.0]])


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_matches_pytorch_sparse_embedding(padding_idx):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle")
    sparse, _ = _pair(padding_idx)
    ct = np.random.default_rng(4).standard_normal(IDX.shape + (3,))
    _loss(sparse, IDX, ct)[0].backward()
    t = torch.nn.Embedding(10, 3, padding_idx=padding_idx, sparse=True).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(sparse.weight.data))
    out = t(torch.from_numpy(IDX))
    (out * out * torch.from_numpy(ct)).sum().backward()
    tg = t.weight.grad.coalesce()
    assert t.weight.grad.is_sparse
    np.testing.assert_array_equal(sparse.weight.grad.indices, tg.indices().numpy()[0])
    np.testing.assert_allclose(sparse.weight.grad.values, tg.values().numpy(),
                               rtol=1e-12, atol=1e-12)


class _BagOfWords(nn.Module):
    """Mean of token embeddings -> one logit per class."""

    def __init__(self, sparse: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8, sparse=sparse)
        self.out = nn.Dense(8, 3)

    def forward(self, idx):
        return self.out(self.embed(idx).mean(axis=1))


def test_trainer_fit_with_a_sparse_table_equals_the_dense_run():
    """SGD without momentum: the sparse update is the dense one, so two fits agree."""
    from chainrule.random import manual_seed
    from chainrule.train import Trainer

    rng = np.random.default_rng(5)
    x = rng.integers(0, 50, size=(64, 6))
    y = x[:, 0] % 3
    histories, weights = [], []
    for sparse in (True, False):
        manual_seed(0)
        model = _BagOfWords(sparse)
        trainer = Trainer(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5))
        histories.append(trainer.fit((x, y), epochs=3, batch_size=16, seed=1, verbose=False))
        weights.append(model.embed.weight.data.copy())
    assert histories[0].history["loss"] == pytest.approx(histories[1].history["loss"],
                                                         rel=1e-6)
    assert histories[0].history["loss"][-1] < histories[0].history["loss"][0]
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-5, atol=1e-6)
