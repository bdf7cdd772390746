"""``chainrule.numpy``: NumPy code differentiates unchanged with ``np`` replaced by ``cnp``."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.autograd.check import numeric_gradient

rng = np.random.default_rng(3)


pytestmark = pytest.mark.usefixtures("float64")  # tests/autograd/conftest.py


def finite_difference(f, x, eps=1e-6):
    return numeric_gradient(lambda v: float(np.asarray(f(v))), x, eps)


def logistic_loss(np, w, x, y, l2=0.1):
    """Written for NumPy: nothing here knows about chainrule."""
    z = np.dot(x, w[:-1]) + w[-1]
    p = 1.0 / (1.0 + np.exp(-z))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return nll + l2 * np.sum(np.square(w[:-1])) / 2


def mlp_loss(np, w, x):
    """More NumPy: reshape, tanh, maximum, concatenate, var, stack, where, transpose."""
    w1 = np.reshape(w[:12], (3, 4))
    h = np.tanh(np.matmul(x, w1))
    h = np.maximum(h, 0.1 * h)
    feats = np.concatenate([h, np.abs(h[:, :1]), np.expand_dims(np.sum(h, axis=1), 1)], axis=1)
    out = np.where(feats > 0, feats ** 2, -feats) + np.var(feats, axis=0, ddof=1)
    pair = np.stack([np.mean(out), np.std(out)])
    return np.sqrt(np.sum(np.transpose(out) @ out) + np.dot(pair, pair)) + np.max(w)


def test_logistic_regression_written_for_numpy_differentiates():
    x = rng.standard_normal((20, 3))
    y = (rng.random(20) > 0.5).astype(np.float64)
    w = rng.standard_normal(4)
    # the same function with NumPy gives the same number
    np.testing.assert_allclose(float(logistic_loss(cnp, cr.tensor(w), x, y)),
                               logistic_loss(np, w, x, y), rtol=1e-12)
    g = cr.grad(lambda w: logistic_loss(cnp, w, x, y))(w)
    numeric = finite_difference(lambda w: logistic_loss(np, w, x, y), w)
    np.testing.assert_allclose(g.data, numeric, rtol=1e-6, atol=1e-8)
    # forward mode and second order through the same NumPy code
    v = rng.standard_normal(4)
    _, tangent = cr.jvp(lambda w: logistic_loss(cnp, w, x, y), (w,), (v,))
    np.testing.assert_allclose(float(tangent), g.data @ v, rtol=1e-9)
    h = cr.hessian(lambda w: logistic_loss(cnp, w, x, y))(w)
    numeric_h = np.stack([finite_difference(
        lambda w, i=i: cr.grad(lambda u: logistic_loss(cnp, u, x, y))(w).data[i], w)
        for i in range(4)])
    np.testing.assert_allclose(np.asarray(h.data), numeric_h, rtol=1e-5, atol=1e-6)


def test_more_numpy_code_differentiates():
    x = rng.standard_normal((5, 3))
    w = rng.standard_normal(12)
    np.testing.assert_allclose(float(mlp_loss(cnp, cr.tensor(w), x)), mlp_loss(np, w, x),
                               rtol=1e-12)
    g = cr.grad(lambda w: mlp_loss(cnp, w, x))(w)
    np.testing.assert_allclose(g.data, finite_difference(lambda w: mlp_loss(np, w, x), w),
                               rtol=1e-5, atol=1e-7)
    assert cr.gradgradcheck(lambda w: mlp_loss(cnp, w, x), [w], atol=1e-4)


def test_array_of_a_tensor_keeps_its_derivative():
    g = cr.grad(lambda x: cnp.sum(cnp.array(x) * x))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    g = cr.grad(lambda x: cnp.sum(cnp.array(x, ndmin=2)))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, [1.0, 1.0])


def test_make_diagonal_and_msort():
    d = rng.standard_normal((3, 4))
    a = cnp.make_diagonal(d, axis1=-1, axis2=-2)
    assert a.shape == (3, 4, 4)
    for i in range(3):
        np.testing.assert_array_equal(np.diag(a.data[i]), d[i])
    assert cr.gradcheck(lambda v: cnp.make_diagonal(v, axis1=0, axis2=2), [d])
    if "sort" not in cnp.MISSING:
        np.testing.assert_array_equal(cnp.msort(d).data, np.sort(d, axis=0))


def test_lists_of_tensors_differentiate():
    g = cr.grad(lambda x: cnp.mean(cnp.array([x, 2 * x, [x, x]][:2])))(0.5)
    np.testing.assert_allclose(float(g), 1.5)
    g = cr.grad(lambda x: cnp.sum(cnp.array([[x, 1.0], [3.0, x * x]])))(2.0)
    np.testing.assert_allclose(float(g), 5.0)
    g = cr.grad(lambda x: cnp.sum([x, x]))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, [2.0, 2.0])
    g = cr.grad(lambda x: cnp.max(cnp.vstack([[x, x], [x, 0.0]])))(1.0)
    np.testing.assert_allclose(float(g), 1.0)


def test_creation_and_constants():
    assert cnp.pi == np.pi and cnp.e == np.e and np.isinf(cnp.inf) and np.isnan(cnp.nan)
    assert cnp.newaxis is None and cnp.float32 is np.float32 and cnp.random is np.random
    for got, want in [
        (cnp.zeros((2, 3)), np.zeros((2, 3))), (cnp.ones(3), np.ones(3)),
        (cnp.empty(2), np.zeros(2)), (cnp.full((2,), 7.0), np.full((2,), 7.0)),
        (cnp.eye(3, 4, 1), np.eye(3, 4, 1)), (cnp.identity(2), np.identity(2)),
        (cnp.arange(5), np.arange(5)), (cnp.arange(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25)),
        (cnp.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (cnp.logspace(0, 2, 3), np.logspace(0, 2, 3)),
        (cnp.zeros_like(np.ones((2, 2))), np.zeros((2, 2))),
        (cnp.ones_like(cr.tensor([1, 2])), np.ones(2, dtype=int)),
        (cnp.full_like(np.ones(2), 3.0), np.full(2, 3.0)),
        (cnp.array([[1, 2], [3, 4]], dtype=np.float64), np.array([[1.0, 2], [3, 4]])),
        (cnp.asarray(np.arange(3.0)), np.arange(3.0)),
    ]:
        assert isinstance(got, cr.Tensor)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got.data, want)
    assert cnp.shape(cr.tensor(np.ones((2, 3)))) == (2, 3) and cnp.ndim(np.ones(3)) == 1
    assert cnp.size(cr.tensor(np.ones((2, 3)))) == 6
    x = cr.tensor(1.0)
    assert cnp.asarray(x) is x
    float32 = cnp.zeros(3, dtype=np.float32)
    assert float32.dtype == np.float32


def test_linspace_differentiates_in_its_ends():
    f = lambda a, b: cnp.sum(cnp.linspace(a, b, 5) ** 2)  # noqa: E731
    assert cr.gradcheck(f, [np.array(0.3), np.array(1.7)])
    np.testing.assert_allclose(cnp.linspace(cr.tensor(0.0), cr.tensor(1.0), 5).data,
                               np.linspace(0.0, 1.0, 5))


def _reductions(m, a):
    return m.concatenate([m.ravel(v) for v in [
        m.sum(a, axis=0), m.mean(a, axis=1, keepdims=True), m.var(a), m.std(a, axis=0, ddof=1),
        m.amax(a, axis=1), m.min(a), m.prod(a, axis=0), m.average(a, axis=1, weights=[1, 2, 3]),
        m.average(a), m.ptp(a, axis=0), m.atleast_1d(m.median(a)), m.median(a, axis=1),
        m.ravel(m.median(a, axis=0, keepdims=True)), m.ravel(m.nanvar(a, axis=1, ddof=1)),
        m.ravel(m.nanstd(a, axis=0, keepdims=True))]])


def _shapes(m, a):
    b = m.expand_dims(a, (0, 3))
    return m.concatenate([
        m.ravel(m.reshape(a, (3, 2))), m.ravel(m.transpose(b, (3, 1, 2, 0))),
        m.ravel(m.squeeze(b)), m.ravel(m.flip(a, 1)), m.ravel(m.fliplr(a)),
        m.ravel(m.flipud(a)), m.ravel(m.pad(a, ((1, 0), (0, 2)), constant_values=0.5)),
        m.ravel(m.broadcast_to(a[:, :1], (2, 4))), m.ravel(m.tril(m.outer(a, a), -1)),
        m.ravel(m.triu(a, 1)), m.take(a, [0, 4, 4]), m.ravel(m.take(a, [2, 0], axis=1)),
        m.concatenate([a, a], axis=None), m.ravel(m.stack([a, a], axis=2)),
        m.ravel(m.split(a, 3, axis=1)[1]), m.ravel(m.swapaxes(a, 0, 1)),
        m.ravel(m.broadcast_arrays(a, a[:1])[1]), m.atleast_1d(m.vdot(a, a)),
        m.ravel(m.clip(a, -0.5, 0.5)), m.ravel(m.where(a > 0, a, m.square(a))),
        m.ravel(m.power(m.abs(a) + 1, 1.5)), m.ravel(m.negative(m.absolute(a))),
        m.ravel(m.subtract(m.multiply(a, 2), m.divide(a, 3))), m.ravel(m.positive(a)),
        m.ravel(m.rot90(a)), m.ravel(m.rot90(a, -1)), m.ravel(m.rot90(a, 2))])


@pytest.mark.parametrize("fn, shape", [(_reductions, (2, 3)), (_shapes, (2, 3))])
def test_numpy_functions_match_numpy_and_differentiate(fn, shape):
    a = rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
    np.testing.assert_allclose(fn(cnp, cr.tensor(a)).data, fn(np, a), rtol=1e-12)
    assert cr.gradcheck(lambda x: fn(cnp, x), [a])
    assert cr.gradgradcheck(lambda x: fn(cnp, x) ** 2, [a], atol=1e-4)


def test_elementwise_names():
    a = rng.uniform(0.2, 0.9, size=(2, 3))
    for name in ["exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "sinh", "cosh",
                 "tanh", "sign", "cbrt", "arcsin", "arccos", "arctan", "arcsinh", "arctanh",
                 "log2", "log10", "exp2", "reciprocal", "sinc", "deg2rad", "rad2deg", "floor",
                 "ceil", "round", "around", "rint", "trunc", "fix", "nan_to_num"]:
        if name in cnp.MISSING:  # added to chainrule.autograd.ops by other work
            continue
        np.testing.assert_allclose(getattr(cnp, name)(a).data, getattr(np, name)(a),
                                   rtol=1e-12, err_msg=name)
    for name in ["equal", "less", "greater_equal", "maximum", "minimum", "add", "arctan2",
                 "hypot", "logaddexp", "logaddexp2", "mod", "remainder", "fmod", "fmax",
                 "fmin", "heaviside", "copysign"]:
        if name in cnp.MISSING:
            continue
        np.testing.assert_allclose(getattr(cnp, name)(a, 0.5).data,
                                   getattr(np, name)(a, 0.5), rtol=1e-12, err_msg=name)
    for name in ["isfinite", "isnan", "logical_not"]:
        np.testing.assert_array_equal(getattr(cnp, name)(a).data, getattr(np, name)(a))
    assert bool(cnp.all(cnp.isfinite(a)).data) and cnp.allclose(a, a)
    assert not {"exp", "sinh", "sign", "maximum", "cbrt", "heaviside"} & set(cnp.MISSING)


def test_nan_reductions_select_and_real_parts():
    x = np.array([1.5, np.nan, -3.0, 0.0])
    for name in ["nansum", "nanmean"]:
        np.testing.assert_allclose(getattr(cnp, name)(x).data, getattr(np, name)(x))
        g = cr.grad(lambda v, name=name: getattr(cnp, name)(v))(x)
        np.testing.assert_allclose(g.data, [1, 0, 1, 1] if name == "nansum" else
                                   [1 / 3, 0, 1 / 3, 1 / 3])
    y = np.nan_to_num(x)
    np.testing.assert_allclose(cnp.select([y > 0, y < 0], [y, 2 * y], 5.0).data,
                               np.select([y > 0, y < 0], [y, 2 * y], 5.0))
    np.testing.assert_allclose(cnp.heaviside(x, 0.5).data, np.heaviside(x, 0.5))
    assert cr.gradcheck(lambda v: cnp.select([v > 0], [v * v], -v), [np.array([0.5, -1.0])])
    assert cr.gradcheck(lambda v: cnp.real(v) * cnp.conj(v) + cnp.imag(v), [y])
    np.testing.assert_allclose(cnp.angle(y).data, np.angle(y))
    np.testing.assert_allclose(cnp.nanvar(x, ddof=1).data, np.nanvar(x, ddof=1))
    np.testing.assert_allclose(cnp.nanstd(x).data, np.nanstd(x))
    assert cr.gradgradcheck(lambda v: cnp.cbrt(v) ** 2, [np.array([0.7, -2.0])], atol=1e-4)


def test_cumsum_flattens_without_an_axis():
    if not hasattr(cnp, "cumsum"):
        pytest.skip("cumsum is not in chainrule.autograd.ops yet")
    a = rng.standard_normal((2, 3))
    np.testing.assert_allclose(cnp.cumsum(a).data, np.cumsum(a))
    np.testing.assert_allclose(cnp.cumprod(a, axis=1).data, np.cumprod(a, axis=1))


def test_linalg_is_chainrule_linalg():
    linalg = pytest.importorskip("chainrule.linalg")
    assert cnp.linalg is linalg


def test_the_real_numpy_inside():
    import chainrule.numpy._functions as functions

    assert cnp.np is np and functions.np is np
    assert cnp.ndarray is np.ndarray


def test_unsupported_arguments_say_so():
    with pytest.raises(NotImplementedError, match="sum: the argument out="):
        cnp.sum(np.ones(2), out=np.ones(()))
    with pytest.raises(NotImplementedError, match="pad"):
        cnp.pad(np.ones(2), 1, mode="edge")
    with pytest.raises(NotImplementedError, match="reshape"):
        cnp.reshape(np.ones(4), (2, 2), order="F")


def test_squeeze_keeps_numpys_error_for_an_axis_of_size_other_than_one():
    import chainrule.numpy as cnp

    with pytest.raises(ValueError, match="squeeze"):
        cnp.squeeze(cnp.zeros((2, 3)), axis=0)
    assert cnp.squeeze(cnp.zeros((1, 3)), axis=0).shape == (3,)
