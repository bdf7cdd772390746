"""PyTorch as the oracle for the elementwise ops and activations of issues 22 and 23:
forward, backward, second order (reverse over reverse and forward over reverse) and
forward mode in float64 (``check_against_torch``), forward and backward in float32, 0-d
and broadcasting shapes; and the edge semantics (pow at a <= 0, zero-derivative ops).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from test_torch_oracle import check_against_torch  # noqa: E402  (tests/autograd, on sys.path)

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def _draw(rng, shape, domain):
    lo, hi = {"real": (-2.0, 2.0), "pos": (0.5, 2.0), "unit": (-0.8, 0.8), "gt1": (1.2, 3.0),
              "frac": (-3.0, 3.0)}[domain]
    x = rng.uniform(lo, hi, shape)
    if domain == "frac":  # away from the jumps of floor/round/mod
        x = np.floor(x) + rng.uniform(0.1, 0.4, shape)
    return x


# id -> (chainrule fn, torch fn, shapes, domains)
UNARY = {
    "sinh": (cr.sinh, torch.sinh, "real"), "cosh": (cr.cosh, torch.cosh, "real"),
    "asin": (cr.asin, torch.asin, "unit"), "arcsin": (cr.arcsin, torch.arcsin, "unit"),
    "acos": (cr.acos, torch.acos, "unit"), "arccos": (cr.arccos, torch.arccos, "unit"),
    "atan": (cr.atan, torch.atan, "real"), "arctan": (cr.arctan, torch.arctan, "real"),
    "asinh": (cr.asinh, torch.asinh, "real"), "acosh": (cr.acosh, torch.acosh, "gt1"),
    "arccosh": (cr.arccosh, torch.arccosh, "gt1"), "atanh": (cr.atanh, torch.atanh, "unit"),
    "arctanh": (cr.arctanh, torch.arctanh, "unit"), "log2": (cr.log2, torch.log2, "pos"),
    "log10": (cr.log10, torch.log10, "pos"), "exp2": (cr.exp2, torch.exp2, "real"),
    "reciprocal": (cr.reciprocal, torch.reciprocal, "pos"),
    "rsqrt": (cr.rsqrt, torch.rsqrt, "pos"), "sinc": (cr.sinc, torch.sinc, "real"),
    "deg2rad": (cr.deg2rad, torch.deg2rad, "real"), "rad2deg": (cr.rad2deg, torch.rad2deg, "real"),
    "nan_to_num": (cr.nan_to_num, torch.nan_to_num, "real"),
    "floor": (cr.floor, torch.floor, "frac"), "ceil": (cr.ceil, torch.ceil, "frac"),
    "round": (cr.round, torch.round, "frac"), "trunc": (cr.trunc, torch.trunc, "frac"),
    "fix": (cr.fix, torch.fix, "frac"), "sign": (cr.sign, torch.sign, "frac"),
    "round_decimals": (lambda x: cr.round(x, 1), lambda x: torch.round(x, decimals=1), "frac"),
    "celu": (F.celu, TF.celu, "real"), "celu_alpha": (lambda x: F.celu(x, 0.6),
                                                      lambda x: TF.celu(x, 0.6), "real"),
    "mish": (F.mish, TF.mish, "real"), "hardswish": (F.hardswish, TF.hardswish, "frac"),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, "frac"),
    "softsign": (F.softsign, TF.softsign, "real"),
    "softplus": (F.softplus, TF.softplus, "real"),
    "softplus_beta": (lambda x: F.softplus(x, beta=3.0, threshold=2.0),
                      lambda x: TF.softplus(x, beta=3.0, threshold=2.0), "real"),
    "gelu": (F.gelu, TF.gelu, "real"),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh"), "real"),
}
BINARY = {
    "atan2": (cr.atan2, torch.atan2, ("real", "real")),
    "arctan2": (cr.arctan2, torch.arctan2, ("real", "real")),
    "hypot": (cr.hypot, torch.hypot, ("real", "real")),
    "logaddexp": (cr.logaddexp, torch.logaddexp, ("real", "real")),
    "logaddexp2": (cr.logaddexp2, torch.logaddexp2, ("real", "real")),
    "fmax": (cr.fmax, torch.fmax, ("real", "real")),
    "fmin": (cr.fmin, torch.fmin, ("real", "real")),
    "copysign": (cr.copysign, torch.copysign, ("real", "real")),
    "remainder": (cr.remainder, torch.remainder, ("frac", "pos")),
    "mod_operator": (lambda a, b: a % b, lambda a, b: a % b, ("frac", "pos")),
    "fmod": (cr.fmod, torch.fmod, ("frac", "pos")),
    "div_trunc": (lambda a, b: cr.div(a, b, rounding_mode="trunc"),
                  lambda a, b: torch.div(a, b, rounding_mode="trunc"), ("frac", "pos")),
    "div_floor": (lambda a, b: cr.div(a, b, rounding_mode="floor"),
                  lambda a, b: torch.div(a, b, rounding_mode="floor"), ("frac", "pos")),
    "pow": (cr.pow, torch.pow, ("pos", "real")),
}
ROW_OPS = {  # ops along an axis
    "softmin": (lambda x: F.softmin(x, dim=-1), lambda x: TF.softmin(x, dim=-1)),
    "normalize": (F.normalize, TF.normalize),
    "normalize_p1_dim0": (lambda x: F.normalize(x, p=1, dim=0),
                          lambda x: TF.normalize(x, p=1, dim=0)),
    "normalize_p3": (lambda x: F.normalize(x, p=3.0, dim=-1),
                     lambda x: TF.normalize(x, p=3.0, dim=-1)),
    "normalize_inf": (lambda x: F.normalize(x, p=float("inf")),
                      lambda x: TF.normalize(x, p=float("inf"))),
}
TORCH_FIRST_ORDER_ONLY = {"hardsigmoid"}  # torch: "derivative for hardsigmoid_backward is not
# implemented"; chainrule's second derivative (0) is gradchecked in test_rules_elementwise.py
UNARY_SHAPES = [(), (3, 4)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((3, 1, 4), (2, 4)), ((), (2, 3)), ((4, 1), ())]


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode()))


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, shape):
    cr_fn, t_fn, dom = UNARY[name]
    x = _draw(_rng(name + str(shape)), shape, dom)
    if name in TORCH_FIRST_ORDER_ONLY:
        _first_order(cr_fn, t_fn, [x], np.float64)
    else:
        check_against_torch(cr_fn, t_fn, [x])


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, shapes):
    cr_fn, t_fn, doms = BINARY[name]
    rng = _rng(name + str(shapes))
    check_against_torch(cr_fn, t_fn, [_draw(rng, s, d) for s, d in zip(shapes, doms)])


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((3, 1), (4,), ()),
                                    ((), (), ())], ids=str)
def test_lerp_matches_torch(shapes):
    rng = _rng("lerp" + str(shapes))
    arrays = [rng.standard_normal(s) for s in shapes]
    check_against_torch(cr.lerp, torch.lerp, arrays)
    check_against_torch(lambda a, b: cr.lerp(a, b, 0.7), lambda a, b: torch.lerp(a, b, 0.7),
                        arrays[:2])


@pytest.mark.parametrize("name", sorted(ROW_OPS))
def test_row_ops_match_torch(name):
    cr_fn, t_fn = ROW_OPS[name]
    check_against_torch(cr_fn, t_fn, [_rng(name).standard_normal((3, 4))])


# --------------------------------------------------------------------------- float32


def _first_order(cr_fn, t_fn, arrays, dtype=np.float32):
    """Forward and backward against torch in ``dtype`` (float32 tolerances either way)."""
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y, yt = cr_fn(*xs), t_fn(*ts)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = _rng("g").standard_normal(y.shape).astype(dtype)
    y.backward(gradient=g)
    yt.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        want = np.zeros(x.shape, dtype) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape, dtype) if x.grad is None else x.grad.data
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_matches_torch(name):
    cr_fn, t_fn, dom = UNARY[name]
    _first_order(cr_fn, t_fn, [_draw(_rng(name), (3, 4), dom)])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_matches_torch(name):
    cr_fn, t_fn, doms = BINARY[name]
    rng = _rng(name)
    _first_order(cr_fn, t_fn, [_draw(rng, s, d) for s, d in zip(((3, 1), (4,)), doms)])


# --------------------------------------------------------------------------- edge semantics


def _grads(cr_fn, t_fn, *arrays):
    xs = [cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        cr_fn(*xs).sum().backward()
    t_fn(*ts).sum().backward()
    return [x.grad.data for x in xs], [t.grad.numpy() for t in ts]


A = np.array([0.0, 0.0, 0.0, 0.0, -0.0, -2.0, -2.0, 2.0, 0.0, -1.5])
B = np.array([-0.3, 0.0, 1.5, -1.0, -1.0, 2.0, 0.5, -0.3, 2.0, 3.0])


def test_pow_exponent_gradient_at_nonpositive_base_matches_torch():
    """d(a**b)/db: 0 ** -0.3 -> -inf, 0 ** (b >= 0) -> 0, negative base -> NaN, as PyTorch."""
    (ca, cb), (ta, tb) = _grads(cr.pow, torch.pow, A, B)
    np.testing.assert_array_equal(cb, tb)
    np.testing.assert_array_equal(ca, ta)
    assert cb[0] == -np.inf and cb[2] == 0 and np.isnan(cb[5])


def test_pow_exponent_jvp_at_nonpositive_base_matches_torch():
    with np.errstate(all="ignore"):
        _, tan = cr.jvp(lambda b: cr.pow(cr.tensor(A), b), (B,), (np.ones_like(B),))
    _, t_tan = torch.func.jvp(lambda b: torch.pow(torch.tensor(A), b), (torch.tensor(B),),
                              (torch.ones(len(B), dtype=torch.float64),))
    np.testing.assert_array_equal(tan.data, t_tan.numpy())


def test_pow_exponent_zero_cotangent_gives_zero_not_nan():
    """Where d/db is infinite or NaN, a zero cotangent contributes 0 (never inf * 0)."""
    b = cr.tensor(B, requires_grad=True)
    with np.errstate(all="ignore"):
        y = cr.pow(cr.tensor(A), b)
    y.backward(gradient=np.zeros_like(B))
    np.testing.assert_array_equal(b.grad.data, np.zeros_like(B))


def test_pow_exponent_second_order_is_finite_where_the_first_is():
    """The second derivative in b at a > 0 is a^b log(a)^2; the edge entries are constants."""
    a = np.array([0.0, 2.0, -1.0, 0.5])
    f = lambda b: cr.pow(cr.tensor(a), b).sum()  # noqa: E731
    with np.errstate(all="ignore"):
        h = cr.grad(lambda b: cr.grad(f)(b).sum())(np.array([1.5, 1.5, 2.0, 1.5]))
    np.testing.assert_allclose(h.data[[1, 3]], a[[1, 3]] ** 1.5 * np.log(a[[1, 3]]) ** 2)
    assert h.data[0] == 0


def test_floor_divide_operator_matches_torch_forward_and_has_zero_gradient():
    """``a // b`` is floor division in both; PyTorch has no derivative for it (backward
    raises), chainrule gives 0, as for ``div(rounding_mode="floor")``, which PyTorch
    differentiates as 0."""
    a, b = np.array([-3.5, 2.5, 7.0]), np.array([2.0, -1.5, 0.7])
    np.testing.assert_array_equal((cr.tensor(a) // b).data, (torch.tensor(a) // b).numpy())
    (c, _), (t, _) = _grads(lambda p, q: p // q + p, lambda p, q: torch.div(
        p, q, rounding_mode="floor") + p, a, b)
    np.testing.assert_array_equal(c, t)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign"])
def test_zero_derivative_ops_give_zero_gradients_like_torch(name):
    x = np.array([-1.5, -0.5, 0.0, 0.5, 2.0, 2.5])
    (c,), (t,) = _grads(lambda v: getattr(cr, name)(v) + 0 * v,
                        lambda v: getattr(torch, name)(v) + 0 * v, x)
    np.testing.assert_array_equal(c, t)
    np.testing.assert_array_equal(c, np.zeros_like(x))


@pytest.mark.parametrize("fn,tfn,x", [
    (F.hardswish, TF.hardswish, [-3.0, 3.0, -4.0, 4.0]),
    (F.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0, -4.0, 4.0]),
    (cr.sinc, torch.sinc, [0.0, 1.0]),
    (cr.fmax, None, None), (F.softplus, TF.softplus, [19.9, 20.0, 20.1, -30.0]),
    (cr.nan_to_num, torch.nan_to_num, [np.nan, np.inf, -np.inf, 1.0]),
    (cr.copysign, None, None),
], ids=["hardswish", "hardsigmoid", "sinc", "fmax", "softplus", "nan_to_num", "copysign"])
def test_kinks_and_edges_match_torch(fn, tfn, x):
    if fn is cr.fmax:  # NaN and ties
        args = ([np.nan, 1.0, 2.0, np.nan], [3.0, np.nan, 2.0, np.nan])
        cg, tg = _grads(cr.fmax, torch.fmax, *args)
        for c, t in zip(cg, tg):
            np.testing.assert_array_equal(c, t)
        cg, tg = _grads(cr.fmin, torch.fmin, *args)
    elif fn is cr.copysign:
        cg, tg = _grads(cr.copysign, torch.copysign, [0.0, -0.0, 1.0, -2.0],
                        [-1.0, 1.0, -0.0, 3.0])
    else:
        cg, tg = _grads(fn, tfn, x)
    for c, t in zip(cg, tg):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=0)
