"""Bahdanau and Luong attention: NumPy references, gradchecks (first and second order),
masks (fully masked rows give zeros), errors; sampled softmax's expectation."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd.ops import ShapeError

rng = np.random.default_rng(0)


@pytest.fixture
def float64():
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")


def _np_softmax(s, mask):
    s = np.where(mask, s, -np.inf)
    e = np.exp(s - np.max(np.where(mask, s, -1e300), axis=-1, keepdims=True))
    e = np.where(mask, e, 0.0)
    tot = e.sum(-1, keepdims=True)
    return np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)


def np_luong(q, k, v, w, mask, scale=False):
    """Hand-written reference, one query at a time."""
    b, tq, _ = q.shape
    ctx = np.zeros((b, tq, v.shape[-1]))
    wts = np.zeros((b, tq, k.shape[1]))
    for i in range(b):
        for t in range(tq):
            s = np.array([q[i, t] @ (k[i, j] if w is None else w @ k[i, j])
                          for j in range(k.shape[1])])
            if scale:
                s = s / np.sqrt(k.shape[-1])
            wts[i, t] = _np_softmax(s, mask[i])
            ctx[i, t] = wts[i, t] @ v[i]
    return ctx, wts


def np_bahdanau(q, k, v, wq, wk, bias, vv, mask):
    b, tq, _ = q.shape
    ctx = np.zeros((b, tq, v.shape[-1]))
    wts = np.zeros((b, tq, k.shape[1]))
    for i in range(b):
        for t in range(tq):
            s = np.array([vv @ np.tanh(wq @ q[i, t] + wk @ k[i, j] + bias)
                          for j in range(k.shape[1])])
            wts[i, t] = _np_softmax(s, mask[i])
            ctx[i, t] = wts[i, t] @ v[i]
    return ctx, wts


def _data(b=3, tq=2, tk=4, dq=5, dk=5, dv=3):
    q = rng.standard_normal((b, tq, dq))
    k = rng.standard_normal((b, tk, dk))
    v = rng.standard_normal((b, tk, dv))
    mask = np.ones((b, tk), bool)
    mask[1, 2:] = False
    mask[2, :] = False  # a fully masked row
    return q, k, v, mask


@pytest.mark.parametrize("score,scale", [("general", False), ("dot", False), ("dot", True)])
def test_luong_matches_numpy(score, scale, float64):
    q, k, v, mask = _data()
    att = nn.LuongAttention(5, score=score, scale=scale)
    ctx, w = att(q, k, v, mask=mask)
    ref_c, ref_w = np_luong(q, k, v, None if att.weight is None else att.weight.data,
                            mask, scale)
    np.testing.assert_allclose(w.data, ref_w, atol=1e-12)
    np.testing.assert_allclose(ctx.data, ref_c, atol=1e-12)
    assert np.all(w.data[2] == 0) and np.all(ctx.data[2] == 0)


def test_bahdanau_matches_numpy(float64):
    q, k, v, mask = _data(dq=4, dk=5)
    att = nn.BahdanauAttention(4, 5, units=6)
    ctx, w = att(q, k, v, mask=mask)
    ref_c, ref_w = np_bahdanau(q, k, v, att.query_weight.data, att.key_weight.data,
                               att.bias.data, att.v.data, mask)
    np.testing.assert_allclose(w.data, ref_w, atol=1e-12)
    np.testing.assert_allclose(ctx.data, ref_c, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.LuongAttention, nn.BahdanauAttention])
def test_one_step_query_equals_sequence_query(cls, float64):
    q, k, v, mask = _data()
    att = cls(5)
    ctx, w = att(q, k, v, mask=mask)
    c1, w1 = att(q[:, 1], k, v, mask=mask)
    assert c1.shape == (3, 3) and w1.shape == (3, 4)
    np.testing.assert_allclose(c1.data, ctx.data[:, 1], atol=1e-14)
    np.testing.assert_allclose(w1.data, w.data[:, 1], atol=1e-14)
    # values default to the keys
    c2, _ = att(q, k)
    assert c2.shape == (3, 2, 5)


def _with_params(att, f):
    names = list(att._parameters)

    def g(q, k, v, *ws):
        for n, w in zip(names, ws):
            object.__setattr__(att, n, w)
        return f(q, k, v)
    return g, [att._parameters[n].data.copy() for n in names]


@pytest.mark.parametrize("make", [lambda: nn.LuongAttention(4),
                                  lambda: nn.LuongAttention(4, score="dot", scale=True),
                                  lambda: nn.BahdanauAttention(4, units=3)])
def test_gradcheck_first_and_second_order(make, float64):
    q, k, v, mask = _data(b=3, tq=2, tk=3, dq=4, dk=4, dv=2)
    att = make()

    def f(q, k, v):
        ctx, w = att(q, k, v, mask=mask)
        return ctx * ctx + cr.sum(w, axis=-1, keepdims=True) * 0.5 + w[..., :2]

    g, ws = _with_params(att, f)
    inputs = [q, k, v] + ws
    assert cr.gradcheck(g, inputs)
    assert cr.gradgradcheck(g, inputs, atol=1e-4)


def test_fully_masked_row_has_finite_zero_gradient(float64):
    q, k, v, mask = _data()
    att = nn.LuongAttention(5)
    qt = cr.Tensor(q, requires_grad=True)
    kt = cr.Tensor(k, requires_grad=True)
    ctx, w = att(qt, kt, v, mask=mask)
    cr.sum(ctx).backward()
    gq, gk = qt.grad.data, kt.grad.data
    assert np.all(np.isfinite(gq)) and np.all(np.isfinite(gk))
    assert np.all(gq[2] == 0) and np.all(gk[2] == 0)


def test_bad_input_names_layer_and_shapes():
    att = nn.LuongAttention(4)
    with pytest.raises(ShapeError, match="LuongAttention.*query.*\\(2, 3\\)"):
        att(np.zeros((2, 3)), np.zeros((2, 5, 4)))
    with pytest.raises(ShapeError, match="keys"):
        att(np.zeros((2, 4)), np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match="values"):
        att(np.zeros((2, 4)), np.zeros((2, 5, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ShapeError, match="mask"):
        att(np.zeros((2, 4)), np.zeros((2, 5, 4)), mask=np.ones((2, 4), bool))
    with pytest.raises(ShapeError, match="mask"):
        att(np.zeros((2, 4)), np.zeros((2, 5, 4)), mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match="score='dot' needs"):
        nn.LuongAttention(4, 3, score="dot")
    with pytest.raises(ValueError, match="units"):
        nn.BahdanauAttention(4, units=0)


# ------------------------------------------------------------------ sampled softmax

def test_sampled_softmax_expectation_approaches_full_loss(float64):
    g = np.random.default_rng(1)
    x = g.standard_normal((8, 6))
    w = g.standard_normal((50, 6)) * 0.5
    b = g.standard_normal(50) * 0.1
    y = g.integers(0, 50, 8)
    full = float(F.cross_entropy(x @ w.T + b, y).data)
    gaps = []
    for m in (5, 50, 500):
        est = np.mean([float(F.sampled_softmax_cross_entropy(
            x, w, b, y, m, sampler="uniform", generator=g).data) for _ in range(300)])
        gaps.append(abs(est - full))
    assert gaps[2] < gaps[1] < gaps[0]
    assert gaps[2] < 0.01 * full
    # the log-uniform proposal estimates the same loss
    est = np.mean([float(F.sampled_softmax_cross_entropy(x, w, b, y, 500, generator=g).data)
                   for _ in range(300)])
    assert abs(est - full) < 0.02 * full


def test_sampled_softmax_gradcheck(float64):
    g = np.random.default_rng(2)
    x, w, b = g.standard_normal((4, 3)), g.standard_normal((10, 3)), g.standard_normal(10)
    y = np.array([0, 3, 3, 9])

    def f(x, w, b):
        return F.sampled_softmax_cross_entropy(x, w, b, y, 6, reduction="none",
                                               generator=np.random.default_rng(7))

    assert cr.gradcheck(f, [x, w, b])
    assert cr.gradgradcheck(f, [x, w, b], atol=1e-4)


def test_sampled_softmax_bad_input():
    x, w = np.zeros((4, 3)), np.zeros((10, 3))
    with pytest.raises(ShapeError, match="share D"):
        F.sampled_softmax_cross_entropy(x, np.zeros((10, 2)), None, [0, 1, 2, 3], 5)
    with pytest.raises(IndexError, match="\\[0, 10\\)"):
        F.sampled_softmax_cross_entropy(x, w, None, [0, 1, 2, 10], 5)
    with pytest.raises(ValueError, match="num_sampled"):
        F.sampled_softmax_cross_entropy(x, w, None, [0, 1, 2, 3], 0)
    with pytest.raises(ValueError, match="sampler"):
        F.sampled_softmax_cross_entropy(x, w, None, [0, 1, 2, 3], 2, sampler="zipf")
