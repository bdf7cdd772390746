"""chainrule.graph.trace: the recorded graph runs like the function, on new inputs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.primitive import Primitive
from chainrule.graph import Graph, TraceError, trace
from chainrule.graph.trace import _EAGER_CALL, _EAGER_READS

rng = np.random.default_rng(0)


def _mlp_loss(x, y, w1, b1, w2, b2):
    h = cr.relu(x @ w1 + b1)
    return cr.softmax_cross_entropy(h @ w2 + b2, y).mean()


def _mlp_args(n=8, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal((n, 5)), r.integers(0, 3, n), r.standard_normal((5, 7)),
            r.standard_normal(7), r.standard_normal((7, 3)), r.standard_normal(3))


def test_listing_has_one_line_per_node_and_the_graph_reruns():
    def f(x, w):
        return (x @ w).tanh().sum()

    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    g = trace(f, x, w)
    assert [n.name for n in g.nodes] == ["matmul", "tanh", "sum"]
    text = str(g)
    assert "x0:f64[4,3]" in text and "= matmul x0 x1" in text and "return v" in text
    assert len(text.splitlines()) == len(g.nodes) + 3
    x2, w2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    assert g(x2, w2).item() == f(cr.tensor(x2), cr.tensor(w2)).item()


def test_value_and_grad_traces_forward_and_backward_and_follows_new_inputs():
    vg = cr.value_and_grad(_mlp_loss, argnums=(2, 3, 4, 5))
    g = trace(vg, *_mlp_args(seed=0))
    names = [n.name for n in g.nodes]
    # matmul's rules are primitives only: recorded flat; ReLU's reads x's signs: whole
    assert "relu" in names and "vjp.relu[0]" in names and "vjp.matmul[0]" not in names
    assert names.count("matmul") == 2 + 3  # forward, then dW2, dh, dW1
    new = _mlp_args(seed=1)  # other inputs: the ReLU mask and the labels change
    (value, grads) = g(*new)
    ref_value, ref_grads = vg(*new)
    assert value.item() == ref_value.item()
    for a, b in zip(grads, ref_grads):
        np.testing.assert_array_equal(a.data, b.data)


def test_pytrees_in_and_out_and_static_arguments():
    def f(params, x, scale, mode):
        y = x @ params["w"] * scale
        return {"y": y, "mode": mode, "pair": (y.sum(), params["b"] + 1)}

    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    g = trace(f, params, x, 2.0, "fast")
    assert len(g.inputs) == 3  # b, w, x (dict keys sorted); 2.0 and "fast" are static
    out = g(params, x, 2.0, "fast")
    ref = f({k: cr.tensor(v) for k, v in params.items()}, cr.tensor(x), 2.0, "fast")
    assert out["mode"] == "fast"
    np.testing.assert_array_equal(out["y"].data, ref["y"].data)
    np.testing.assert_array_equal(out["pair"][1].data, ref["pair"][1].data)
    with pytest.raises(TraceError, match="static argument"):
        g(params, x, 3.0, "fast")
    with pytest.raises(TraceError, match="traced as f64\\[4,3\\]"):
        g(params, rng.standard_normal((5, 3)), 2.0, "fast")


@pytest.mark.parametrize("read", [bool, float, lambda t: t.item(), lambda t: t.numpy(),
                                  lambda t: np.asarray(t)])
def test_reading_a_traced_value_in_python_is_a_clear_error(read):
    def f(x):
        s = x.sum()
        if read(s):  # data-dependent Python
            return x * 2
        return x

    with pytest.raises(TraceError, match="Python control flow on tensor values"):
        trace(f, np.ones(3))
    assert Primitive.__call__ is _EAGER_CALL  # restored after the error
    assert cr.Tensor.item is _EAGER_READS["item"] and bool(cr.tensor(1.0))


def test_captured_params_are_read_by_reference():
    w = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    g = trace(lambda x: x @ w, np.ones((1, 3)))
    assert [v.kind for v in g.consts] == ["param"]
    w.data *= 2  # an optimizer's in-place update
    np.testing.assert_array_equal(g(np.ones((1, 3))).data, np.ones((1, 3)) @ w.data)


def test_backward_inside_a_trace_is_refused():
    w = cr.tensor(np.ones(3), requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        loss.backward()
        return loss

    with pytest.raises(TraceError, match="value_and_grad"):
        trace(step, np.ones(3))


def test_forward_mode_inside_a_trace_is_refused():
    with pytest.raises(TraceError, match="forward mode"):
        trace(lambda x: cr.jvp(lambda t: t.sin(), (x,), (x,))[1], np.ones(3))


def test_draw_graph_takes_a_graph():
    from chainrule.viz import draw_graph

    g = trace(cr.value_and_grad(lambda x: (x * x).sum()), np.arange(3.0))
    assert isinstance(g, Graph)
    drawing = draw_graph(g, values=(np.arange(3.0),))
    assert "×" in drawing.dot and "x0: f64[3]" in drawing.dot
    assert drawing.dot.count("->") >= len(g.nodes)


@pytest.mark.parametrize("inline", [True, False])
def test_rules_recorded_flat_or_whole_give_the_same_numbers(inline):
    def loss(x, w):
        h = (x @ w).tanh() * x.sum(axis=1, keepdims=True)
        return (cr.maximum(h, 0.1 * h) + h.abs() + (h * h).sigmoid()).mean()

    vg = cr.value_and_grad(loss, argnums=(0, 1))
    args = (rng.standard_normal((6, 4)), rng.standard_normal((4, 5)))
    g = trace(vg, *args, inline_rules=inline)
    rules = [n.name for n in g.nodes if n.is_rule]
    if inline:  # abs and maximum read their inputs' values: they stay whole
        assert set(rules) <= {"vjp.abs[0]", "vjp.maximum[0]", "vjp.maximum[1]"}, rules
    else:
        assert "vjp.tanh[0]" in rules and "vjp.matmul[1]" in rules
    for seed in range(3):
        r = np.random.default_rng(seed)
        new = (r.standard_normal((6, 4)), r.standard_normal((4, 5)))
        (value, grads), (ref_value, ref_grads) = g(*new), vg(*new)
        assert value.item() == ref_value.item()
        for a, b in zip(grads, ref_grads):
            np.testing.assert_array_equal(a.data, b.data)


def test_augmented_assignment_is_recorded_and_in_place_methods_are_refused():
    def f(x, b):
        h = x * 2.0
        h += b  # rebinds h to h + b in the graph
        h *= h
        return h

    x, b = rng.standard_normal(4), rng.standard_normal(4)
    g = trace(f, x, b)
    assert [n.name for n in g.nodes] == ["mul", "add", "mul"]
    x2, b2 = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_array_equal(g(x2, b2).data, f(cr.tensor(x2), cr.tensor(b2)).data)

    def g_(x):
        h = x * 2.0
        h.add_(1.0)
        return h

    with pytest.raises(TraceError, match="in-place change"):
        trace(g_, x)
    t = cr.tensor(np.ones(2))
    t.add_(1.0)  # eager in-place methods are back after the trace
    t += 1.0
    assert t.data.tolist() == [3.0, 3.0]


def test_second_derivatives_trace_through_flat_rules_and_refuse_whole_ones():
    def hess_diag(f):
        return cr.grad(lambda x: cr.grad(f)(x).sum())

    smooth = hess_diag(lambda x: (x.tanh() ** 3 * x.abs()).sum())
    g = trace(smooth, np.linspace(-1, 1, 5))
    x = rng.standard_normal(5)
    np.testing.assert_array_equal(g(x).data, smooth(x).data)
    with pytest.raises(TraceError, match="gradient of a gradient"):
        trace(hess_diag(lambda x: (cr.relu(x) ** 3).sum()), np.linspace(-1, 1, 5))


def test_an_index_array_read_from_a_traced_input_stays_an_input():
    from chainrule import nn

    emb = nn.Embedding(10, 3)

    def f(idx):
        return (emb(idx) * 2.0).sum(axis=1)  # Embedding indexes with idx's array

    g = trace(f, np.array([[1, 2], [3, 4]]))
    new = np.array([[7, 7], [0, 9]])
    np.testing.assert_array_equal(g(new).data, f(new).data)
    gather = [n for n in g.nodes if any(v.kind == "input" for v in n.inputs)]
    assert gather and "<input" in str(gather[0])

    def grad_of_weight(idx):  # the backward's scatter follows the new indices too
        return cr.autograd.engine.grad([f(idx).sum()], [emb.weight])[0]

    g = trace(grad_of_weight, np.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(g(new).data, grad_of_weight(new).data)
