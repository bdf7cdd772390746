"""chainrule.graph.patterns: cross-entropy sharing its softmax with its backward, and
ReLU's backward reading its output, keep a training step's results bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.pytree import tree_flatten
from chainrule.graph import passes, patterns, trace

F = nn.functional


def _loss(x, t, w1, b1, w2):
    h = cr.relu(x @ w1 + b1)
    return cr.softmax_cross_entropy(h @ w2, t).mean()


def _args(seed, dtype, lead=(6,)):
    r = np.random.default_rng(seed)
    x = r.standard_normal(lead + (5,)).astype(dtype)
    x.reshape(-1)[:3] = 0.0
    t = r.integers(0, 4, lead)
    w1, b1 = r.standard_normal((5, 7)).astype(dtype), r.standard_normal(7).astype(dtype)
    return [x, t, w1, b1, (3 * r.standard_normal((7, 4))).astype(dtype)]


def _outputs(graph, args):
    return [t.data for t in tree_flatten(graph(*args))[0]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lead", [(6,), (2, 3)], ids=["rows", "3-d logits"])
@pytest.mark.parametrize("full", [False, True], ids=["patterns", "optimize"])
def test_patterns_keep_a_training_step_bit_for_bit(dtype, lead, full):
    fn = cr.value_and_grad(_loss, argnums=(2, 3, 4))
    plain = trace(fn, *_args(0, dtype, lead))
    changed = trace(fn, *_args(0, dtype, lead))
    if full:
        counts = passes.optimize(changed)
        assert counts["softmax shared by cross-entropy and its backward"] == 1
        assert counts["ReLU backward masks from its output"] == 1
    else:
        passes.lower_rules(changed)
        assert patterns.share_softmax(changed) == 1
        assert patterns.relu_mask_from_output(changed) == 1
    for seed in (1, 2, 3):
        new = _args(seed, dtype, lead)
        if seed == 3:  # a row of infinite logits: the forward and backward apart, as before
            new[0][0] = np.inf
        kept = [a.copy() for a in new]
        with np.errstate(invalid="ignore"):
            got, want = _outputs(changed, new), _outputs(plain, new)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(new, kept):
            np.testing.assert_array_equal(a, b)


def _linear_loss(x, t, w1, b1, w2):  # nn.Linear's node: x @ w.T + b in one
    h = cr.relu(F.linear(x, w1.T, b1))
    return cr.softmax_cross_entropy(h @ w2, t).mean()


def test_relu_runs_in_place_in_a_compiled_mlp_step():
    f = cr.compile(cr.value_and_grad(_linear_loss, argnums=(2, 3, 4)))
    args = _args(0, np.float64)
    args[2] = np.ascontiguousarray(args[2])
    f(*args)
    graph = next(iter(f.graphs.values()))
    relu = next(n for n in graph.nodes if n.name == "relu")
    pre = relu.inputs[0]
    assert graph.plan[id(relu)]["out"] is pre  # np.maximum(h, 0, out=h)
    assert sum(pre in n.inputs for n in graph.nodes) == 1  # nothing else reads x
    ref = cr.value_and_grad(_linear_loss, argnums=(2, 3, 4))(*args)
    for a, b in zip(tree_flatten(f(*args))[0], tree_flatten(ref)[0]):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_cross_entropy_without_its_backward_is_left_alone():
    g = trace(lambda z, t: cr.softmax_cross_entropy(z, t).mean(), np.ones((3, 4)),
              np.array([0, 1, 2]))
    passes.lower_rules(g)
    assert patterns.share_softmax(g) == 0
