"""The fused layer norm over the last axis (nn/kernels/norm.py) that F.layer_norm uses for
the Transformer's LayerNorms: gradchecks to second order in both modes (this file covers
the primitive for tests/autograd/test_rules.py), and equality with the composite form and
with PyTorch."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import ops
from chainrule.nn.kernels.norm import layer_norm_last_axis

rng = np.random.default_rng(3)
X, W, B = rng.normal(size=(2, 3, 5)), rng.normal(size=5), rng.normal(size=5)


def fused(x, w, b):
    return layer_norm_last_axis(x, w, b, 1e-5)


def composite(x, w, b, eps=1e-5):
    mean = ops.mean(x, axis=-1, keepdims=True)
    var = ops.var(x, axis=-1, keepdims=True, correction=0)
    return (x - mean) / ops.sqrt(var + eps) * w + b


@pytest.mark.parametrize("x", [X, X[0, 0]], ids=["batched", "one_row"])
def test_gradcheck_first_and_second_order(x):
    assert cr.gradcheck(fused, [x, W, B])
    assert cr.gradgradcheck(fused, [x, W, B], atol=1e-4)


def test_equals_the_composite_form_and_is_what_layer_norm_uses():
    ins = [cr.tensor(a, requires_grad=True) for a in (X, W, B)]
    ref = [cr.tensor(a, requires_grad=True) for a in (X, W, B)]
    out = F.layer_norm(ins[0], (5,), ins[1], ins[2])
    assert out._op.name == "layer_norm_last"
    expected = composite(*ref)
    np.testing.assert_allclose(out.data, expected.data, rtol=0, atol=1e-12)
    g = rng.normal(size=X.shape)
    (out * g).sum().backward()
    (expected * g).sum().backward()
    for a, b in zip(ins, ref):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=0, atol=1e-12)


def test_float32_stays_float32():
    x = X.astype(np.float32)
    out = fused(x, W.astype(np.float32), B.astype(np.float32))
    assert out.dtype == np.float32


try:
    import torch
except ImportError:  # the oracle is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle here")


@needs_torch
def test_equals_torch():
    ins = [cr.tensor(a, requires_grad=True) for a in (X, W, B)]
    tins = [torch.tensor(a, requires_grad=True) for a in (X, W, B)]
    out = fused(*ins)
    tout = torch.nn.functional.layer_norm(tins[0], (5,), tins[1], tins[2])
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-12)
    g = rng.normal(size=X.shape)
    (out * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=0, atol=1e-12)
