"""Shape and array building with NumPy's names (``chainrule.autograd.ops.building``) and
einsum's repeated indices and sublist form: values against NumPy in float32 and float64,
first and second derivatives in both modes against finite differences, and forward and
backward against PyTorch where PyTorch has the op.

Each case is written once as ``f(m, *arrays)`` with ``m`` either NumPy or
``chainrule.numpy``: the same line gives NumPy's value and chainrule's differentiable one.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.autograd import ops

rng = np.random.default_rng(7)


def r(*shape):
    return rng.uniform(-2.0, 2.0, size=shape)


# name -> (f(m, *arrays), inputs, torch counterpart f(torch, *tensors) or None)
CASES = {
    "diag_vector": (lambda m, v: m.diag(v, 1), [r(3)], lambda t, v: t.diag(v, 1)),
    "diag_vector_below": (lambda m, v: m.diag(v, -2), [r(2)], lambda t, v: t.diag(v, -2)),
    "diag_matrix": (lambda m, a: m.diag(a, -1), [r(3, 4)], lambda t, a: t.diag(a, -1)),
    "diagonal": (lambda m, a: m.diagonal(a, 1, 2, 0), [r(3, 2, 4)],
                 lambda t, a: t.diagonal(a, 1, 2, 0)),
    "trace": (lambda m, a: m.trace(a), [r(3, 3)], lambda t, a: t.trace(a)),
    "trace_3d": (lambda m, a: m.trace(a, -1, 1, 2), [r(2, 3, 3)], None),
    "repeat_flat": (lambda m, a: m.repeat(a, 2), [r(2, 3)],
                    lambda t, a: t.repeat_interleave(a.reshape(-1), 2)),
    "repeat_axis": (lambda m, a: m.repeat(a, [2, 0, 1], axis=1), [r(2, 3)],
                    lambda t, a: t.repeat_interleave(a, t.tensor([2, 0, 1]), dim=1)),
    "tile": (lambda m, a: m.tile(a, (2, 1, 3)), [r(2, 3)], lambda t, a: t.tile(a, (2, 1, 3))),
    "tile_int": (lambda m, a: m.tile(a, 2), [r(3)], lambda t, a: t.tile(a, (2,))),
    "roll_flat": (lambda m, a: m.roll(a, 4), [r(2, 3)], lambda t, a: t.roll(a, 4)),
    "roll_axes": (lambda m, a: m.roll(a, (1, -1), (0, 2)), [r(2, 3, 4)],
                  lambda t, a: t.roll(a, (1, -1), (0, 2))),
    "moveaxis": (lambda m, a: m.moveaxis(a, [0, 1], [-1, 0]), [r(2, 3, 4)],
                 lambda t, a: t.movedim(a, (0, 1), (-1, 0))),
    "rollaxis": (lambda m, a: m.rollaxis(a, 2, 1), [r(2, 3, 4)], None),
    "swapaxes": (lambda m, a: m.swapaxes(a, 0, -1), [r(2, 3, 4)],
                 lambda t, a: t.swapaxes(a, 0, -1)),
    "vstack": (lambda m, a, b: m.vstack([a, b]), [r(3), r(2, 3)],
               lambda t, a, b: t.vstack([a, b])),
    "row_stack": (lambda m, a, b: m.vstack([a, b]), [r(2, 3), r(1, 3)], None),
    "hstack": (lambda m, a, b: m.hstack([a, b]), [r(2, 3), r(2, 1)],
               lambda t, a, b: t.hstack([a, b])),
    "hstack_1d": (lambda m, a, b: m.hstack([a, b]), [r(3), r(2)],
                  lambda t, a, b: t.hstack([a, b])),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [r(3), r(3)], lambda t, a, b: t.dstack([a, b])),
    "column_stack": (lambda m, a, b: m.column_stack([a, b]), [r(3), r(3, 2)],
                     lambda t, a, b: t.column_stack([a, b])),
    "atleast_1d": (lambda m, a: m.atleast_1d(a), [r()], lambda t, a: t.atleast_1d(a)),
    "atleast_2d": (lambda m, a: m.atleast_2d(a), [r(3)], lambda t, a: t.atleast_2d(a)),
    "atleast_3d_1d": (lambda m, a: m.atleast_3d(a), [r(3)], lambda t, a: t.atleast_3d(a)),
    "atleast_3d_2d": (lambda m, a: m.atleast_3d(a), [r(2, 3)], lambda t, a: t.atleast_3d(a)),
    "array_split": (lambda m, a: m.array_split(a, 3, axis=1), [r(2, 5)],
                    lambda t, a: t.tensor_split(a, 3, dim=1)),
    "vsplit": (lambda m, a: m.vsplit(a, [1]), [r(3, 2)], lambda t, a: t.vsplit(a, [1])),
    "hsplit": (lambda m, a: m.hsplit(a, 2), [r(2, 4)], lambda t, a: t.hsplit(a, 2)),
    "dsplit": (lambda m, a: m.dsplit(a, [1, 2]), [r(2, 1, 3)],
               lambda t, a: t.dsplit(a, [1, 2])),
    "append": (lambda m, a, b: m.append(a, b), [r(2, 2), r(3)], None),
    "append_axis": (lambda m, a, b: m.append(a, b, axis=0), [r(2, 2), r(1, 2)], None),
    "ravel": (lambda m, a: m.ravel(a), [r(2, 3)], lambda t, a: t.ravel(a)),
    "kron": (lambda m, a, b: m.kron(a, b), [r(2, 3), r(2, 2)], lambda t, a, b: t.kron(a, b)),
    "kron_ranks": (lambda m, a, b: m.kron(a, b), [r(3), r(2, 2)], lambda t, a, b: t.kron(a, b)),
    "inner": (lambda m, a, b: m.inner(a, b), [r(2, 3), r(4, 3)], lambda t, a, b: t.inner(a, b)),
    "inner_scalar": (lambda m, a, b: m.inner(a, b), [r(), r(3)], None),
    "outer": (lambda m, a, b: m.outer(a, b), [r(3), r(2, 2)], lambda t, a, b: t.outer(
        a, b.reshape(-1))),
    "cross": (lambda m, a, b: m.cross(a, b), [r(2, 3), r(3)],
              lambda t, a, b: t.linalg.cross(a, b.expand(2, 3))),
    "cross_axes": (lambda m, a, b: m.cross(a, b, axisa=0, axisb=0, axisc=0), [r(3, 2), r(3, 2)],
                   lambda t, a, b: t.linalg.cross(a, b, dim=0)),
    "diff": (lambda m, a: m.diff(a), [r(2, 5)], lambda t, a: t.diff(a)),
    "diff_2_axis0": (lambda m, a: m.diff(a, 2, axis=0), [r(4, 3)],
                     lambda t, a: t.diff(a, 2, dim=0)),
    "diff_prepend_append": (lambda m, a, b: m.diff(a, axis=0, prepend=b, append=1.5),
                            [r(3, 2), r(1, 2)], None),
    "tensordot": (lambda m, a, b: m.tensordot(a, b), [r(2, 3, 4), r(3, 4, 2)],
                  lambda t, a, b: t.tensordot(a, b)),
    "tensordot_axes": (lambda m, a, b: m.tensordot(a, b, ([0, 2], [2, 0])),
                       [r(2, 3, 4), r(4, 5, 2)],
                       lambda t, a, b: t.tensordot(a, b, ([0, 2], [2, 0]))),
    "dot_nd": (lambda m, a, b: m.dot(a, b), [r(2, 3), r(4, 3, 2)], None),
    "dot_mat_vec": (lambda m, a, b: m.dot(a, b), [r(2, 3), r(3)], lambda t, a, b: t.mv(a, b)),
    "dot_scalar": (lambda m, a, b: m.dot(a, b), [r(), r(3)], None),
    "einsum_trace": (lambda m, a: m.einsum("ii->", a), [r(3, 3)],
                     lambda t, a: t.einsum("ii->", a)),
    "einsum_diagonal": (lambda m, a: m.einsum("ii->i", a), [r(3, 3)],
                        lambda t, a: t.einsum("ii->i", a)),
    "einsum_implicit_trace": (lambda m, a: m.einsum("ii", a), [r(3, 3)], None),
    "einsum_batch_diag": (lambda m, a: m.einsum("...jj->...j", a), [r(2, 3, 3)],
                          lambda t, a: t.einsum("...jj->...j", a)),
    "einsum_diag_times": (lambda m, a, b: m.einsum("ii,ij->j", a, b), [r(3, 3), r(3, 2)],
                          lambda t, a, b: t.einsum("ii,ij->j", a, b)),
    "einsum_triple": (lambda m, a: m.einsum("iji->j", a), [r(2, 3, 2)],
                      lambda t, a: t.einsum("iji->j", a)),
    "einsum_sublist": (lambda m, a, b: m.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                       [r(2, 3), r(3, 4)], lambda t, a, b: t.einsum(a, [0, 1], b, [1, 2], [0, 2])),
    "einsum_sublist_implicit": (lambda m, a, b: m.einsum(a, [Ellipsis, 0], b, [0]),
                                [r(2, 3), r(3)], None),
}


def _flat(m, out):
    """A list result (the splits) as one array: parts weighted so that mix-ups show."""
    if isinstance(out, (list, tuple)):
        return m.concatenate([m.ravel(p) * (i + 1) for i, p in enumerate(out)])
    return out


def _call(name, m, *args):
    return _flat(m, CASES[name][0](m, *args))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy(name, dtype):
    f, inputs, _ = CASES[name]
    arrays = [x.astype(dtype) for x in inputs]
    want = f(np, *arrays)
    got = f(cnp, *[cr.tensor(a) for a in arrays])
    if isinstance(want, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(want)
    else:
        want, got = [want], [got]
    for w, g in zip(want, got):
        assert g.shape == np.shape(w)
        # a Python float keeps a float32 tensor float32 (NumPy's np.diff promotes it)
        if name not in {"diff_prepend_append"}:
            assert g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g.data, w, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_order(name):
    assert cr.gradcheck(lambda *xs: _call(name, cnp, *xs), CASES[name][1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order(name):
    def f(*xs):
        y = _call(name, cnp, *xs)
        return y * y
    assert cr.gradgradcheck(f, CASES[name][1], atol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c[2] is not None))
def test_forward_and_backward_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    f, inputs, tf = CASES[name]
    arrays = [x.astype(dtype) for x in inputs]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = _call(name, cnp, *xs)
    ty = _flat(torch, tf(torch, *ts)) if not isinstance(tf(torch, *ts), tuple) else \
        torch.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(tf(torch, *ts))])
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * g).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), **tol)


def test_ops_are_composites_and_reachable_from_the_tensor():
    x = cr.tensor(r(2, 3), requires_grad=True)
    y = x.ravel()
    assert y.shape == (6,) and y._op.name == "reshape"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    assert ops.kron is cr.autograd.ops.building.kron


def test_r_and_c():
    v = r(3)
    for key in [(v, slice(0, 3), 7.0, slice(-1, 1, 5j)), ("1", r(2, 2), r(2, 3)),
                ("0,2", v, v), ("0,2,0", v, v)]:
        np.testing.assert_allclose(cnp.r_[key].data, np.r_[key])
    np.testing.assert_allclose(cnp.c_[v, v].data, np.c_[v, v])
    np.testing.assert_allclose(cnp.c_[slice(0, 3), v].data, np.c_[0:3, v])
    g = cr.grad(lambda x: cnp.sum(cnp.r_[x, 2 * x, 1.0] ** 2))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, 10 * np.array([1.0, 2.0]))
    g = cr.grad(lambda x: cnp.sum(cnp.c_[x, x] * np.array([1.0, 3.0])))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, [4.0, 4.0])


@pytest.mark.parametrize("call, match", [
    (lambda: ops.diag(np.zeros((2, 2, 2))), "diag"),
    (lambda: ops.diagonal(np.zeros(3)), "diagonal"),
    (lambda: ops.repeat(np.zeros(3), -1), "repeat"),
    (lambda: ops.tile(np.zeros(3), (-1,)), "tile"),
    (lambda: ops.roll(np.zeros(3), 1, axis=2), "roll"),
    (lambda: ops.moveaxis(np.zeros((2, 3)), [0], [0, 1]), "moveaxis"),
    (lambda: ops.vstack(np.zeros(3)), "vstack"),
    (lambda: ops.vsplit(np.zeros(3), 3), "vsplit"),
    (lambda: ops.dsplit(np.zeros((2, 2)), 2), "dsplit"),
    (lambda: ops.array_split(np.zeros(3), 0), "array_split"),
    (lambda: ops.cross(np.zeros(2), np.zeros(2)), "cross"),
    (lambda: ops.diff(np.zeros(3), -1), "diff"),
    (lambda: ops.tensordot(np.zeros((2, 3)), np.zeros(3), 2), "tensordot"),
    (lambda: ops.einsum("ii->i", np.zeros((2, 3))), "einsum"),
    (lambda: ops.einsum(np.zeros(2), [0, "a"]), "einsum"),
])
def test_bad_input_names_the_op(call, match):
    with pytest.raises((ValueError, TypeError, cr.ShapeError), match=match):
        call()
