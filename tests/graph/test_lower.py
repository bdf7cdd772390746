"""Every rule lowered to NumPy (graph/lower.py) computes what its rule computes, bit for
bit, and the MLP's compiled step uses them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.primitive import PRIMITIVES
from chainrule.autograd.tensor import _make
from chainrule.graph import patterns
from chainrule.graph.lower import LOWERED

rng = np.random.default_rng(3)


def _case(name, dtype):
    if name == "vjp.relu[0]":
        x = rng.standard_normal((7, 5)).astype(dtype)
        x[0, :2] = 0.0  # the kink: ReLU's derivative is 0 there, as PyTorch's
        y = PRIMITIVES["relu"].forward(x)
        return PRIMITIVES["relu"].vjps[0], [rng.standard_normal((7, 5)).astype(dtype), y, x]
    if name == "vjp.softmax_cross_entropy[0]":
        z = (3 * rng.standard_normal((4, 6, 9))).astype(dtype)
        t = rng.integers(0, 9, (4, 6))
        y = PRIMITIVES["softmax_cross_entropy"].forward(z, t)
        return (PRIMITIVES["softmax_cross_entropy"].vjps[0],
                [rng.standard_normal((4, 6)).astype(dtype), y, z, t])
    raise AssertionError(f"add a case for {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LOWERED))
def test_lowered_rule_equals_its_rule_bit_for_bit(name, dtype):
    rule, arrays = _case(name, dtype)
    with cr.no_grad():
        expected = rule(*[_make(a) for a in arrays]).data
    got = LOWERED[name][1](*arrays)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))  # -0.0 stays -0.0


def test_the_compiled_mlp_step_runs_its_rules_in_numpy():
    w = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)

    @cr.compile
    def step(x, y):
        loss = cr.softmax_cross_entropy(cr.relu(x @ w), y).mean()
        return loss, cr.autograd.engine.grad([loss], [w])

    x, y = rng.standard_normal((5, 3)), rng.integers(0, 4, 5)
    loss, (g,) = step(x, y)
    graph = next(iter(step.graphs.values()))
    rules = [n for n in graph.nodes if n.name.startswith("vjp.")]
    assert {n.name for n in rules} == set(LOWERED)
    # each runs its NumPy version, a fused kernel of it (graph/fuse.py) or the version
    # that shares the forward's softmax (graph/patterns.py)
    assert all(n.fn in (LOWERED[n.name][1], patterns._sce_vjp_from_softmax)
               or getattr(n.fn, "members", ()) == (n.name,) for n in rules)
    ref = cr.grad(lambda w_: cr.softmax_cross_entropy(cr.relu(x @ w_), y).mean())(w.data)
    np.testing.assert_array_equal(g.data, ref.data)
