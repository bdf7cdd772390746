"""chainrule.compile and compile_step: one graph per signature, results as in eager mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.graph import RetraceWarning, TraceError, compile_step

rng = np.random.default_rng(2)


def test_one_trace_per_signature_and_results_as_eager():
    calls = []

    @cr.compile
    def f(x, scale):
        calls.append(1)  # Python side effects run at trace time only
        return (x * scale).tanh().sum(axis=0)

    x = rng.standard_normal((4, 3))
    for _ in range(3):
        out = f(x, 2.0)
    assert len(calls) == 1 and len(f.graphs) == 1
    np.testing.assert_array_equal(out.data, (cr.tensor(x) * 2.0).tanh().sum(axis=0).data)
    f(rng.standard_normal((5, 3)), 2.0)  # new shape
    f(x, 3.0)  # new static value
    f(x.astype(np.float32), 2.0)  # new dtype
    assert len(calls) == 4 and len(f.graphs) == 4


def test_retracing_again_and_again_warns_and_names_the_change():
    f = cr.compile(lambda x, k: x * k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(4):
            f(np.ones(2), k)
    with pytest.warns(RetraceWarning, match="static value: 3 -> 4"):
        f(np.ones(2), 4)


def test_an_unhashable_static_argument_is_a_clear_error():
    f = cr.compile(lambda x, opts: x * len(opts))
    with pytest.raises(TypeError, match="must be hashable"):
        f(np.ones(2), {1, 2})  # a set is a leaf, not a container


def test_compile_with_and_without_passes_agree():
    def loss(w, x):
        return ((x @ w).relu() + (x @ w).sigmoid()).mean()

    a, b = cr.compile(cr.grad(loss)), cr.compile(cr.grad(loss), optimize=False)
    for seed in range(3):
        r = np.random.default_rng(seed)
        w, x = r.standard_normal((3, 2)), r.standard_normal((5, 3))
        np.testing.assert_array_equal(a(w, x).data, b(w, x).data)
        np.testing.assert_array_equal(a(w, x).data, cr.grad(loss)(w, x).data)


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def test_compile_step_trains_as_the_eager_loop():
    batches = [(rng.standard_normal((10, 6)).astype(np.float32), rng.integers(0, 3, 10))
               for _ in range(3)]
    eager, compiled = _model(), _model()
    loss_fn = nn.CrossEntropyLoss()
    opt_e = optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_c = optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    step = compile_step(lambda x, y: loss_fn(compiled(x), y), compiled.parameters(), opt_c)
    for x, y in batches * 2:
        opt_e.zero_grad()
        loss_e = loss_fn(eager(x), y)
        loss_e.backward()
        opt_e.step()
        loss_c = step(x, y)
        np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=1e-6)
    for p, q in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    assert len(step.compiled.graphs) == 1


def test_dropout_draws_anew_at_every_run_as_in_eager_mode():
    model = nn.Sequential(nn.Linear(4, 64), nn.Dropout(0.5))
    x = np.ones((8, 4), dtype=np.float32)
    cr.manual_seed(7)
    eager = [model(x).data for _ in range(6)]
    step = cr.compile(lambda x: model(x) + model(x))  # two dropouts: never merged
    cr.manual_seed(7)
    outs = [step(x).data for _ in range(3)]  # the same draws, in the same order
    for k in range(3):
        np.testing.assert_array_equal(outs[k], eager[2 * k] + eager[2 * k + 1])
    assert not np.array_equal(outs[0], outs[1])  # a new mask at every run
    graph = next(iter(step.graphs.values()))
    assert [n.name for n in graph.nodes].count("dropout_mask") == 2


def test_other_random_draws_while_tracing_are_refused():
    def noisy(x):
        return x + cr.tensor(cr.random.get_rng().normal(size=x.shape))

    with pytest.raises(TraceError, match="random numbers"):
        cr.trace(noisy, np.ones(3))


def test_compile_step_returns_aux_outputs_for_metrics():
    model = _model()
    loss_fn = nn.CrossEntropyLoss()

    def loss_and_logits(x, y):
        logits = model(x)
        return loss_fn(logits, y), logits

    step = compile_step(loss_and_logits, model.parameters(), has_aux=True)
    x, y = rng.standard_normal((10, 6)).astype(np.float32), rng.integers(0, 3, 10)
    loss, logits = step(x, y)
    np.testing.assert_array_equal(logits.data, model(x).data)
    assert all(p.grad is not None for p in model.parameters())


def test_compile_step_refuses_a_model_whose_state_changes_while_traced():
    model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    loss_fn = nn.CrossEntropyLoss()
    step = compile_step(lambda x, y: loss_fn(model(x), y), model.parameters(), model=model)
    x, y = rng.standard_normal((10, 6)).astype(np.float32), rng.integers(0, 3, 10)
    with pytest.raises(TraceError, match="running statistics"):
        step(x, y)
    model.eval()
    loss = step(x, y)  # eval mode: nothing changes, the step compiles
    assert np.isfinite(loss.item())


def test_a_functional_training_step_traces_whole():
    from chainrule.autograd.pytree import tree_map

    def loss(params, x, y):
        h = cr.tanh(x @ params["w1"])
        return cr.softmax_cross_entropy(h @ params["w2"], y).mean()

    @cr.compile
    def train_step(params, x, y, lr):
        value, grads = cr.value_and_grad(loss)(params, x, y)
        return value, tree_map(lambda p, g: p - lr * g, params, grads)

    r = np.random.default_rng(5)
    params = {"w1": r.standard_normal((4, 6)), "w2": r.standard_normal((6, 3))}
    ref = dict(params)
    for _ in range(3):
        x, y = r.standard_normal((8, 4)), r.integers(0, 3, 8)
        value, new = train_step(params, x, y, 0.1)
        params = {k: v.data for k, v in new.items()}
        ref_value, ref_grads = cr.value_and_grad(loss)(ref, x, y)
        ref = {k: ref[k] - 0.1 * ref_grads[k].data for k in ref}
        assert value.item() == ref_value.item()
    for k in ref:
        np.testing.assert_array_equal(params[k], ref[k])
    graph = next(iter(train_step.graphs.values()))
    assert graph.nodes[-1].name.endswith("sub]")  # the update is in the graph (fused)


def test_calls_with_plain_arrays_take_the_quick_path_with_the_same_results():
    w = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)

    @cr.compile
    def f(x, y):
        h = (x @ w).tanh()
        return {"loss": (h * y).sum(), "parts": [h, None, 3], "one": (h.mean(),)}

    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    slow = f(cr.tensor(x), y)  # a tensor argument: the pytree key, no quick entry
    assert not f._quick
    fast = f(x, y)
    assert len(f._quick) == 1 and len(f.graphs) == 1
    again = f(x, y)  # from the quick entry
    for out in (fast, again):
        assert set(out) == {"loss", "parts", "one"} and out["parts"][1:] == [None, 3]
        assert isinstance(out["one"], tuple) and len(out["one"]) == 1
        np.testing.assert_array_equal(out["loss"].data, slow["loss"].data)
        np.testing.assert_array_equal(out["parts"][0].data, slow["parts"][0].data)
    assert again["parts"][0].data is not fast["parts"][0].data  # fresh arrays every call
    f(np.asfortranarray(rng.standard_normal((4, 3))), y)  # not C-contiguous: copied
    assert len(f._quick) == 1
    f.forget(next(iter(f.graphs)))  # dropping a graph drops its quick entries too
    assert not f._quick and not f.graphs
    f(x, y)
    assert len(f.graphs) == 1 and f.traces == 2


def test_the_passes_train_bit_for_bit_as_the_recorded_graph():
    """A sigmoid/ReLU/cross-entropy network, float64: every pass (fusion, the shared
    softmax, ReLU in place, specialised reductions, folded transposes) on, against the
    graph as recorded, over six SGD steps."""
    def model():
        cr.manual_seed(3)
        net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.Sigmoid(),
                            nn.Linear(8, 3))
        for p in net.parameters():
            p.data = p.data.astype(np.float64)
        return net

    batches = [(rng.standard_normal((10, 6)), rng.integers(0, 3, 10)) for _ in range(3)]
    runs = []
    for optimize in (False, True):
        net = model()
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        step = compile_step(lambda x, y, net=net, f=loss_fn: f(net(x), y), net.parameters(), opt,
                            optimize=optimize)
        losses = [step(x, y).item() for x, y in batches * 2]
        runs.append((losses, [p.data.copy() for p in net.parameters()], step))
    (l0, p0, _), (l1, p1, step) = runs
    assert l0 == l1
    for a, b in zip(p0, p1):
        np.testing.assert_array_equal(a, b)
    names = [n.name for n in next(iter(step.compiled.graphs.values())).nodes]
    assert "softmax_cross_entropy+softmax" in names and any(n.startswith("fused[") for n in names)
