"""The elementwise primitives of issues 22 and 23 (NumPy's and PyTorch's names): first and
second order, reverse and forward mode, against central differences; float32 and 0-d.

``COVERED`` lists the primitives gradchecked here; ``test_rules.py``'s completeness check
counts them.
"""

import math

import numpy as np
import pytest
from gradchecks import gradcheck_tests  # tests/gradchecks.py

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import ops

rng = np.random.default_rng(22)


def r(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def pos(*shape, low=0.5, high=2.0):
    return rng.uniform(low, high, size=shape)


def frac(*shape):
    """Away from the integers and half-integers (floor, round, mod's jumps)."""
    return rng.integers(-3, 3, size=shape) + rng.uniform(0.1, 0.4, size=shape)


# name -> (function, inputs). Binary ops broadcast; some cases are 0-d.
CASES = {
    "acosh": (cr.acosh, [pos(2, 3, low=1.2, high=3.0)]),
    "arccosh_0d": (cr.arccosh, [np.array(1.7)]),
    "atanh": (cr.atanh, [r(2, 3, low=-0.8, high=0.8)]),
    "arctanh_0d": (cr.arctanh, [np.array(0.3)]),
    "atan2": (cr.atan2, [r(2, 3), r(3)]),
    "arctan2_0d": (cr.arctan2, [np.array(0.7), r(4)]),
    "hypot": (cr.hypot, [r(3, 1), r(4)]),
    "log2": (cr.log2, [pos(2, 3)]),
    "log10": (cr.log10, [pos(3)]),
    "exp2": (cr.exp2, [r(2, 3)]),
    "exp2_0d": (cr.exp2, [np.array(0.4)]),
    "logaddexp": (cr.logaddexp, [r(2, 3), r(3)]),
    "logaddexp2": (cr.logaddexp2, [r(2, 1), r(1, 3)]),
    "reciprocal": (cr.reciprocal, [pos(2, 3) * np.array([1.0, -1.0, 1.0])]),
    "rsqrt": (cr.rsqrt, [pos(2, 3)]),
    "sinc": (cr.sinc, [r(2, 3)]),
    "deg2rad": (cr.deg2rad, [r(2, 3, low=-90, high=90)]),
    "rad2deg": (cr.rad2deg, [r(3)]),
    "fmax": (cr.fmax, [r(2, 3), r(3)]),
    "fmin": (cr.fmin, [r(3, 1), r(4)]),
    "lerp": (cr.lerp, [r(2, 3), r(3), r(2, 1)]),
    "lerp_scalar_weight": (lambda a, b: cr.lerp(a, b, 0.3), [r(2, 3), r(3)]),
    "nan_to_num": (cr.nan_to_num, [r(2, 3)]),
    "copysign": (lambda a, b: cr.copysign(a, b) * b, [r(2, 3), r(3)]),
    "floor": (lambda x: cr.floor(x) * x, [frac(2, 3)]),
    "ceil": (lambda x: cr.ceil(x) * x, [frac(2, 3)]),
    "round": (lambda x: cr.round(x) * x, [frac(2, 3)]),
    "round_decimals": (lambda x: cr.round(x, 1) * x, [np.array([0.12, -1.37, 2.91])]),
    "trunc": (lambda x: cr.trunc(x) * x, [frac(3)]),
    "floor_divide": (lambda a, b: cr.floor_divide(a, b) * a * b, [frac(2, 3), pos(3) + 0.05]),
    "trunc_divide": (lambda a, b: cr.div(a, b, rounding_mode="trunc") * a * b,
                     [frac(2, 3), pos(3) + 0.05]),
    "mod": (cr.mod, [r(2, 3, low=-5, high=5), np.array([1.3, -1.7, 2.2])]),
    "remainder_operator": (lambda a, b: a % b, [np.array([-3.1, 2.2, 5.7]), np.array(1.3)]),
    "fmod": (cr.fmod, [r(2, 3, low=-5, high=5), np.array([1.3, -1.7, 2.2])]),
    "hardsigmoid": (F.hardsigmoid, [np.array([-4.0, -2.5, -0.3, 0.7, 2.9, 3.5])]),
    "hardswish": (F.hardswish, [np.array([-4.0, -2.5, -0.3, 0.7, 2.9, 3.5])]),
    # composites of existing primitives
    "celu": (lambda x: F.celu(x, alpha=0.7), [np.array([-2.0, -0.3, 0.4, 1.5])]),
    "mish": (F.mish, [r(2, 3)]),
    "softsign": (F.softsign, [np.array([-2.0, -0.3, 0.4, 1.5])]),
    "softmin": (lambda x: F.softmin(x, dim=1), [r(2, 3)]),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), [r(2, 3)]),
    "normalize": (F.normalize, [r(2, 3)]),
    "normalize_p1": (lambda x: F.normalize(x, p=1, dim=0), [r(2, 3)]),
    "normalize_p3": (lambda x: F.normalize(x, p=3.0, dim=-1), [r(2, 3)]),
    "pow_tensor_exponent": (lambda a, b: a ** b, [pos(2, 3), r(3)]),
}

COVERED = {
    "acosh", "atanh", "atan2", "hypot", "log2", "log10", "exp2", "logaddexp", "logaddexp2",
    "reciprocal", "rsqrt", "sinc", "deg2rad", "rad2deg", "fmax", "fmin", "lerp", "nan_to_num",
    "copysign", "floor", "ceil", "round", "trunc", "floor_divide", "trunc_divide", "mod",
    "fmod", "hardsigmoid", "hardswish",
}


test_first_order, test_second_order, test_covered_primitives_are_registered = gradcheck_tests(
    CASES, COVERED)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_over_forward_matches_hvp(name):
    """v' H v by nested jvp (forward over forward) equals it by hvp (forward over reverse)."""
    f, inputs = CASES[name]
    xs = [np.asarray(a, dtype=np.float64) for a in inputs]
    g = np.random.default_rng(1)
    vs = [g.standard_normal(a.shape) for a in xs]
    u = g.standard_normal(f(*[cr.tensor(a) for a in xs]).shape)
    scalar = lambda *a: (f(*a) * u).sum()  # noqa: E731
    ff = cr.jvp(lambda *a: cr.jvp(scalar, a, vs)[1], xs, vs)[1]
    hv = cr.hvp(scalar, xs, vs)
    hv = (hv,) if len(xs) == 1 else hv
    want = sum(float((h.data * v).sum()) for h, v in zip(hv, vs))
    np.testing.assert_allclose(float(ff.data), want, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- float32, 0-d


UNARY32 = [cr.acosh, cr.atanh, cr.log2, cr.log10, cr.exp2, cr.reciprocal, cr.rsqrt, cr.sinc,
           cr.deg2rad, cr.rad2deg, cr.nan_to_num, cr.floor, cr.ceil, cr.round, cr.trunc,
           cr.sinh, cr.cosh, cr.arcsin, cr.arccos, cr.arctan, cr.arcsinh, F.hardswish,
           F.hardsigmoid, F.mish, F.celu, F.softsign]
DOMAIN = {cr.acosh: 1.5, cr.atanh: 0.4, cr.arcsin: 0.4, cr.arccos: 0.4}


@pytest.mark.parametrize("fn", UNARY32, ids=lambda f: getattr(f, "name", None) or f.__name__)
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_unary_float32_keeps_dtype_and_matches_float64(fn, shape):
    x64 = np.full(shape, DOMAIN.get(fn, 0.3)) + (0 if shape == () else r(*shape, low=0, high=0.3))
    out = {}
    for dt in (np.float32, np.float64):
        x = cr.tensor(x64.astype(dt), requires_grad=True)
        y = fn(x)
        y.sum().backward()
        assert y.dtype == dt and y.shape == shape
        grad = np.zeros(shape, dt) if x.grad is None else x.grad.data
        assert grad.dtype == dt
        out[dt] = (y.data, grad)
    for a, b in zip(out[np.float32], out[np.float64]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


BINARY32 = [cr.atan2, cr.hypot, cr.logaddexp, cr.logaddexp2, cr.fmax, cr.fmin, cr.copysign,
            cr.mod, cr.fmod, cr.remainder, cr.floor_divide, cr.arctan2]


@pytest.mark.parametrize("fn", BINARY32, ids=lambda f: f.__name__)
def test_binary_float32_broadcasts_with_scalars_and_0d(fn):
    a = cr.tensor(np.array([[-1.3], [2.6]], np.float32), requires_grad=True)
    b = cr.tensor(np.array(0.7, np.float32), requires_grad=True)
    y = fn(a, b)
    assert y.dtype == np.float32 and y.shape == (2, 1)
    y.sum().backward()
    for t in (a, b):
        assert t.grad is None or (t.grad.dtype == np.float32 and t.grad.shape == t.shape)
    assert fn(a, 0.5).dtype == np.float32  # a Python number takes the tensor's dtype
    assert fn(2.0, a).dtype == np.float32


# --------------------------------------------------------------------------- semantics


def test_numpy_and_pytorch_names_are_the_same_primitives():
    assert cr.arcsin is cr.asin and cr.arccos is cr.acos and cr.arctan is cr.atan
    assert cr.arcsinh is cr.asinh and cr.arccosh is cr.acosh and cr.arctanh is cr.atanh
    assert cr.arctan2 is cr.atan2 and cr.remainder is cr.mod and cr.fix is cr.trunc
    assert cr.radians is cr.deg2rad and cr.degrees is cr.rad2deg
    for name in ("arcsin", "arctan2", "logaddexp", "logaddexp2", "exp2", "fmod", "rsqrt"):
        assert getattr(ops, name) is getattr(cr, name)


def test_values_match_numpy():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0, 3.7])
    y = np.array([1.5, -2.0, 0.7, 3.0, -0.4, 2.0, 1.0, 1.1])
    for name in ("floor", "ceil", "trunc", "sinc", "deg2rad", "rad2deg", "exp2", "isnan",
                 "isinf", "isfinite", "fix", "radians", "degrees"):
        np.testing.assert_array_equal(getattr(cr, name)(x).data, getattr(np, name)(x))
    np.testing.assert_array_equal(cr.round(x).data, np.round(x))  # half to even
    for name in ("mod", "remainder", "fmod", "fmax", "fmin", "hypot", "logaddexp",
                 "logaddexp2", "arctan2", "copysign", "floor_divide"):
        np.testing.assert_allclose(getattr(cr, name)(x, y).data, getattr(np, name)(x, y))
    np.testing.assert_allclose(cr.reciprocal(y).data, 1 / y)
    np.testing.assert_allclose(cr.rsqrt(np.abs(y)).data, 1 / np.sqrt(np.abs(y)))


def test_tensor_methods_and_operators():
    x = cr.tensor(np.array([-3.5, 2.5, 7.0]))
    np.testing.assert_array_equal((x % 2).data, np.array([-3.5, 2.5, 7.0]) % 2)
    np.testing.assert_array_equal((7.0 % x).data, 7.0 % np.array([-3.5, 2.5, 7.0]))
    np.testing.assert_array_equal((x // 2).data, np.array([-2.0, 1.0, 3.0]))
    np.testing.assert_array_equal((10 // x).data, 10 // np.array([-3.5, 2.5, 7.0]))
    np.testing.assert_array_equal(x.div(2, rounding_mode="trunc").data, [-1.0, 1.0, 3.0])
    np.testing.assert_array_equal(x.div(2, rounding_mode="floor").data, [-2.0, 1.0, 3.0])
    np.testing.assert_allclose(x.div(2).data, [-1.75, 1.25, 3.5])
    np.testing.assert_array_equal(x.round().data, [-4.0, 2.0, 7.0])
    np.testing.assert_allclose(x.lerp(1.0, 0.5).data, [-1.25, 1.75, 4.0])
    for name in ("sinh", "cosh", "arcsinh", "asinh", "arctan", "atan", "exp2", "sinc",
                 "floor", "ceil", "trunc", "fix", "deg2rad", "rad2deg", "nan_to_num",
                 "isnan", "isinf", "isfinite"):
        np.testing.assert_allclose(getattr(x, name)().data, getattr(cr, name)(x).data)
    y = cr.tensor(np.array([0.3, 1.2, 2.0]))
    for name in ("rsqrt", "reciprocal", "log2", "log10"):
        np.testing.assert_allclose(getattr(y, name)().data, getattr(cr, name)(y).data)
    for name in ("atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "fmod",
                 "remainder", "copysign", "isclose", "floor_divide"):
        np.testing.assert_allclose(getattr(x, name)(y).data, getattr(cr, name)(x, y).data)


def test_integer_division_modes_match_python():
    a, b = np.array([-7, 7, -7, 7, 6]), np.array([2, 2, -2, -2, 3])
    trunc = cr.div(a, b, rounding_mode="trunc")
    assert trunc.dtype.kind == "i"
    np.testing.assert_array_equal(trunc.data, [int(p / q) for p, q in zip(a, b)])
    np.testing.assert_array_equal(cr.div(a, b, rounding_mode="floor").data, a // b)
    np.testing.assert_array_equal((cr.tensor(a) % cr.tensor(b)).data, a % b)


def test_bad_arguments_name_the_op():
    with pytest.raises(ValueError, match="div: rounding_mode"):
        cr.div(1.0, 2.0, rounding_mode="round")
    with pytest.raises(TypeError, match="round: decimals"):
        cr.round(np.ones(2), 1.5)
    with pytest.raises(ValueError, match="celu: alpha"):
        F.celu(np.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="softplus: beta"):
        F.softplus(np.ones(2), beta=0)
    with pytest.raises(ValueError, match="normalize"):
        F.normalize(np.float64(1.0))
    with pytest.raises(cr.ShapeError, match="hypot"):
        cr.hypot(np.ones(2), np.ones(3))


def test_zero_derivative_ops_give_zero_gradients():
    x = cr.tensor(np.array([-1.5, 0.0, 0.5, 2.0]), requires_grad=True)
    for fn in (cr.floor, cr.ceil, cr.round, cr.trunc, cr.sign,
               lambda t: cr.div(t, 2.0, rounding_mode="floor"),
               lambda t: cr.div(t, 2.0, rounding_mode="trunc")):
        x.grad = None
        (fn(x) + x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, np.ones(4))


def test_sinc_derivatives_at_zero():
    """sinc'(0) = 0, sinc''(0) = -pi^2/3, sinc'''(0) = 0 (sinc is even)."""
    f = cr.sinc
    want = [0.0, -math.pi ** 2 / 3, 0.0]
    for w in want:
        f = cr.grad(f)
        np.testing.assert_allclose(float(f(np.float64(0.0))), w, atol=1e-12)


def test_fmax_fmin_ignore_nan_and_give_ties_to_the_first():
    a = cr.tensor(np.array([np.nan, 1.0, 2.0, np.nan]), requires_grad=True)
    b = cr.tensor(np.array([3.0, np.nan, 2.0, np.nan]), requires_grad=True)
    y = cr.fmax(a, b)
    np.testing.assert_array_equal(y.data, [3.0, 1.0, 2.0, np.nan])
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 0.0, 0.0, 0.0])


def test_nan_to_num_replaces_and_blocks_the_gradient():
    x = cr.tensor(np.array([np.nan, np.inf, -np.inf, 1.5]), requires_grad=True)
    y = cr.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0)
    np.testing.assert_array_equal(y.data, [0.5, 9.0, -9.0, 1.5])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0, 1.0])


def test_predicates_are_not_differentiable():
    x = cr.tensor(np.array([np.nan, np.inf, 1.0]), requires_grad=True)
    for fn in (cr.isnan, cr.isinf, cr.isfinite, lambda t: cr.isclose(t, 1.0)):
        out = fn(x)
        assert out.dtype == bool and not out.requires_grad
    np.testing.assert_array_equal(cr.isclose(np.array([1.0, np.nan]), np.array([1.0, np.nan]),
                                             equal_nan=True).data, [True, True])


@pytest.mark.parametrize("fn", [F.celu, F.mish, F.hardswish, F.hardsigmoid, F.softsign,
                                lambda x: F.softmin(x, dim=-1), F.softplus, F.normalize],
                         ids=["celu", "mish", "hardswish", "hardsigmoid", "softsign", "softmin",
                              "softplus", "normalize"])
def test_activation_modules_match_functions(fn):
    from chainrule import nn

    x = cr.tensor(r(2, 5))
    module = {F.celu: nn.CELU(), F.mish: nn.Mish(), F.hardswish: nn.Hardswish(),
              F.hardsigmoid: nn.Hardsigmoid(), F.softsign: nn.Softsign(),
              F.softplus: nn.Softplus()}.get(fn, nn.Softmin(-1))
    if fn is F.normalize:
        return
    np.testing.assert_allclose(module(x).data, fn(x).data)


def test_activation_module_arguments():
    from chainrule import nn

    x = cr.tensor(r(2, 5))
    np.testing.assert_allclose(nn.CELU(0.5)(x).data, F.celu(x, 0.5).data)
    np.testing.assert_allclose(nn.Softplus(beta=2.0, threshold=1.0)(x).data,
                               F.softplus(x, 2.0, 1.0).data)
    np.testing.assert_allclose(nn.Softmin(0)(x).data, F.softmin(x, dim=0).data)
    np.testing.assert_allclose(nn.Hardswish(inplace=True)(x).data, F.hardswish(x).data)
    np.testing.assert_allclose(F.mish(x, inplace=True).data, F.mish(x).data)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_allclose(F.softmin(x).data, F.softmin(x, dim=1).data)
