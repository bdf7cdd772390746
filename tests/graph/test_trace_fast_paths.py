"""A layer's NumPy fast path (``unrecorded``: no gradient is recorded) must not freeze a
traced value into a constant: under ``no_grad``, or with weights that do not require grad,
``trace`` still records the ops of the forward pass (issue 16, ONNX export traces this
way)."""

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn.kernels.conv import conv_transpose2d


def _rng():
    return np.random.default_rng(0)


def test_conv_transpose_traced_under_no_grad_follows_new_inputs():
    r = _rng()
    w = cr.Tensor(r.standard_normal((3, 2, 3, 3)), requires_grad=True)
    x0, x1 = r.standard_normal((2, 3, 5, 5)), r.standard_normal((2, 3, 5, 5))
    with cr.no_grad():
        g = cr.trace(lambda x: conv_transpose2d(x, w, stride=2, padding=1), x0)
    assert len(g.nodes) > 0  # the output is computed, not a constant
    np.testing.assert_allclose(g(x1).data, conv_transpose2d(x1, w, stride=2, padding=1).data,
                               rtol=1e-12, atol=1e-12)


def test_frozen_weights_traced_with_grad_on_follow_new_inputs():
    r = _rng()
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
    for p in layer.parameters():
        p.requires_grad = False
    x0, x1 = r.standard_normal((2, 3, 4, 4)), r.standard_normal((2, 3, 4, 4))
    g = cr.trace(layer, x0)
    np.testing.assert_allclose(g(x1).data, layer(x1).data, rtol=1e-12, atol=1e-12)


def test_value_and_grad_of_a_conv_still_matches_eager():
    r = _rng()
    w = cr.Tensor(r.standard_normal((4, 3, 3, 3)), requires_grad=True)

    def loss(w, x):
        return (nn.functional.conv2d(x, w, padding=1) ** 2).sum()

    x0, x1 = r.standard_normal((2, 3, 6, 6)), r.standard_normal((2, 3, 6, 6))
    g = cr.trace(cr.value_and_grad(loss), w.data, x0)
    got_v, got_g = g(w.data, x1)
    want_v, want_g = cr.value_and_grad(loss)(w, x1)
    np.testing.assert_allclose(got_v.data, want_v.data, rtol=1e-12)
    np.testing.assert_allclose(got_g.data, want_g.data, rtol=1e-10, atol=1e-12)
