"""chainrule.graph.fuse: fused elementwise kernels compute what the unfused nodes compute,
bit for bit (float64 and float32), on traced value_and_grad graphs too, and never write an
input; with fast_math (SciPy's expit for sigmoid) values agree to 1e-12 in float64."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.pytree import tree_flatten
from chainrule.graph import fuse, passes, trace


def _outputs(graph, args):
    return [t.data for t in tree_flatten(graph(*args))[0]]


def _sigmoid_chain(x):
    for _ in range(5):
        x = x.sigmoid()
    return x.sum()


def _tanh_chain(x, w):
    for _ in range(4):
        x = (x * w + 0.5).tanh()
    return (x ** 2).mean()


def _tree(a, b, c, d):
    return ((a * b) + (c * d).exp()) * 1.5 - (a - d).tanh()


def _mlp(x, w1, b1, w2):
    h = cr.relu(x @ w1 + b1)
    return cr.sigmoid(h @ w2).sum() + (h * h).mean()


def _bias_relu(x, b):
    return cr.relu(x + b) * 2.0


CASES = {
    "sigmoid chain (small)": (cr.value_and_grad(_sigmoid_chain), [(7,)]),
    "sigmoid chain (large)": (cr.value_and_grad(_sigmoid_chain), [(20, 30)]),
    "tanh chain": (cr.value_and_grad(_tanh_chain, argnums=(0, 1)), [(6, 5), (5,)]),
    "tree": (cr.value_and_grad(lambda *a: _tree(*a).sum(), argnums=(0, 1, 2, 3)),
             [(4, 3)] * 4),
    "tree forward": (_tree, [(4, 3)] * 4),
    "mlp": (cr.value_and_grad(_mlp, argnums=(1, 2, 3)), [(8, 5), (5, 6), (6,), (6, 2)]),
    "bias relu (large)": (cr.value_and_grad(lambda x, b: _bias_relu(x, b).sum(),
                                            argnums=(0, 1)), [(40, 30), (30,)]),
}


def _args(shapes, seed, dtype):
    r = np.random.default_rng(seed)
    out = [(3 * r.standard_normal(s)).astype(dtype) for s in shapes]
    out[0].reshape(-1)[:2] = 0.0  # ReLU's kink
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("then_plan", [False, True], ids=["fused", "fused+planned"])
def test_fused_graph_equals_unfused_bit_for_bit(case, dtype, then_plan):
    fn, shapes = CASES[case]
    plain = trace(fn, *_args(shapes, 0, dtype))
    fused = trace(fn, *_args(shapes, 0, dtype))
    passes.lower_rules(fused)
    assert fuse.fuse_elementwise(fused) > 0
    if then_plan:
        passes.plan_memory(fused)
    for seed in (1, 2):
        new = _args(shapes, seed, dtype)
        kept = [a.copy() for a in new]
        for _ in range(2):  # a second run: buffers of the first are not reused wrongly
            got, want = _outputs(fused, new), _outputs(plain, new)
            for a, b in zip(got, want):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b)
                assert np.array_equal(np.signbit(a), np.signbit(b))
        for a, b in zip(new, kept):  # inputs are never written
            np.testing.assert_array_equal(a, b)


def test_sigmoid_recipe_is_bit_for_bit_across_its_range():
    for n in (5, 300):  # both branches of the NumPy sigmoid
        x = np.concatenate([np.linspace(-800, 800, n), [0.0, -0.0, np.inf, -np.inf, np.nan]])
        with np.errstate(invalid="ignore"):  # logaddexp(0, nan), in both
            g = trace(lambda t: (t.sigmoid() * 2.0).sigmoid(), x)
            assert fuse.fuse_elementwise(g) == 3
            got, want = g(x).data, (cr.tensor(x).sigmoid() * 2.0).sigmoid().data
        np.testing.assert_array_equal(got, want)


def test_fast_math_sigmoid_is_within_1e12_of_the_numpy_sigmoid():
    pytest.importorskip("scipy", reason="the fast-math sigmoid is scipy.special.expit")
    x = np.linspace(-700, 700, 20001)
    g = trace(lambda t: t.sigmoid(), x)
    fuse.fuse_elementwise(g, fast_math=True)
    assert "expit" in g.nodes[0].fn.source
    np.testing.assert_allclose(g(x).data, cr.tensor(x).sigmoid().data, rtol=1e-12, atol=0)
    # its gradient: y (1 - y) amplifies a last-bit difference of y near 1 (absolute 1e-15)
    f = cr.compile(cr.value_and_grad(_sigmoid_chain), fast_math=True)
    x = np.linspace(-8, 8, 101)
    for a, b in zip(f(x), cr.value_and_grad(_sigmoid_chain)(x)):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)


def test_groups_are_chains_and_trees_of_single_reader_values():
    g = trace(_tree, *_args([(4, 3)] * 4, 0, np.float64))
    n = len(g.nodes)
    assert fuse.fuse_elementwise(g) == n  # the whole expression is one tree
    assert len(g.nodes) == 1 and g.nodes[0].name.startswith("fused[")
    assert "out=" in g.nodes[0].fn.source

    def shared(x):  # y is read twice: the group stops there
        y = (x * 2.0).exp()
        return (y + 1.0).tanh(), y * 3.0

    g = trace(shared, np.ones(5))
    fuse.fuse_elementwise(g)
    assert [nd.name for nd in g.nodes] == ["fused[2: mul, exp]", "fused[2: add, tanh]",
                                           "mul"]


def test_the_sigmoid_backward_is_one_kernel_in_a_compiled_step():
    f = cr.compile(cr.value_and_grad(_sigmoid_chain))
    x = np.linspace(-3, 3, 11)
    value, grad = f(x)
    graph = next(iter(f.graphs.values()))
    fused = [nd for nd in graph.nodes if nd.name.startswith("fused[")]
    assert len(fused) == 1 and fused[0].name == "fused[10: sigmoid_slope, mul]"
    ref_value, ref_grad = cr.value_and_grad(_sigmoid_chain)(x)
    np.testing.assert_array_equal(grad.data, ref_grad.data)
    np.testing.assert_array_equal(value.data, ref_value.data)


def test_nodes_without_a_recipe_or_of_other_shapes_stay_apart():
    def f(x, b):
        y = (x + b).exp()  # add broadcasts b into x's shape: fused with exp
        z = y.sum(axis=0)  # a reduction: not elementwise
        return (z * 2.0).tanh(), cr.softplus(y)  # softplus has no recipe

    g = trace(f, np.ones((3, 4)), np.ones(4))
    fuse.fuse_elementwise(g)
    names = [nd.name for nd in g.nodes]
    assert names[0] == "fused[2: add, exp]" and "softplus" in names and "sum" in names
    x, b = np.random.default_rng(0).standard_normal((3, 4)), np.arange(4.0)
    for a, r in zip(g(x, b), f(cr.tensor(x), cr.tensor(b))):
        np.testing.assert_array_equal(a.data, r.data)


@pytest.mark.parametrize("n", [7, 400])  # both branches of the sigmoid recipe
def test_the_planned_out_array_may_be_an_input_the_group_reads_earlier(n):
    def f(x):
        v = x.exp()  # read twice below, dead after: the plan hands its array to the root
        return ((v * 2.0) + v).sigmoid() * v

    x = np.random.default_rng(0).standard_normal(n)
    g = trace(f, x)
    passes.optimize(g)
    fused = [nd for nd in g.nodes if nd.name.startswith("fused[")]
    assert len(fused) == 1 and g.plan.get(id(fused[0]), {}).get("out") is fused[0].inputs[0]
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal(n)
        np.testing.assert_array_equal(g(x).data, f(cr.tensor(x)).data)


def test_a_ufunc_of_another_library_runs_itself_in_a_kernel():
    from chainrule.graph.ir import Node

    scipy_special = pytest.importorskip("scipy.special", reason="a non-NumPy ufunc")
    g = trace(lambda x: (x * 2.0).exp(), np.linspace(-1, 1, 5))
    exp_node = g.nodes[1]  # the same graph with SciPy's exp2 (a ufunc named "exp2")
    g.nodes[1] = Node(exp_node.op, exp_node.name, scipy_special.exp2, exp_node.inputs,
                      exp_node.outputs, {})
    x = np.linspace(-1, 1, 5)
    before = g(x).data
    fuse.fuse_elementwise(g)
    assert len(g.nodes) == 1
    np.testing.assert_array_equal(g(x).data, before)
    np.testing.assert_array_equal(before, scipy_special.exp2(x * 2.0))
