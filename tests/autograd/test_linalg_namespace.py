"""The rest of NumPy 2's numpy.linalg in chainrule.linalg (compositions): values against
NumPy, gradchecks to second order in both modes, errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.linalg as la
from chainrule.errors import ShapeError

rng = np.random.default_rng(24)


def r(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def well(*shape):
    return r(*shape) + 2.5 * np.eye(shape[-1])


A3, B53, Y5, B52, C334 = r(2, 3, 3), r(5, 3), r(5), r(5, 2), r(3, 3, 4)
T623, T236, V6 = well(6, 6).reshape(6, 2, 3), r(2, 3, 6) + 0, r(6)
T236[..., :] += 2.5 * np.eye(6).reshape(6, 2, 3).transpose(1, 2, 0)


@pytest.mark.parametrize("name, ours, ref", [
    ("matrix_transpose", lambda: la.matrix_transpose(A3), lambda: np.linalg.matrix_transpose(A3)),
    ("diagonal", lambda: la.diagonal(A3, offset=1), lambda: np.linalg.diagonal(A3, offset=1)),
    ("trace", lambda: la.trace(A3), lambda: np.linalg.trace(A3)),
    ("outer", lambda: la.outer(Y5, Y5), lambda: np.linalg.outer(Y5, Y5)),
    ("cross", lambda: la.cross(A3, A3[::-1]), lambda: np.linalg.cross(A3, A3[::-1])),
    ("vecdot", lambda: la.vecdot(A3, A3), lambda: np.linalg.vecdot(A3, A3)),
    ("matmul", lambda: la.matmul(A3, A3), lambda: np.linalg.matmul(A3, A3)),
    ("multi_dot", lambda: la.multi_dot([Y5, B53, A3[0], A3[1]]),
     lambda: np.linalg.multi_dot([Y5, B53, A3[0], A3[1]])),
    ("matrix_rank", lambda: la.matrix_rank(B53), lambda: np.linalg.matrix_rank(B53)),
    ("cond", lambda: la.cond(A3), lambda: np.linalg.cond(A3)),
    ("cond_-2", lambda: la.cond(A3, -2), lambda: np.linalg.cond(A3, -2)),
    ("cond_1", lambda: la.cond(A3, 1), lambda: np.linalg.cond(A3, 1)),
    ("cond_fro", lambda: la.cond(A3, "fro"), lambda: np.linalg.cond(A3, "fro")),
    ("tensorinv", lambda: la.tensorinv(T623, ind=1), lambda: np.linalg.tensorinv(T623, ind=1)),
    ("tensordot", lambda: la.tensordot(A3, C334, 2), lambda: np.linalg.tensordot(A3, C334)),
    ("tensorsolve", lambda: la.tensorsolve(T623, V6), lambda: np.linalg.tensorsolve(T623, V6)),
    ("tensorsolve_axes", lambda: la.tensorsolve(T236, V6, axes=(0, 1)),
     lambda: np.linalg.tensorsolve(T236, V6, axes=(0, 1))),
])
def test_values_match_numpy(name, ours, ref):
    np.testing.assert_allclose(ours().data, ref(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("a, b", [(B53, Y5), (B53, B52), (B53.T, Y5[:3]), (B53.T, B52[:3])])
def test_lstsq_matches_numpy(a, b):
    for ours, ref in zip(la.lstsq(a, b), np.linalg.lstsq(a, b)):
        np.testing.assert_allclose(ours.data, ref, rtol=1e-10, atol=1e-12)


CASES = {
    "cond": (la.cond, [well(2, 3, 3)]),
    "cond_1": (lambda a: la.cond(a, 1), [well(3, 3)]),
    "lstsq_x": (lambda a, b: la.lstsq(a, b)[0], [r(5, 3), r(5, 2)]),
    "lstsq_residuals": (lambda a, b: la.lstsq(a, b)[1], [r(5, 3), r(5)]),
    "lstsq_wide": (lambda a, b: la.lstsq(a, b)[0], [r(2, 4), r(2)]),
    "multi_dot": (lambda a, b, c: la.multi_dot([a, b, c]), [r(3), r(3, 4), r(4, 2)]),
    "tensorinv": (lambda a: la.tensorinv(a, ind=1), [T623]),
    "tensorsolve": (la.tensorsolve, [T623, V6]),
    "trace_diagonal": (lambda a: la.trace(a, 1) + la.diagonal(a).sum(-1), [r(2, 3, 3)]),
    "vecdot_outer_cross": (lambda a, b: la.vecdot(a, b).sum() * la.outer(a[0], b[1])
                           + la.cross(a, b).sum(), [r(2, 3), r(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients(name):
    f, inputs = CASES[name]
    assert cr.gradcheck(f, inputs)
    assert cr.gradgradcheck(f, inputs, atol=1e-4)


def test_bad_input():
    with pytest.raises(ShapeError, match="matrix_transpose: argument x"):
        la.matrix_transpose(r(3))
    with pytest.raises(ShapeError, match="outer: arguments must be 1-D"):
        la.outer(r(2, 2), r(2))
    with pytest.raises(ShapeError, match="cross: both arguments need size 3"):
        la.cross(r(2), r(2))
    with pytest.raises(ValueError, match="multi_dot"):
        la.multi_dot([r(2, 2)])
    with pytest.raises(ShapeError, match="lstsq"):
        la.lstsq(r(3, 2), r(4))
    with pytest.raises(ShapeError, match="tensorinv"):
        la.tensorinv(r(2, 3), ind=1)
    with pytest.raises(ShapeError, match="tensorsolve"):
        la.tensorsolve(r(6, 2, 3), r(5))
