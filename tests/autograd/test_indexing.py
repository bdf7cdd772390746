"""Indexing along an axis, sorting, scatters, masks, triangles: gradchecks (first and
second order, reverse and forward mode), PyTorch oracle comparisons of forward and
backward (float32 and float64), and the errors for bad input."""

import numpy as np
import pytest
from gradchecks import gradcheck_tests  # tests/gradchecks.py

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import ops
from chainrule.errors import ShapeError

rng = np.random.default_rng(7)


def r(*shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def distinct(*shape):
    """Values with no ties (sorting, topk, amax: finite differences need a unique order)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(0, 0.05, n)).reshape(shape)


# primitives registered by this family, checked by the table below (test_rules imports it)
COVERED = {"gather", "scatter_add_axis", "scatter", "tril", "triu"}

IDX = np.array([[0, 2], [1, 1], [2, 0]])
DUP = np.array([[0, 0], [1, 1], [3, 0]])  # targets hit twice, and places never hit

CASES = {
    "gather": (lambda x: ops.gather(x, 1, IDX) ** 2, [r(3, 4)]),
    "gather_dim0_repeat": (lambda x: ops.gather(x, 0, np.array([[0, 0, 2]])) ** 2, [r(3, 3)]),
    "gather_0d": (lambda x: ops.gather(x, 0, np.array(0)) ** 2, [r()]),
    "take_along_axis": (lambda x: ops.take_along_axis(x, np.array([[1], [0]]), 1) ** 2,
                        [r(2, 3)]),
    "sort_numpy": (lambda x: ops.sort(x, 0) ** 2, [distinct(3, 4)]),
    "sort_flat": (lambda x: ops.sort(x, None) ** 2, [distinct(2, 3)]),
    "partition": (lambda x: ops.partition(x, 1) ** 2, [distinct(2, 5)]),
    "tril": (lambda x: ops.tril(x, -1) ** 2, [r(2, 3, 4)]),
    "triu": (lambda x: ops.triu(x, 1) ** 2, [r(4, 3)]),
    "triu_1d": (lambda x: ops.triu(x) ** 2, [r(3)]),
    "scatter": (lambda x, s: F.scatter(x, 1, DUP[:, :1], s) ** 2, [r(3, 4), r(3, 2)]),
    "scatter_value": (lambda x: F.scatter(x, 0, np.array([[1, 0]]), value=0.5) * x,
                      [r(2, 3)]),
    "scatter_add": (lambda x, s: F.scatter_add(x, 1, DUP, s) ** 2, [r(3, 4), r(3, 3)]),
    "scatter_add_method": (lambda x, s: x.scatter_add(0, IDX.T, s) ** 2, [r(3, 3), r(2, 3)]),
    "scatter_reduce_sum": (lambda x, s: F.scatter_reduce(x, 1, DUP, s, "sum") ** 2,
                           [r(3, 4), r(3, 2)]),
    "scatter_reduce_mean_noself": (
        lambda x, s: F.scatter_reduce(x, 1, DUP, s, "mean", include_self=False) ** 2,
        [r(3, 4), r(3, 2)]),
    "scatter_reduce_prod": (lambda x, s: F.scatter_reduce(x, 1, DUP, s, "prod"),
                            [r(3, 4), r(3, 2)]),
    "scatter_reduce_prod_zeros": (  # the padded rows: exact at zeros
        lambda x, s: F.scatter_reduce(x, 1, DUP, s * np.array([[1.0, 0.0]]), "prod"),
        [r(3, 4), r(3, 2)]),
    "scatter_reduce_amax": (lambda x, s: F.scatter_reduce(x, 1, DUP, s, "amax") ** 2,
                            [distinct(3, 4), distinct(3, 2)]),
    "scatter_reduce_amin_noself": (
        lambda x, s: F.scatter_reduce(x, 1, DUP, s, "amin", include_self=False) ** 2,
        [distinct(3, 4), distinct(3, 2)]),
    "index_select": (lambda x: F.index_select(x, 1, np.array([2, 0, 2])) ** 2, [r(2, 3)]),
    "masked_fill": (lambda x: F.masked_fill(x, np.array([True, False, True]), -1.0) * x,
                    [r(2, 3)]),
    "masked_fill_tensor_value": (lambda x, v: F.masked_fill(x, np.array([[True], [False]]), v)
                                 ** 2, [r(2, 3), r()]),
    "masked_select": (lambda x: F.masked_select(x, np.array([True, False, True])) ** 2,
                      [r(2, 3)]),
    "topk": (lambda x: F.topk(x, 2, dim=0)[0] ** 2, [distinct(4, 3)]),
    "topk_smallest": (lambda x: F.topk(x, 2, largest=False)[0] ** 2, [distinct(3, 4)]),
    "sort_torch": (lambda x: F.sort(x, 1, descending=True)[0] ** 2, [distinct(2, 4)]),
    "repeat_interleave": (lambda x: F.repeat_interleave(x, np.array([2, 0, 1]), 1) ** 2,
                          [r(2, 3)]),
    "repeat_interleave_flat": (lambda x: F.repeat_interleave(x, 2) ** 2, [r(2, 2)]),
    "unfold": (lambda x: x.unfold(1, 3, 2) ** 2, [r(2, 7)]),
    "unfold_overlap": (lambda x: x.unfold(0, 2, 1) ** 2, [r(4, 2)]),
}


test_first_order, test_second_order, test_covered_primitives_are_registered = gradcheck_tests(
    CASES, COVERED)


# --------------------------------------------------------------------------- PyTorch oracle


def torch_compare(cr_f, torch_f, inputs, dtype, rtol=None):
    """Forward and backward (random cotangent) of ``cr_f`` and ``torch_f`` agree; the first
    output is compared when an op returns (values, indices), the second exactly."""
    torch = pytest.importorskip("torch")
    rtol = rtol or (1e-5 if dtype == np.float32 else 1e-10)
    arrays = [np.asarray(a, dtype=dtype) for a in inputs]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = cr_f(*xs), torch_f(*ts)
    if isinstance(y, tuple):
        np.testing.assert_array_equal(y[1].data, ty[1].numpy())
        y, ty = y[0], ty[0]
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=rtol)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        expected = np.zeros(x.shape, dtype) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape, dtype) if x.grad is None else x.grad.data
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


def _t(a):
    import torch

    return torch.tensor(a)


ORACLE = {
    "gather": (lambda x: F.gather(x, 1, IDX), lambda x: x.gather(1, _t(IDX)), [r(3, 4)]),
    "gather_0d": (lambda x: F.gather(x, 0, np.array(0)), lambda x: x.gather(0, _t(0)),
                  [r()]),
    "scatter": (lambda x, s: F.scatter(x, 1, IDX, s), lambda x, s: x.scatter(1, _t(IDX), s),
                [r(3, 4), r(3, 2)]),
    "scatter_value": (lambda x: x.scatter(1, IDX, value=2.0),
                      lambda x: x.scatter(1, _t(IDX), 2.0), [r(3, 4)]),
    "scatter_add": (lambda x, s: x.scatter_add(1, DUP, s),
                    lambda x, s: x.scatter_add(1, _t(DUP), s), [r(3, 4), r(3, 2)]),
    "index_select": (lambda x: x.index_select(0, np.array([1, 1, 0])),
                     lambda x: x.index_select(0, _t(np.array([1, 1, 0]))), [r(2, 3)]),
    "index_select_0d": (lambda x: x.index_select(0, np.array([0])),
                        lambda x: x.index_select(0, _t(np.array([0]))), [r()]),
    "masked_fill_bcast": (lambda x: x.masked_fill(np.array([True, False, True]), 1.5),
                          lambda x: x.masked_fill(_t(np.array([True, False, True])), 1.5),
                          [r(2, 3)]),
    "masked_select_bcast": (lambda x: x.masked_select(np.array([[True], [False]])),
                            lambda x: x.masked_select(_t(np.array([[True], [False]]))),
                            [r(3)]),
    "topk": (lambda x: x.topk(2, 1), lambda x: x.topk(2, 1), [distinct(3, 5)]),
    "topk_0d": (lambda x: x.topk(1), lambda x: x.topk(1), [r()]),
    "sort": (lambda x: x.sort(0), lambda x: x.sort(0), [distinct(4, 3)]),
    "sort_desc": (lambda x: x.sort(-1, descending=True),
                  lambda x: x.sort(-1, descending=True), [distinct(2, 5)]),
    "repeat_interleave": (lambda x: x.repeat_interleave(np.array([1, 3]), 0),
                          lambda x: x.repeat_interleave(_t(np.array([1, 3])), 0), [r(2, 3)]),
    "unfold": (lambda x: x.unfold(-1, 2, 2), lambda x: x.unfold(-1, 2, 2), [r(2, 3, 5)]),
    "unfold_0d": (lambda x: x.unfold(0, 1, 1), lambda x: x.unfold(0, 1, 1), [r()]),
    "tril": (lambda x: x.tril(), lambda x: x.tril(), [r(2, 3, 3)]),
    "triu_k": (lambda x: F.triu(x, -1), lambda x: x.triu(-1), [r(4, 3)]),
}
for _red in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        ORACLE[f"scatter_reduce_{_red}_{_inc}"] = (
            lambda x, s, _red=_red, _inc=_inc: x.scatter_reduce(1, DUP, s, _red,
                                                                include_self=_inc),
            lambda x, s, _red=_red, _inc=_inc: x.scatter_reduce(1, _t(DUP), s, _red,
                                                                include_self=_inc),
            [distinct(3, 4), distinct(3, 2)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ORACLE))
def test_matches_torch(name, dtype):
    cr_f, torch_f, inputs = ORACLE[name]
    torch_compare(cr_f, torch_f, inputs, dtype)


def test_scatter_reduce_ties_share_the_gradient_as_torch():
    x, s = np.array([[1.0, 5.0]]), np.array([[5.0, 5.0]])
    torch_compare(lambda a, b: a.scatter_reduce(1, np.array([[1, 1]]), b, "amax"),
                  lambda a, b: a.scatter_reduce(1, _t(np.array([[1, 1]])), b, "amax"),
                  [x, s], np.float64)


def test_scatter_reduce_prod_with_zeros_matches_torch():
    x, s = np.array([[2.0, 0.0, 3.0]]), np.array([[0.0, 4.0, 0.0]])
    idx = np.array([[0, 1, 0]])
    torch_compare(lambda a, b: a.scatter_reduce(1, idx, b, "prod"),
                  lambda a, b: a.scatter_reduce(1, _t(idx), b, "prod"), [x, s], np.float64)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf / inf, as PyTorch
@pytest.mark.parametrize("reduce", ["amax", "amin", "prod", "sum", "mean"])
def test_scatter_reduce_with_infinities_matches_torch(reduce):
    x, s = np.array([[1.0, -np.inf, 2.0]]), np.array([[np.inf, 3.0, -2.0, 0.5]])
    idx = np.array([[0, 0, 1, 2]])
    torch_compare(lambda a, b: a.scatter_reduce(1, idx, b, reduce, include_self=False),
                  lambda a, b: a.scatter_reduce(1, _t(idx), b, reduce, include_self=False),
                  [x, s], np.float64)


def test_non_differentiable_outputs_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    np.testing.assert_array_equal(F.nonzero(x).data, torch.nonzero(_t(x)).numpy())
    for a, b in zip(F.nonzero(x, as_tuple=True), torch.nonzero(_t(x), as_tuple=True)):
        np.testing.assert_array_equal(a.data, b.numpy())
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(labels).data,
                                  torch.nn.functional.one_hot(_t(labels)).numpy())
    np.testing.assert_array_equal(F.one_hot(labels, 6).data,
                                  torch.nn.functional.one_hot(_t(labels), 6).numpy())
    assert F.one_hot(labels).dtype == np.int64
    d = distinct(3, 4)
    np.testing.assert_array_equal(F.argsort(d, 0, descending=True).data,
                                  torch.argsort(_t(d), 0, descending=True).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_sort_partition_tril_match_numpy(dtype):
    x = r(3, 5).astype(dtype)
    np.testing.assert_array_equal(ops.sort(x).data, np.sort(x))
    np.testing.assert_array_equal(ops.sort(x, axis=None).data, np.sort(x, axis=None))
    np.testing.assert_array_equal(ops.argsort(x, 0).data, np.argsort(x, 0, kind="stable"))
    np.testing.assert_array_equal(ops.partition(x, 2).data, np.partition(x, 2))
    np.testing.assert_array_equal(ops.tril(x, 1).data, np.tril(x, 1))
    np.testing.assert_array_equal(ops.triu(x[0]).data, np.triu(x[0]))
    idx = np.array([[1], [0], [-1]])  # NumPy counts negative indices from the end
    np.testing.assert_array_equal(ops.take_along_axis(x, idx, 1).data,
                                  np.take_along_axis(x, idx, 1))
    assert ops.sort(x).dtype == dtype


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.gather(r(3, 4), 1, np.array([[4]])), IndexError, "gather: index value 4"),
    (lambda: F.gather(r(3, 4), 1, np.array([[-1]])), IndexError, "gather: index value -1"),
    (lambda: F.scatter(r(3, 4), 1, np.array([[-1]]), 0.0), IndexError,
     "scatter: index value -1"),
    (lambda: F.gather(r(3, 4), 2, IDX), ShapeError, "gather: dim=2 is out of range"),
    (lambda: F.gather(r(3, 4), 1, IDX.astype(float)), TypeError,
     "gather: index must hold integers"),
    (lambda: F.gather(r(3, 4), 1, np.array([0, 1])), ShapeError,
     "gather: index must have as many dimensions"),
    (lambda: F.gather(r(2, 4), 1, np.zeros((3, 1), int)), ShapeError,
     "gather: index of shape"),
    (lambda: F.scatter(r(3, 4), 1, IDX, r(2, 2)), ShapeError, "scatter: src of shape"),
    (lambda: F.scatter(r(3, 4), 1, IDX), TypeError, "scatter: give exactly one"),
    (lambda: F.scatter_add(r(3, 4), 0, np.array([[3]]), r(1, 1)), IndexError,
     "scatter_add: index value 3"),
    (lambda: F.scatter_reduce(r(3, 4), 1, IDX, r(3, 2), "max"), ValueError,
     "scatter_reduce: reduce must be one of"),
    (lambda: F.index_select(r(3), 0, np.array([3])), IndexError,
     "index_select: index value 3"),
    (lambda: F.index_select(r(3), 0, np.zeros((1, 1), int)), ShapeError,
     "index_select: index must be 0-d or 1-D"),
    (lambda: F.masked_fill(r(3), np.array([1, 0, 1]), 0.0), TypeError,
     "masked_fill: mask must be a bool"),
    (lambda: F.masked_fill(r(3), np.array([True, False]), 0.0), ShapeError,
     "masked_fill: mask of shape"),
    (lambda: F.masked_select(r(3), np.array([True, False])), ShapeError,
     "masked_select: mask of shape"),
    (lambda: F.one_hot(np.array([0.0])), TypeError, "one_hot: input must hold integers"),
    (lambda: F.one_hot(np.array([3]), 3), ValueError, "one_hot: class value 3"),
    (lambda: F.one_hot(np.array([-1])), ValueError, "one_hot: class values must be"),
    (lambda: F.topk(r(3), 4), ValueError, "topk: k=4"),
    (lambda: F.sort(r(3), 1), ShapeError, "sort: dim=1"),
    (lambda: F.repeat_interleave(r(3), np.array([1, 2])), ShapeError,
     "repeat_interleave: repeats must be a number or have 3"),
    (lambda: cr.tensor(r(3)).unfold(0, 4, 1), ValueError, "unfold: size=4"),
    (lambda: cr.tensor(r(3)).unfold(0, 2, 0), ValueError, "unfold: step=0"),
    (lambda: ops.tril(np.float64(1.0)), ShapeError, "tril: input must have at least 1"),
    (lambda: ops.triu(r(2, 2), 0.5), TypeError, "triu: diagonal must be an int"),
    (lambda: ops.partition(r(3), 3), IndexError, "partition: kth=3"),
    (lambda: ops.sort(r(3), 1), ShapeError, "sort: axis=1"),
])
def test_bad_input_names_op_and_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_values_indices_results_are_named_as_torch():
    x = cr.tensor(distinct(3, 4))
    for result in (x.sort(1), x.topk(2), cr.cummax(x, 0), cr.cummin(x, 1)):
        values, indices = result
        assert result.values is values and result.indices is indices
        assert indices.dtype == np.int64 and values.dtype == x.dtype
