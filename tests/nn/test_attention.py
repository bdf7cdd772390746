"""scaled_dot_product_attention: the fused primitive (nn/kernels/attention.py).

Gradchecked to first and second order in both modes (this file covers the primitive for
tests/autograd/test_rules.py), and equal to PyTorch's in float64 to 1e-10.
"""

import numpy as np
import pytest
from gradchecks import gradcheck_tests  # tests/gradchecks.py

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError

rng = np.random.default_rng(0)


def r(*shape):
    return rng.normal(size=shape)


def _bool_mask(*shape, empty_row=True):
    m = rng.random(shape) > 0.3
    if empty_row:
        m[(0,) * (len(shape) - 1)] = False  # one query sees no key at all
    return m


Q, K, V = r(2, 3, 4), r(1, 5, 4), r(2, 5, 3)  # k broadcasts over the batch
BIAS = r(3, 5)
MASK = _bool_mask(2, 3, 5)

CASES = {
    "plain": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [Q, K, V]),
    "float_mask_differentiated": (
        lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b),
        [Q, K, V, BIAS]),
    "bool_mask_empty_row": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=MASK), [Q, K, V]),
    "causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
               [Q, K, V]),
    "scale": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3), [Q, K, V]),
}


def _with_dropout(q, k, v):
    cr.manual_seed(3)  # the same dropout mask at every evaluation
    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)


CASES["dropout"] = (_with_dropout, [Q, K, V])


test_first_order, test_second_order, test_covered_primitives_are_registered = gradcheck_tests(
    CASES, {"scaled_dot_product_attention"})


def test_fully_masked_row_gives_zeros_and_finite_gradient():
    q, k, v = (cr.tensor(a, requires_grad=True) for a in (r(2, 3, 4), r(2, 5, 4), r(2, 5, 3)))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out.data[:, 1], 0.0)
    out.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.data).all()
    np.testing.assert_array_equal(q.grad.data[:, 1], 0.0)
    # the same with an additive mask of -inf
    bias = np.where(mask, 0.0, -np.inf)
    out2 = F.scaled_dot_product_attention(q.data, k.data, v.data, attn_mask=bias)
    np.testing.assert_array_equal(out2.data, out.data)


def test_extreme_scores_do_not_overflow():
    q, k, v = r(1, 2, 3) * 1e3, r(1, 4, 3) * 1e3, r(1, 4, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out.data).all()


def test_float32_stays_float32():
    q, k, v = (a.astype(np.float32) for a in (r(2, 3, 4), r(2, 5, 4), r(2, 5, 3)))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.dtype == np.float32


def test_dropout_uses_chainrule_random():
    q, k, v = r(2, 6, 4), r(2, 6, 4), r(2, 6, 3)
    cr.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    cr.manual_seed(5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_input_names_the_function_and_shapes():
    q, k, v = r(2, 3, 4), r(2, 5, 4), r(2, 5, 3)
    with pytest.raises(ShapeError, match=r"scaled_dot_product_attention.*\(2, 3, 4\)"):
        F.scaled_dot_product_attention(q, r(2, 5, 6), v)
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(4, 5\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean.*int64"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), np.int64))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool),
                                       is_causal=True)


# --------------------------------------------------------------------------- PyTorch


try:
    import torch
except ImportError:  # the oracle is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle here")


def _torch_case(mask_kind):
    q, k, v = r(2, 3, 5, 8), r(2, 1, 7, 8), r(2, 1, 7, 6)  # k, v broadcast over heads
    kw = {}
    if mask_kind == "bool":
        kw["attn_mask"] = _bool_mask(3, 5, 7)
    elif mask_kind == "float":
        kw["attn_mask"] = r(2, 1, 5, 7)
    elif mask_kind == "causal":
        kw["is_causal"] = True
    elif mask_kind == "scale":
        kw["scale"] = 0.7
    return (q, k, v), kw


@needs_torch
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "scale"])
def test_equals_torch_forward_and_gradients(mask_kind):
    arrays, kw = _torch_case(mask_kind)
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, **kw)
    tkw = {n: torch.tensor(x) if isinstance(x, np.ndarray) else x for n, x in kw.items()}
    tout = torch.nn.functional.scaled_dot_product_attention(*theirs, **tkw)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-10)
    g = r(*out.shape)
    (out * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_float_mask_gradient_equals_torch():
    (q, k, v), _ = _torch_case("none")
    bias = r(3, 5, 7)
    b_ours = cr.tensor(bias, requires_grad=True)
    b_torch = torch.tensor(bias, requires_grad=True)
    F.scaled_dot_product_attention(q, k, v, attn_mask=b_ours).sum().backward()
    torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=b_torch).sum().backward()
    np.testing.assert_allclose(b_ours.grad.data, b_torch.grad.numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_jvp_equals_torch_forward_mode():
    (q, k, v), kw = _torch_case("bool")
    tangents = [r(*a.shape) for a in (q, k, v)]
    _, ours = cr.jvp(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw),
                     (q, k, v), tuple(tangents))
    mask = torch.tensor(kw["attn_mask"])
    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        duals = [fwad.make_dual(torch.tensor(a), torch.tensor(t))
                 for a, t in zip((q, k, v), tangents)]
        out = torch.nn.functional.scaled_dot_product_attention(*duals, mask)
        theirs = fwad.unpack_dual(out).tangent
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=0, atol=1e-10)
