"""Every primitive of the rule table, first and second order, reverse and forward mode.

``gradcheck`` compares the vjp and the jvp against central differences in float64;
``gradgradcheck`` does the same for the first derivative built with create_graph=True.
"""

import numpy as np
import pytest
import test_indexing  # tests/autograd/test_indexing.py (on sys.path under pytest)
import test_linalg  # tests/autograd/test_linalg.py
import test_rules_elementwise  # tests/autograd/test_rules_elementwise.py
import test_scans  # tests/autograd/test_scans.py

import chainrule as cr
import chainrule.nn.functional as F
import chainrule.quant  # noqa: F401  (registers fake_quantize, issue 19)
from chainrule.autograd import ops
from chainrule.nn.kernels import lstm_gates

rng = np.random.default_rng(0)


def r(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def pos(*shape):
    return rng.uniform(0.5, 2.0, size=shape)


def away(*shape):
    """Values kept away from 0 (for abs, relu, sign-like kinks)."""
    x = rng.uniform(0.3, 2.0, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


# name -> (function, inputs). Inputs broadcast where the op allows it.
CASES = {
    "add": (lambda a, b: a + b, [r(3, 1, 4), r(2, 4)]),
    "sub": (lambda a, b: a - b, [r(2, 3), r(3)]),
    "mul": (lambda a, b: a * b, [r(4, 1), r(1, 5)]),
    "div": (lambda a, b: a / b, [r(2, 3), pos(2, 1)]),
    "neg": (lambda a: -a, [r(3, 2)]),
    "pow_scalar": (lambda a: a ** 3, [r(2, 3)]),
    "pow_tensor": (lambda a, b: a ** b, [pos(2, 3), r(3)]),
    "rpow": (lambda b: 2.0 ** b, [r(4)]),
    "matmul_2d": (lambda a, b: a @ b, [r(3, 4), r(4, 2)]),
    "matmul_batched": (lambda a, b: a @ b, [r(2, 1, 3, 4), r(5, 4, 2)]),
    "matmul_vec_mat": (lambda a, b: a @ b, [r(4), r(2, 4, 3)]),
    "matmul_mat_vec": (lambda a, b: a @ b, [r(2, 3, 4), r(4)]),
    "matmul_vec_vec": (lambda a, b: a @ b, [r(4), r(4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [r(5, 3), r(4, 3), r(4)]),
    "linear_3d": (lambda x, w, b: F.linear(x, w, b), [r(2, 5, 3), r(4, 3), r(4)]),
    "linear_nobias": (lambda x, w: F.linear(x, w), [r(2, 5, 3), r(4, 3)]),
    "lstm_gates": (lambda z: lstm_gates(z), [r(3, 8)]),
    "exp": (cr.exp, [r(2, 3)]),
    "log": (cr.log, [pos(2, 3)]),
    "log1p": (cr.log1p, [pos(3)]),
    "expm1": (cr.expm1, [r(3)]),
    "sqrt": (cr.sqrt, [pos(2, 3)]),
    "sin": (cr.sin, [r(3)]),
    "cos": (cr.cos, [r(3)]),
    "tan": (cr.tan, [r(3, low=-1.0, high=1.0)]),
    "tanh": (cr.tanh, [r(2, 3)]),
    "sinh": (cr.sinh, [r(2, 3)]),
    "cosh": (cr.cosh, [r(2, 3)]),
    "asin": (cr.asin, [r(3, low=-0.9, high=0.9)]),
    "acos": (cr.acos, [r(3, low=-0.9, high=0.9)]),
    "atan": (cr.atan, [r(2, 3)]),
    "asinh": (cr.asinh, [r(2, 3)]),
    "sigmoid": (cr.sigmoid, [r(2, 3, low=-5, high=5)]),
    "sigmoid_large": (cr.sigmoid, [r(20, 30, low=-5, high=5)]),  # the other code path
    "relu": (cr.relu, [away(2, 3)]),
    "leaky_relu": (lambda x: cr.leaky_relu(x, slope=0.2), [away(3, 2)]),
    "elu": (cr.elu, [away(2, 3)]),
    "selu": (cr.selu, [away(4)]),
    "softplus": (cr.softplus, [r(2, 3, low=-5, high=5)]),
    "gelu": (cr.gelu, [r(2, 3)]),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate="tanh"), [r(2, 3)]),
    "erf": (cr.erf, [r(4)]),
    "abs": (cr.abs, [away(2, 3)]),
    "sign": (lambda x: cr.sign(x) * x, [away(3)]),
    "clip": (lambda x: cr.clip(x, -1.0, 1.0), [np.array([-1.7, -0.4, 0.2, 0.9, 1.5])]),
    "maximum": (cr.maximum, [np.array([[1.0, -2.0, 3.0]]), np.array([[0.5], [2.5]])]),
    "minimum": (cr.minimum, [np.array([[1.0, -2.0, 3.0]]), np.array([[0.5], [2.5]])]),
    "where": (lambda a, b: cr.where(np.array([True, False, True]), a, b), [r(2, 3), r(3)]),
    "sum_all": (lambda x: x.sum(), [r(2, 3)]),
    "sum_axis": (lambda x: x.sum(axis=1), [r(2, 3, 4)]),
    "sum_axes_keep": (lambda x: x.sum(axis=(0, 2), keepdims=True), [r(2, 3, 4)]),
    "mean": (lambda x: x.mean(axis=-1), [r(2, 3)]),
    "var": (lambda x: x.var(axis=0), [r(4, 3)]),
    "var_biased": (lambda x: cr.var(x, axis=1, correction=0, keepdims=True), [r(2, 5)]),
    "std": (lambda x: x.std(axis=1), [r(2, 5)]),
    "norm": (lambda x: cr.norm(x, axis=1), [r(3, 4)]),
    "max": (lambda x: x.max(axis=1), [r(3, 4)]),
    "min_all": (lambda x: x.min(), [r(3, 4)]),
    "prod": (lambda x: x.prod(axis=1), [r(2, 4)]),
    "prod_with_zero": (lambda x: x.prod(axis=1), [np.array([[0.0, 2.0, 3.0], [1.5, -2.0, 0.5]])]),
    "logsumexp": (lambda x: x.logsumexp(axis=1), [r(3, 4)]),
    "softmax": (lambda x: cr.softmax(x, axis=0), [r(3, 4)]),
    "log_softmax": (lambda x: cr.log_softmax(x), [r(3, 4)]),
    "softmax_ce_index": (lambda z: cr.softmax_cross_entropy(z, np.array([0, 2, 1])), [r(3, 4)]),
    "softmax_ce_probs": (lambda z, p: cr.softmax_cross_entropy(z, cr.softmax(p)),
                         [r(2, 3), r(2, 3)]),
    "reshape": (lambda x: x.reshape(3, 2) * x.reshape(3, 2), [r(2, 3)]),
    "transpose": (lambda x: x.transpose(2, 0, 1) * 2, [r(2, 3, 4)]),
    "T": (lambda x: x.T @ x, [r(3, 2)]),
    "broadcast_to": (lambda x: cr.broadcast_to(x, (2, 3, 4)) ** 2, [r(3, 1)]),
    "sum_to": (lambda x: cr.sum_to(x, (3, 1)) ** 2, [r(2, 3, 4)]),
    "squeeze": (lambda x: cr.squeeze(x, 1) ** 2, [r(3, 1, 2)]),
    "unsqueeze": (lambda x: cr.unsqueeze(x, 0) ** 2, [r(3)]),
    "flatten": (lambda x: x.flatten(1) ** 2, [r(2, 3, 2)]),
    "concatenate": (lambda a, b: cr.concatenate([a, b, a], axis=1) ** 2, [r(2, 3), r(2, 1)]),
    "stack": (lambda a, b: cr.stack([a, b], axis=1) ** 2, [r(2, 3), r(2, 3)]),
    "split": (lambda x: cr.split(x, [1, 3], axis=1)[1] ** 2, [r(2, 4)]),
    "pad": (lambda x: cr.pad(x, ((1, 0), (2, 1))) ** 2, [r(2, 3)]),
    "flip": (lambda x: cr.flip(x, 1) * x, [r(2, 3)]),
    "getitem_basic": (lambda x: x[1:, ::2, None] ** 2, [r(3, 4)]),
    "getitem_int_repeat": (lambda x: x[np.array([0, 2, 0])] ** 2, [r(3, 2)]),
    "getitem_gather": (lambda x: x[np.arange(3), np.array([1, 0, 1])] ** 2, [r(3, 2)]),
    "getitem_mask": (lambda x: x[np.array([True, False, True])] ** 2, [r(3, 2)]),
    "scatter_add": (lambda x: cr.scatter_add(x, np.array([0, 2, 0]), (4,)) ** 2, [r(3)]),
    "einsum_mm": (lambda a, b: cr.einsum("ij,jk->ik", a, b), [r(2, 3), r(3, 4)]),
    "einsum_batch": (lambda a, b: cr.einsum("...ij,...jk", a, b), [r(2, 2, 3), r(2, 3, 4)]),
    "einsum_outer_sum": (lambda a, b: cr.einsum("ij,k->k", a, b) ** 2, [r(2, 3), r(4)]),
    "cast": (lambda x: cr.cast(x, np.float32).astype(np.float64) ** 2, [r(3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_order(name):
    f, inputs = CASES[name]
    # float32 casts lose precision on purpose; loosen only that case
    tol = dict(eps=1e-2, atol=1e-4) if name == "cast" else {}
    assert cr.gradcheck(f, inputs, **tol)


SECOND_ORDER_SKIP = {"cast"}  # float32 round trip: finite differences are too coarse


@pytest.mark.parametrize("name", sorted(set(CASES) - SECOND_ORDER_SKIP))
def test_second_order(name):
    f, inputs = CASES[name]
    assert cr.gradgradcheck(f, inputs, atol=1e-4)


# name -> the highest derivative order its gradchecks reach, in reverse and forward mode
# and their combinations (gradcheck: first order; gradgradcheck: rev-rev, fwd-rev,
# rev-fwd, fwd-fwd). docs/engine.md's table of every primitive shows it.
COVERAGE = dict.fromkeys({
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "linear", "linear_nobias", "exp",
    "log", "log1p",
    "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
    "asinh", "sigmoid", "relu", "leaky_relu", "elu",
    "softplus", "erf", "abs", "sign", "clip", "maximum", "minimum", "where", "sum", "mean",
    "max", "min", "prod", "logsumexp", "safe_sqrt", "softmax", "log_softmax",
    "softmax_cross_entropy", "reshape", "transpose", "broadcast_to", "sum_to", "flip",
    "pad", "concatenate", "getitem", "scatter_add", "einsum", "alias",
    "conv2d", "conv2d_bias", "unfold", "fold", "max_pool2d",  # tests/nn/test_conv.py
    "lstm_gates", "sigmoid_slope",
    *test_indexing.COVERED,  # tests/autograd/test_indexing.py
    *test_linalg.COVERED,  # tests/autograd/test_linalg.py (chainrule.linalg)
    *test_scans.COVERED,  # tests/autograd/test_scans.py
    *test_rules_elementwise.COVERED,  # tests/autograd/test_rules_elementwise.py
}, 2)
COVERAGE.update({
    **dict.fromkeys(SECOND_ORDER_SKIP, 1),
    "lstm_scan": 1,  # second order through its composite form: tests/nn/test_recurrent.py
    "scaled_dot_product_attention": 2,  # tests/nn/test_attention.py
    "layer_norm_last": 2,  # tests/nn/test_transformer_norm.py
    "gelu": 2,  # the fused GELU: tests/nn/test_gelu.py
    "first_order_only": 0,  # lstm_scan's marker: its rules raise, by design (same tests)
    # straight-through by design (no finite-difference check applies): its vjp and jvp
    # are the identity, tests/quant/test_primitives.py
    "fake_quantize": 1,
})


def test_every_primitive_is_covered():
    differentiable = {n for n, p in ops.PRIMITIVES.items() if p.differentiable}
    assert differentiable == set(COVERAGE)


def test_engine_doc_lists_every_primitive():
    """docs/engine.md holds the current table of every primitive."""
    from pathlib import Path

    from chainrule.autograd.rule_table import markdown
    doc = (Path(__file__).parents[2] / "docs" / "engine.md").read_text()
    assert markdown(COVERAGE) in doc, (
        "docs/engine.md's primitive table is out of date: "
        "run python experiments/primitive_table.py")


def test_fused_lstm_gates_match_their_composite():
    z = r(3, 8)
    fused = lstm_gates(cr.tensor(z)).data
    composite = np.concatenate([cr.sigmoid(z[:, :4]).data, cr.tanh(z[:, 4:6]).data,
                                cr.sigmoid(z[:, 6:]).data], axis=1)
    np.testing.assert_allclose(fused, composite, rtol=1e-14)


def test_alias_and_jvp_of_outer_reverse():
    # reverse over forward: d/dx of (J v) for f(x) = x**3 -> 6 x v
    v = np.array([1.0, 2.0])
    g = cr.grad(lambda x: (cr.jvp(lambda y: y ** 3, (x,), (v,))[1]).sum())
    np.testing.assert_allclose(g(np.array([1.0, 3.0])).data, 6 * np.array([1.0, 3.0]) * v)
