"""chainrule.graph.passes: every pass keeps the results bit for bit (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import passes, trace

rng = np.random.default_rng(1)


def _mlp_loss(x, w1, w2):
    h = cr.relu(x @ w1)
    return ((h @ w2).tanh() ** 2).mean() + (w1 * w1).sum() * 1e-3


def _args(seed):
    r = np.random.default_rng(seed)
    return r.standard_normal((5, 4)), r.standard_normal((4, 6)), r.standard_normal((6, 3))


def _wasteful(x, w1, w2):
    unused = (x @ w1).exp().sum()  # noqa: F841 - dead code on purpose
    k = cr.tensor(np.arange(6.0)) * 2.0 + 1.0  # constants only: folded
    a = (x @ w1).sin() + (x @ w1).sin()  # a common subexpression
    return ((a * k).tanh().exp() + 1.0).sum(axis=0) @ (w2 * 1.5)


FUNCTIONS = [cr.value_and_grad(_mlp_loss, argnums=(0, 1, 2)), _wasteful,
             cr.value_and_grad(lambda x, w1, w2: _wasteful(x, w1, w2).sum(), argnums=(1, 2))]


def _outputs(graph, args):
    from chainrule.autograd.pytree import tree_flatten

    return [t.data for t in tree_flatten(graph(*args))[0]]


@pytest.mark.parametrize("fn", range(len(FUNCTIONS)))
@pytest.mark.parametrize("name", ["eliminate_dead_code", "fold_constants",
                                  "eliminate_common_subexpressions", "plan_memory", "optimize"])
def test_each_pass_keeps_results_bit_for_bit(fn, name):
    plain = trace(FUNCTIONS[fn], *_args(0))
    changed = trace(FUNCTIONS[fn], *_args(0))
    getattr(passes, name)(changed)
    for seed in (1, 2):
        new = _args(seed)
        inputs = [a.copy() for a in new]
        for a, b in zip(_outputs(plain, new), _outputs(changed, new)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(new, inputs):  # inputs are never written
            np.testing.assert_array_equal(a, b)


def test_each_pass_does_its_work():
    g = trace(_wasteful, *_args(0))
    n = len(g.nodes)
    assert passes.eliminate_dead_code(g) == 3  # the matmul, exp and sum of `unused`
    assert passes.fold_constants(g) >= 2  # arange * 2 + 1
    assert passes.eliminate_common_subexpressions(g) >= 2  # the second x @ w1 and sin
    assert passes.plan_memory(g) >= 2  # tanh, exp, add write in place
    assert len(g.nodes) < n - 5
    names = [nd.name for nd in g.nodes]
    assert names.count("sin") == 1 and names.count("matmul") == 2


def test_memory_plan_never_writes_an_array_a_live_view_shares():
    def f(x):
        y = x.exp()
        z = y.reshape(2, 6)  # a view of y's array, alive until the end
        u = (y * 3.0).tanh()  # y dies here: its array must not be reused, z views it
        return z, (u + 1.0).reshape(2, 6) * z

    x = rng.standard_normal(12)
    g = trace(f, x)
    passes.plan_memory(g)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal(12)
        out, ref = g(x), f(cr.tensor(x))
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a.data, b.data)


def test_memory_plan_lowers_the_peak_of_a_long_chain():
    import tracemalloc

    def chain(x):
        for _ in range(10):
            x = (x * 1.01 + 0.5).tanh()
        return x

    x = rng.standard_normal(200_000)
    peaks = []
    for plan in (False, True):
        g = trace(chain, x)
        if plan:
            assert passes.plan_memory(g) == 29  # all but the first, which reads x
        g(x)
        tracemalloc.start()
        out = g(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        np.testing.assert_array_equal(out.data, chain(cr.tensor(x)).data)
    assert peaks[1] < peaks[0]
