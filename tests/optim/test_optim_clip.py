"""Gradient clipping: functions against torch.nn.utils, optimizer options against Keras'
definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def _params_with_grads(scale: float = 1.0, dtype=np.float64):
    rng = np.random.default_rng(3)
    ps = [cr.tensor(rng.normal(size=s).astype(dtype), requires_grad=True)
          for s in [(3, 4), (4,), (2,)]]
    for p in ps[:2]:
        p.grad = cr.tensor((scale * rng.normal(size=p.shape)).astype(dtype))
    return ps  # the last one has no gradient


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ps = _params_with_grads(scale=2.0)
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    for p, tp in zip(ps, tps):
        if p.grad is not None:
            tp.grad = torch.from_numpy(p.grad.data.copy())
    total = optim.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, float)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ps, tps):
        if p.grad is None:
            assert tp.grad is None
        else:
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_closed_form_and_edge_cases():
    p = cr.tensor([0.0, 0.0], requires_grad=True)
    p.grad = cr.tensor([3.0, 4.0])
    assert optim.clip_grad_norm_(p, 1.0) == pytest.approx(5.0)  # a single tensor is fine
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)
    q = cr.tensor([1.0], requires_grad=True)
    assert optim.clip_grad_norm_([q], 1.0) == 0.0  # no gradients at all
    p.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total gradient norm"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_([p], -1.0)


def test_clip_grad_value():
    ps = _params_with_grads(scale=3.0)
    before = [p.grad.data.copy() for p in ps[:2]]
    optim.clip_grad_value_(ps, 0.5)
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.grad.data, np.clip(b, -0.5, 0.5))
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value_(ps, -1)


def test_clipping_keeps_float32():
    ps = _params_with_grads(scale=5.0, dtype=np.float32)
    optim.clip_grad_norm_(ps, 1.0)
    optim.clip_grad_value_(ps, 0.1)
    assert all(p.grad.data.dtype == np.float32 for p in ps[:2])


def test_optimizer_clip_options_follow_keras():
    # clipnorm: each gradient clipped on its own; global_clipnorm: all together
    def run(**clip):
        a, b = cr.tensor([0.0, 0.0], requires_grad=True), cr.tensor([0.0], requires_grad=True)
        a.grad, b.grad = cr.tensor([3.0, 4.0]), cr.tensor([0.5])
        optim.SGD([a, b], lr=1.0, **clip).step()
        return np.concatenate([a.data, b.data])

    np.testing.assert_allclose(run(clipnorm=1.0), [-0.6, -0.8, -0.5], rtol=1e-6)
    total = math.sqrt(25.25)
    np.testing.assert_allclose(run(global_clipnorm=1.0),
                               -np.array([3.0, 4.0, 0.5]) / (total + 1e-6), rtol=1e-6)
    np.testing.assert_allclose(run(clipvalue=0.7), [-0.7, -0.7, -0.5], rtol=1e-6)
    np.testing.assert_allclose(run(), [-3.0, -4.0, -0.5], rtol=1e-6)
