"""Activations of Hands-On ML ch. 11 still missing before issue 20: GELU's sigmoid
approximation, Swish with beta, Mish; the book's values at 1 and the gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import Tensor

torch = pytest.importorskip("torch", reason="torch is the gradient oracle")


@pytest.mark.parametrize(("layer", "value"), [
    (nn.GELU(approximate="sigmoid"), 0.8457957659),
    (nn.Swish(), 0.7310585786),
    (nn.Swish(beta=1.0), 0.7310585786),
    (nn.Mish(), 0.8650983883),
])
def test_book_values_at_one(layer, value):
    assert float(layer(np.array([1.0])).data[0]) == pytest.approx(value, abs=1e-10)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_swish_beta_value_and_gradient_match_torch(beta):
    x = np.linspace(-4, 4, 9)
    t = Tensor(x.copy(), requires_grad=True)
    F.swish(t, beta=beta).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (tx * torch.sigmoid(beta * tx)).sum().backward()
    assert np.allclose(F.swish(x, beta=beta).data, (tx * torch.sigmoid(beta * tx)).detach())
    assert np.allclose(t.grad, tx.grad.numpy(), atol=1e-12)


def test_gelu_sigmoid_gradient_and_modes():
    x = np.linspace(-3, 3, 7)
    t = Tensor(x.copy(), requires_grad=True)
    F.gelu(t, approximate="sigmoid").sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (tx * torch.sigmoid(1.702 * tx)).sum().backward()
    assert np.allclose(t.grad, tx.grad.numpy(), atol=1e-12)
    exact = F.gelu(x).data
    assert np.allclose(exact, torch.nn.functional.gelu(torch.tensor(x)).numpy())
    assert np.abs(F.gelu_sigmoid(x).data - exact).max() < 0.03  # a close approximation
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="cubic")
