"""The fused GELU (nn/kernels/gelu.py): gradchecks to second order in both modes (this file
covers the primitive for tests/autograd/test_rules.py), equality with the composite form
and with PyTorch (values, first and second derivatives, float64, 1e-10), float32 accuracy
against PyTorch's own, and that F.gelu, nn.GELU and the Transformer layers use it."""

import numpy as np
import pytest
from gradchecks import gradcheck_tests  # tests/gradchecks.py

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.nn.kernels.gelu import gelu

rng = np.random.default_rng(5)
X = rng.uniform(-4, 4, size=(3, 4))

CASES = {
    "gelu": (gelu, [X]),
    "gelu_scalar": (gelu, [np.array(0.7)]),
    "gelu_tanh": (lambda x: gelu(x, approximate="tanh"), [X]),
    "gelu_tanh_3d": (lambda x: gelu(x, approximate="tanh"), [rng.uniform(-3, 3, (2, 3, 2))]),
}
COVERED = {"gelu"}

test_first_order, test_second_order, test_covered_primitives_are_registered = gradcheck_tests(
    CASES, COVERED)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_equals_the_composite_form(approximate):
    x = cr.tensor(X, requires_grad=True)
    ref = cr.tensor(X, requires_grad=True)
    y, expected = gelu(x, approximate), cr.gelu(ref, approximate=approximate)
    assert y._op.name == "gelu"
    np.testing.assert_allclose(y.data, expected.data, rtol=0, atol=1e-14)
    g = rng.normal(size=X.shape)
    (y * g).sum().backward()
    (expected * g).sum().backward()
    np.testing.assert_allclose(x.grad.data, ref.grad.data, rtol=0, atol=1e-14)


def _ops(y):
    """The names of the primitives in y's graph."""
    seen, stack, names = set(), [y], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._op is None:
            continue
        seen.add(id(t))
        names.add(t._op.name)
        stack.extend(p for p in t._parents if isinstance(p, cr.Tensor))
    return names


def test_functional_module_and_transformer_use_the_primitive():
    x = cr.tensor(X, requires_grad=True)
    assert F.gelu(x)._op.name == "gelu"
    assert F.gelu(x, approximate="tanh")._op.name == "gelu"
    assert nn.GELU(approximate="tanh")(x)._op.name == "gelu"
    for activation, uses in (("gelu", True), ("relu", False)):
        layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation=activation)
        y = layer(cr.tensor(rng.normal(size=(3, 1, 4)).astype(np.float32)))
        assert ("gelu" in _ops(y)) == uses


def test_bad_approximation_and_dtypes():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        gelu(X, approximate="sigmoid")
    for dtype in (np.float16, np.float32, np.float64):
        assert gelu(X.astype(dtype)).dtype == dtype
    assert gelu(np.array([1, -2, 3])).dtype == np.float64  # integers: the exact float64 form
    np.testing.assert_allclose(gelu(X.astype(np.float16)).data, cr.gelu(X).data,
                               rtol=2e-3, atol=2e-3)


def test_empty_and_non_contiguous_inputs():
    assert gelu(np.zeros((0, 3))).shape == (0, 3)
    x = cr.tensor(rng.normal(size=(6, 5)).astype(np.float32), requires_grad=True)
    y = gelu(x.T[::2])
    np.testing.assert_allclose(y.data, gelu(np.ascontiguousarray(x.data.T[::2])).data)
    y.sum().backward()
    assert x.grad.shape == (6, 5)


try:
    import torch
except ImportError:  # the oracle is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle here")


@needs_torch
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_equals_torch_to_second_order(approximate):
    x = np.concatenate([X.ravel(), [-30.0, -9.0, -1e-8, 0.0, 1e-8, 9.0, 30.0]])
    g, h = rng.normal(size=x.shape), rng.normal(size=x.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    (tg,) = torch.autograd.grad(ty, tx, torch.tensor(g), create_graph=True)
    (th,) = torch.autograd.grad(tg, tx, torch.tensor(h))

    def first(a):
        return cr.grad(lambda b: (gelu(b, approximate) * g).sum())(a)

    np.testing.assert_allclose(gelu(x, approximate).data, ty.detach().numpy(), rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(first(x).data, tg.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(cr.grad(lambda a: (first(a) * h).sum())(x).data, th.numpy(),
                               rtol=0, atol=1e-10)
    # forward mode: J t = slope * t
    _, tangent = cr.jvp(lambda a: gelu(a, approximate), (x,), (h,))
    np.testing.assert_allclose(tangent.data, tg.detach().numpy() / g * h, rtol=1e-9,
                               atol=1e-10)


@needs_torch
def test_float32_is_as_accurate_as_torchs():
    """float32 uses the fitted erf (experiments/gelu_erf_fit.py): its largest error against
    the exact float64 GELU is no larger than PyTorch's float32 GELU's, values and slopes."""
    x = np.linspace(-8, 8, 200_001).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = cr.gelu(x64).data
    exact_slope = cr.grad(lambda a: cr.gelu(a).sum())(x64).data
    ours = cr.tensor(x, requires_grad=True)
    y = gelu(ours)
    y.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tx)
    ty.sum().backward()
    assert np.abs(y.data - exact).max() <= np.abs(ty.detach().numpy() - exact).max()
    assert np.abs(ours.grad.data - exact_slope).max() <= 2 * np.abs(
        tx.grad.numpy() - exact_slope).max()


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_tails_infinities_and_nan_as_torch(dtype, approximate):
    # far left x Phi(x) is -0 (it was -3e-8 x in float32: NumPy's tanh stops short of -1)
    x = np.array([-1e4, -50.0, -10.0, 10.0, 50.0, 1e4, np.nan], dtype=dtype)
    want = torch.nn.functional.gelu(torch.from_numpy(x), approximate=approximate).numpy()
    # float64: the exact CDF gives -10 Phi(-10) = -7.6e-23 where PyTorch's 1 + erf gives -0
    np.testing.assert_allclose(gelu(x, approximate).data, want, rtol=0,
                               atol=0 if dtype == np.float32 else 1e-10)
    # inf Phi(inf) = inf and -inf Phi(-inf) = -inf * 0 = nan (PyTorch's exact form gives nan
    # at +inf too, from its vectorized erf)
    np.testing.assert_array_equal(gelu(np.array([np.inf, -np.inf], dtype), approximate).data,
                                  [np.inf, np.nan])
