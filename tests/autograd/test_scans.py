"""Scans (cumsum, cumprod, cummax, cummin, logcumsumexp) and creation (arange, linspace,
eye, full, full_like, meshgrid): gradchecks to second order in both modes, PyTorch oracle
comparisons of forward and backward, and the errors for bad input."""

import numpy as np
import pytest
from gradchecks import gradcheck_tests  # tests/gradchecks.py
from test_indexing import distinct, torch_compare

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import ops
from chainrule.errors import ShapeError

rng = np.random.default_rng(11)


def r(*shape):
    return rng.uniform(-2.0, 2.0, size=shape)


COVERED = {"cumsum", "cumprod", "logcumsumexp"}  # cummax/cummin are a gather


def zeros_in(*shape, at=((0, 1),)):
    x = r(*shape)
    for i in at:
        x[i] = 0.0
    return x


CASES = {
    "cumsum": (lambda x: ops.cumsum(x, 1) ** 2, [r(2, 4)]),
    "cumsum_0d": (lambda x: ops.cumsum(x, 0) ** 2, [r()]),
    "cumprod": (lambda x: ops.cumprod(x, 0), [r(4, 2)]),
    "cumprod_one_zero": (lambda x: ops.cumprod(x, 1), [zeros_in(2, 4)]),
    "cumprod_two_zeros": (lambda x: ops.cumprod(x, -1), [zeros_in(2, 4, at=((0, 1), (0, 2)))]),
    "cumprod_3d_middle": (lambda x: ops.cumprod(x, 1), [zeros_in(2, 3, 2, at=((1, 0, 1),))]),
    "logcumsumexp": (lambda x: ops.logcumsumexp(x, 1), [r(2, 4)]),
    "logcumsumexp_3d": (lambda x: ops.logcumsumexp(x, 0) ** 2, [r(3, 2, 2)]),
    "cummax": (lambda x: ops.cummax(x, 1)[0] ** 2, [distinct(2, 5)]),
    "cummin": (lambda x: ops.cummin(x, 0)[0] ** 2, [distinct(4, 2)]),
    "meshgrid_ij": (lambda a, b: F.meshgrid(a, b)[0] * F.meshgrid(a, b)[1], [r(3), r(2)]),
    "meshgrid_xy": (lambda a, b, c: cr.meshgrid(a, b, c, indexing="xy")[0] ** 2
                    * cr.meshgrid(a, b, c, indexing="xy")[2], [r(3), r(2), r(2)]),
}


test_first_order, test_second_order, test_covered_primitives_are_registered = gradcheck_tests(
    CASES, COVERED)


def test_cumprod_gradient_is_exact_with_zeros():
    # y = (x0, x0 x1, x0 x1 x2) at x1 = 0: d sum(y) / d x = (1, x0 + x0 x2, 0)
    x = np.array([2.0, 0.0, 3.0])
    g = cr.grad(lambda a: cr.cumprod(a, 0).sum())(x)
    np.testing.assert_allclose(g.data, [1.0, 2.0 + 6.0, 0.0])


def test_logcumsumexp_is_stable():
    x = np.array([1000.0, 1000.0, -1000.0, 1e4])
    y = cr.logcumsumexp(x, 0)
    np.testing.assert_allclose(y.data, [1000.0, 1000.0 + np.log(2), 1000.0 + np.log(2), 1e4])
    g = cr.grad(lambda a: cr.logcumsumexp(a, 0).sum())(x)
    assert np.isfinite(g.data).all()
    np.testing.assert_allclose(g.data, [2.0, 1.0, 0.0, 1.0])


# --------------------------------------------------------------------------- PyTorch oracle

ORACLE = {
    "cumsum": (lambda x: x.cumsum(1), lambda x: x.cumsum(1), [r(3, 4)]),
    "cumsum_0d": (lambda x: x.cumsum(0), lambda x: x.cumsum(0), [r()]),
    "cumsum_neg": (lambda x: F.cumsum(x, -1), lambda x: x.cumsum(-1), [r(2, 2, 3)]),
    "cumprod": (lambda x: x.cumprod(0), lambda x: x.cumprod(0), [r(4, 3)]),
    "cumprod_zeros": (lambda x: x.cumprod(1), lambda x: x.cumprod(1),
                      [zeros_in(3, 5, at=((0, 1), (1, 2), (1, 3), (2, 4)))]),
    "cumprod_0d": (lambda x: x.cumprod(-1), lambda x: x.cumprod(-1), [r()]),
    "logcumsumexp": (lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), [r(3, 4)]),
    "logcumsumexp_0d": (lambda x: x.logcumsumexp(0), lambda x: x.logcumsumexp(0), [r()]),
    "cummax": (lambda x: x.cummax(1), lambda x: x.cummax(1), [distinct(3, 5)]),
    "cummax_ties": (lambda x: x.cummax(0), lambda x: x.cummax(0),
                    [np.array([[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [0.0, 5.0]])]),
    "cummin": (lambda x: x.cummin(-1), lambda x: x.cummin(-1), [distinct(2, 4)]),
    "cummin_0d": (lambda x: x.cummin(0), lambda x: x.cummin(0), [r()]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ORACLE))
def test_matches_torch(name, dtype):
    cr_f, torch_f, inputs = ORACLE[name]
    torch_compare(cr_f, torch_f, inputs, dtype, rtol=1e-4 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing, dtype):
    torch = pytest.importorskip("torch")
    a, b, c = r(3), r(2), r(4)
    torch_compare(lambda x, y, z: sum((g * (i + 1.0)).sum()
                                      for i, g in enumerate(cr.meshgrid(x, y, z,
                                                                        indexing=indexing))),
                  lambda x, y, z: sum((g * (i + 1.0)).sum()
                                      for i, g in enumerate(torch.meshgrid(x, y, z,
                                                                           indexing=indexing))),
                  [a, b, c], dtype)
    for g, t in zip(cr.meshgrid(a, b, indexing=indexing),
                    torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)):
        np.testing.assert_array_equal(g.data, t.numpy())


def test_creation_matches_torch():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float32)
    pairs = [
        (cr.arange(5), torch.arange(5)),
        (cr.arange(2, 9, 3), torch.arange(2, 9, 3)),
        (cr.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25)),
        (cr.arange(5, 0, -2), torch.arange(5, 0, -2)),
        (cr.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)),
        (cr.linspace(0, 1, 1), torch.linspace(0, 1, 1)),
        (cr.eye(3), torch.eye(3)),
        (cr.eye(2, 4), torch.eye(2, 4)),
        (cr.full((2, 3), 1.5), torch.full((2, 3), 1.5)),
        (cr.full((2,), 7), torch.full((2,), 7)),
        (cr.full((), True), torch.full((), True)),
        (cr.full_like(np.zeros((2, 2), np.float64), 3), torch.full_like(
            torch.zeros(2, 2, dtype=torch.float64), 3)),
        (cr.arange(3, dtype=np.float64), torch.arange(3, dtype=torch.float64)),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.numpy().dtype, (ours, theirs)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
    assert cr.full((2,), 1.0, requires_grad=True).requires_grad
    assert not cr.full_like(cr.tensor([1.0], requires_grad=True), 2.0).requires_grad


@pytest.mark.parametrize("call, error, match", [
    (lambda: cr.cumsum(r(3), 1), ShapeError, "cumsum: dim=1 is out of range"),
    (lambda: cr.cumsum(r(3), None), TypeError, "cumsum: dim must be an int"),
    (lambda: cr.cumprod(r(), 2), ShapeError, "cumprod: dim=2"),
    (lambda: cr.logcumsumexp(np.arange(3), 0), TypeError,
     "logcumsumexp: input must be floating point"),
    (lambda: cr.cummax(r(2, 2), -3), ShapeError, "cummax: dim=-3"),
    (lambda: cr.arange(0, 3, 0), ValueError, "arange: step must be nonzero"),
    (lambda: cr.linspace(0, 1, -1), ValueError, "linspace: steps"),
    (lambda: cr.eye(-1), ValueError, "eye: n must be"),
    (lambda: cr.full((2, -1), 0.0), ValueError, "full: size"),
    (lambda: cr.meshgrid(r(2, 2)), ShapeError, "meshgrid: tensor 0 must be 0-d or 1-D"),
    (lambda: cr.meshgrid(r(2), indexing="yx"), ValueError, "meshgrid: indexing"),
])
def test_bad_input_names_op_and_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dim", [0, 1])
def test_logcumsumexp_first_order_fast_path_with_minus_inf(dim):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 40)) * 5
    x[0, 3] = -np.inf  # PyTorch: NaN in the vjp there (ours too), 0 in the jvp (ours too)
    g, t = rng.standard_normal((2, 3, 40))
    xt = torch.tensor(x, requires_grad=True)
    torch.logcumsumexp(xt, dim).backward(torch.tensor(g))
    c = cr.tensor(x, requires_grad=True)
    cr.logcumsumexp(c, dim).backward(g)
    np.testing.assert_allclose(c.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    ours = cr.jvp(lambda a: cr.logcumsumexp(a, dim), (x,), (t,))[1]
    # not against PyTorch's jvp: it loses digits here (1e-6 to 1e-2 off the exact sum)
    y = np.moveaxis(np.logaddexp.accumulate(x, axis=dim), dim, -1)
    xm, tm = np.moveaxis(x, dim, -1), np.moveaxis(t, dim, -1)
    with np.errstate(invalid="ignore"):
        terms = tm[..., :, None] * np.exp(xm[..., :, None] - y[..., None, :])
    exact = np.nansum(np.where(np.triu(np.ones((y.shape[-1],) * 2, bool)), terms, 0), -2)
    np.testing.assert_allclose(ours.data, np.moveaxis(exact, -1, dim), rtol=1e-12, atol=1e-12)
