"""The quantization primitives (``chainrule.quant.primitives``): forwards equal to the
NumPy rounding, straight-through rules in both modes, recorded by ``chainrule.trace``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import ops
from chainrule.quant.primitives import dequantize, fake_quantize


def test_fake_quantize_rounds_half_to_even_and_saturates():
    x = np.array([-1.0, 0.0, 0.25, 0.75, 1.25, 100.0], np.float32)
    y = fake_quantize(x, 0.5, zero_point=2, qmin=0, qmax=10).numpy()
    # x / 0.5 = -2, 0, 0.5, 1.5, 2.5, 200 -> rint -> -2, 0, 0, 2, 2, 200; + 2, clipped to
    # [0, 10]; minus 2, times 0.5
    np.testing.assert_array_equal(y, [-1.0, 0.0, 0.0, 1.0, 1.0, 4.0])
    assert y.dtype == np.float32


def test_per_channel_scales_along_an_axis():
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    scale = np.array([0.1, 0.2, 0.05], np.float32)
    y = fake_quantize(x, scale, qmin=-127, qmax=127, axis=-2).numpy()
    s = scale[None, :, None]
    np.testing.assert_array_equal(y, np.clip(np.rint(x / s), -127, 127) * s)
    q = np.array([[3, -4], [127, -127]], np.int8)
    d = dequantize(q, np.array([0.5, 0.25], np.float32), axis=0).numpy()
    np.testing.assert_array_equal(d, [[1.5, -2.0], [31.75, -31.75]])
    assert d.dtype == np.float32
    assert dequantize(np.uint8([4]), 0.5, zero_point=2).numpy().tolist() == [1.0]


def test_the_rules_are_straight_through_in_both_modes():
    x = cr.tensor(np.random.default_rng(1).normal(size=(3, 4)), requires_grad=True)
    g = np.random.default_rng(2).normal(size=(3, 4))
    y = fake_quantize(x, 0.3, zero_point=10, qmin=0, qmax=20)
    (y * cr.tensor(g)).sum().backward()
    np.testing.assert_array_equal(x.grad, g)  # the identity, also where it saturates
    t = np.random.default_rng(3).normal(size=(3, 4))
    _, tangent = cr.jvp(lambda v: fake_quantize(v, 0.3, zero_point=10, qmin=0, qmax=20),
                        (x.data,), (t,))
    np.testing.assert_array_equal(np.asarray(tangent.data if hasattr(tangent, "data")
                                             else tangent), t)
    assert not dequantize(np.int8([1, 2]), 0.5).requires_grad


def test_the_primitives_are_recorded_by_trace():
    graph = cr.trace(lambda v: fake_quantize(v, 0.1) * dequantize(np.int8([1, 2, 3]), 0.5),
                     np.ones(3, np.float32))
    assert [n.name for n in graph.nodes][:2] == ["fake_quantize", "dequantize"]
    assert "fake_quantize" in ops.PRIMITIVES and not ops.PRIMITIVES["dequantize"].differentiable


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="qmin < qmax"):
        fake_quantize(np.ones(2), 0.1, qmin=5, qmax=5)
    with pytest.raises(ValueError, match="1-D with an axis"):
        fake_quantize(np.ones((2, 2)), np.ones(2, np.float32))
    with pytest.raises(TypeError, match="integers"):
        dequantize(np.ones(2, np.float32), 0.5)
