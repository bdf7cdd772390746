"""Quantization-aware training (issue 19): fake quantization in the forward pass, the
straight-through gradient in the backward pass, and conversion to the int8 model."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.models import create_model
from chainrule.optim import Adam
from chainrule.quant import FakeQuantLayer, QuantizedLayer, convert, prepare_qat
from chainrule.quant.ptq import activation_params, fake_quantize, quantize_weight
from chainrule.random import manual_seed


def test_forward_is_fake_quantized_and_the_gradient_goes_straight_through():
    manual_seed(0)
    layer = nn.Linear(6, 4)
    wrapped = prepare_qat(nn.Sequential(layer))
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    out = wrapped(x)
    q, scale = quantize_weight(layer.weight.data)
    wq = q * scale[:, None]
    xq = fake_quantize(x, *activation_params(x.min(), x.max()))
    np.testing.assert_allclose(out.numpy(), xq @ wq.T + layer.bias.data, rtol=1e-5,
                               atol=1e-6)
    g = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    (out * cr.tensor(g)).sum().backward()
    inner = wrapped[0].layer
    # straight through: the gradients of the float weights are those at the rounded point
    np.testing.assert_allclose(inner.weight.grad, g.T @ xq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(inner.bias.grad, g.sum(0), rtol=1e-5, atol=1e-5)
    assert not np.array_equal(wq, layer.weight.data)  # the float weights stay float


def test_qat_trains_and_converts_to_the_int8_model_it_simulated():
    manual_seed(0)
    model = create_model("cnn", input_shape=(1, 10, 10), num_classes=3, channels=(4,),
                         hidden=8, dropout=0.0)
    x = np.random.default_rng(0).random((32, 1, 10, 10), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 3, 32)
    qat = prepare_qat(model, momentum=0.0)  # momentum 0: the ranges of the latest batch
    assert sum(isinstance(m, FakeQuantLayer) for m in qat.modules()) == 3
    assert len(qat.parameters()) == len(model.parameters())
    opt = Adam(qat.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(qat(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    qat.train()
    qat(x)  # the ranges of x under the trained weights, as convert's calibration on x
    qat.eval()
    with cr.no_grad():
        simulated = qat(x).numpy()
    int8 = convert(qat, x)
    assert sum(isinstance(m, QuantizedLayer) for m in int8.modules()) == 3
    assert not any(isinstance(m, FakeQuantLayer) for m in int8.modules())
    with cr.no_grad():
        np.testing.assert_allclose(int8(x).numpy(), simulated, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no Linear or Conv"):
        prepare_qat(nn.ReLU())
