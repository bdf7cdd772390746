"""chainrule.graph.specialize: shape-specialised reductions, linear and transposes compute
what the primitives compute, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.pytree import tree_flatten
from chainrule.graph import specialize, trace


def _reductions(x, b, w, v):
    y = x * b  # b broadcast: its gradient is a sum_to over rows
    return (y.mean() + y.sum(axis=0).mean() + y.mean(axis=1, keepdims=True).sum()
            + (nn.functional.linear(y, w, v) ** 2).mean() + (y.T @ x).sum())


CASES = {
    "grad": cr.value_and_grad(_reductions, argnums=(0, 1, 2, 3)),
    "forward": _reductions,
}


def _args(seed, dtype):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s).astype(dtype) for s in [(6, 5), (5,), (3, 5), (3,)]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_specialised_nodes_are_bit_for_bit(case, dtype):
    plain = trace(CASES[case], *_args(0, dtype))
    changed = trace(CASES[case], *_args(0, dtype))
    assert specialize.specialize(changed) >= 4
    for seed in (1, 2):
        new = _args(seed, dtype)
        for a, b in zip(tree_flatten(changed(*new))[0], tree_flatten(plain(*new))[0]):
            assert a.data.dtype == b.data.dtype and a.data.shape == b.data.shape
            np.testing.assert_array_equal(a.data, b.data)


def test_a_transpose_read_by_one_matmul_is_folded():
    g = trace(lambda a, b: a.T @ b, np.ones((4, 3)), np.ones((4, 2)))
    specialize.specialize(g)
    assert [n.name for n in g.nodes] == ["matmul"]
    a, b = np.random.default_rng(0).standard_normal((4, 3)), np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(g(a, b).data, a.T @ b)

    def two_readers(a, b):
        t = a.T
        return t @ b, t * 2.0

    g = trace(two_readers, np.ones((3, 3)), np.ones((3, 3)))
    specialize.specialize(g)  # the transpose has another reader: it stays
    assert [n.name for n in g.nodes] == ["transpose", "matmul", "mul"]


def test_integer_sums_keep_numpy_s_wider_accumulator():
    g = trace(lambda x: x.sum(), np.ones(4, np.int8))
    assert specialize.specialize(g) == 0
    assert g(np.full(4, 100, np.int8)).data == 400
