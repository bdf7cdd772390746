"""Edge semantics shared with PyTorch (issue 23): reducing a 0-d tensor over axis 0 or -1,
``squeeze`` of an axis whose size is not 1, ``var``/``std`` with ``correction >= N``; and
the one indexing case where chainrule keeps NumPy's rule (docs/engine.md)."""

import warnings

import numpy as np
import pytest
from test_indexing import torch_compare

import chainrule as cr
from chainrule.errors import ShapeError

REDUCERS = {  # name -> (chainrule, torch) taking (x, axis, keepdims)
    "sum": (cr.sum, lambda x, a, k: x.sum(a, keepdim=k)),
    "mean": (cr.mean, lambda x, a, k: x.mean(a, keepdim=k)),
    "prod": (cr.prod, lambda x, a, k: x.prod(a, keepdim=k)),
    "logsumexp": (cr.logsumexp, lambda x, a, k: x.logsumexp(a, keepdim=k)),
    "max": (cr.max, lambda x, a, k: x.amax(a, keepdim=k)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_reducing_0d_over_axis_0_or_minus_1(name, axis, keepdims, dtype):
    ours, theirs = REDUCERS[name]
    torch_axis = axis if name not in ("prod",) or isinstance(axis, int) else axis[0]
    torch_compare(lambda x: ours(x, axis, keepdims), lambda x: theirs(x, torch_axis, keepdims),
                  [np.array(1.3)], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_of_0d(axis, dtype):
    torch = pytest.importorskip("torch")
    torch_compare(lambda x: cr.softmax(x, axis) * 3.0 + cr.log_softmax(x, axis),
                  lambda x: torch.softmax(x, axis) * 3.0 + torch.log_softmax(x, axis),
                  [np.array(0.7)], dtype)
    assert cr.gradgradcheck(lambda x: cr.log_softmax(x, axis) + cr.softmax(x, axis) * x,
                            [np.array(0.7)])


def test_0d_reductions_reject_other_axes():
    with pytest.raises(ShapeError, match="axis 1 is out of range for a 0-d tensor"):
        cr.sum(cr.tensor(1.0), 1)
    with pytest.raises(ShapeError, match="softmax: axis 1 is out of range for a 0-d"):
        cr.softmax(cr.tensor(1.0), 1)


def test_var_std_of_0d_over_axis_0_warn_and_give_nan_as_torch():
    torch = pytest.importorskip("torch")
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        v = cr.var(cr.tensor(2.0), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.tensor(2.0).var(0)
    assert np.isnan(v.item()) and np.isnan(expected.item())


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("correction", [2, 3])
def test_var_std_with_correction_at_least_n_match_torch(op, correction):
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2.0], [3.0, 3.0]])
    with pytest.warns(RuntimeWarning, match="var: degrees of freedom"):
        ours = getattr(cr, op)(cr.tensor(x), 1, correction=correction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.tensor(x), op)(1, correction=correction)
    np.testing.assert_array_equal(ours.data, theirs.numpy())  # inf, and NaN for 0 / 0


def test_squeeze_of_an_axis_not_of_size_1_is_a_no_op():
    torch = pytest.importorskip("torch")
    x = np.zeros((2, 1, 3, 1))
    t = torch.tensor(x)
    for axis in (0, 1, -1, 2, (0, 1), (0, 2), (1, 3)):
        assert cr.squeeze(x, axis).shape == tuple(t.squeeze(axis).shape), axis
        assert cr.tensor(x).squeeze(axis).shape == tuple(t.squeeze(axis).shape), axis
    assert cr.squeeze(cr.tensor(1.0), 0).shape == ()
    assert cr.gradcheck(lambda a: cr.squeeze(a, 0) ** 2, [np.ones((2, 3))])


def test_mixed_advanced_index_keeps_numpys_rule():
    # The one difference from PyTorch (docs/engine.md): an integer and an index array
    # separated by a slice. NumPy (and chainrule) put the broadcast index dimensions
    # first, PyTorch leaves them where the array was.
    torch = pytest.importorskip("torch")
    x = np.arange(24.0).reshape(2, 3, 4)
    key = (0, slice(None), [0, 1])
    assert cr.tensor(x)[key].shape == x[key].shape == (2, 3)
    assert tuple(torch.tensor(x)[key].shape) == (3, 2)
    np.testing.assert_array_equal(cr.tensor(x)[key].data, torch.tensor(x)[key].numpy().T)
    for same in [(slice(None), [0, 1], 0), ([0, 1], slice(None), [1, 2]), (0, [0, 2])]:
        assert cr.tensor(x)[same].shape == tuple(torch.tensor(x)[same].shape)
