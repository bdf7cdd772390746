"""Pooling options (ceil_mode, dilation, return_indices + max_unpool, count_include_pad,
divisor_override), adaptive pooling, the 1-D forms and the layers: gradchecks to second
order and forward + backward against PyTorch."""

import numpy as np
import pytest
from torch_oracle import checks, compare

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

rng = np.random.default_rng(1)
DTYPES = [np.float32, np.float64]


def r(*shape):
    return rng.standard_normal(shape)


MAX2D = [  # (shape, kernel, stride, padding, dilation, ceil_mode)
    ((2, 3, 7, 6), 2, None, 0, 1, False),
    ((2, 3, 7, 6), 2, None, 0, 1, True),
    ((2, 3, 7, 7), 3, 2, 1, 1, True),
    ((1, 2, 9, 8), 3, 1, 1, 2, False),
    ((1, 2, 9, 8), (2, 3), (2, 1), (1, 0), (2, 1), True),
    ((1, 1, 1, 1), 1, None, 0, 1, False),
    ((1, 2, 5, 5), 5, None, 2, 1, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", MAX2D)
def test_max_pool2d_matches_torch_with_indices(cfg, dtype):
    torch = pytest.importorskip("torch")
    shape, k, s, p, d, ceil = cfg
    compare(lambda x: F.max_pool2d(x, k, s, p, d, ceil, True),
            lambda x: torch.nn.functional.max_pool2d(x, k, s, p, d, ceil, True),
            [r(*shape)], dtype)
    compare(lambda x: F.max_pool2d(x, k, s, p, d, ceil),
            lambda x: torch.nn.functional.max_pool2d(x, k, s, p, d, ceil), [r(*shape)], dtype)


@pytest.mark.parametrize("cfg", MAX2D)
def test_max_pool2d_options_gradcheck(cfg):
    shape, k, s, p, d, ceil = cfg
    checks(lambda x: F.max_pool2d(x, k, s, p, d, ceil) ** 2, [r(*shape)])


def test_max_pool2d_nan_propagates_as_torch():
    torch = pytest.importorskip("torch")
    x = r(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    y, i = F.max_pool2d(x, 2, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(y.data, ty.numpy())
    np.testing.assert_array_equal(i.data, ti.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p,out", [(2, 2, 0, None), (3, 3, 1, (6, 8)), (2, 2, 0, (7, 9)),
                                       ((2, 3), (2, 3), (1, 0), (6, 8))])
def test_max_unpool2d_round_trip_matches_torch(k, s, p, out, dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = r(2, 3, 6, 8)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    ty, tidx = tf.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    compare(lambda v: F.max_unpool2d(v, idx, k, s, p, out),
            lambda v: tf.max_unpool2d(v, tidx, k, s, p, out), [y.data], dtype)
    checks(lambda v: F.max_unpool2d(v, idx, k, s, p, out) ** 2, [y.data])
    unpool = nn.MaxUnpool2d(k, s, p)
    np.testing.assert_array_equal(unpool(y, idx, out).data,
                                  F.max_unpool2d(y, idx, k, s, p, out).data)


def test_max_unpool_duplicate_indices_written_once():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0]]]])
    y, idx = F.max_pool2d(x, (1, 2), (1, 1), return_indices=True)  # 5 wins twice
    out = F.max_unpool2d(y, idx, (1, 2), (1, 1), output_size=(1, 4))
    np.testing.assert_array_equal(out.data, [[[[0, 5, 2, 0]]]])


def test_max_unpool_errors():
    y, idx = F.max_pool2d(r(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(cr.ShapeError, match="max_unpool2d: indices"):
        F.max_unpool2d(y, idx.data[..., :1], 2)
    with pytest.raises(ValueError, match="max_unpool2d: output_size"):
        F.max_unpool2d(y, idx, 2, output_size=(9, 9))
    with pytest.raises(ValueError, match="max_unpool2d: indices must lie"):
        F.max_unpool2d(y, idx.data + 100, 2)


AVG2D = [  # (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    ((2, 3, 7, 6), 2, None, 0, True, True, None),
    ((2, 3, 7, 7), 3, 2, 1, False, False, None),
    ((2, 3, 7, 7), 3, 2, 1, True, False, None),
    ((2, 3, 7, 7), 3, 2, 1, True, True, None),
    ((1, 2, 6, 5), (3, 2), (2, 1), (1, 1), False, True, None),
    ((1, 2, 6, 5), 3, 2, 1, False, True, 4),
    ((1, 1, 1, 1), 1, None, 0, False, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", AVG2D)
def test_avg_pool2d_options_match_torch(cfg, dtype):
    torch = pytest.importorskip("torch")
    shape, k, s, p, ceil, cip, div = cfg
    compare(lambda x: F.avg_pool2d(x, k, s, p, ceil, cip, div),
            lambda x: torch.nn.functional.avg_pool2d(x, k, s, p, ceil, cip, div),
            [r(*shape)], dtype)


@pytest.mark.parametrize("cfg", AVG2D)
def test_avg_pool2d_options_gradcheck(cfg):
    shape, k, s, p, ceil, cip, div = cfg
    checks(lambda x: F.avg_pool2d(x, k, s, p, ceil, cip, div) ** 2, [r(*shape)])


ADAPTIVE = [((2, 3, 7, 6), (3, 4)), ((1, 2, 5, 5), 5), ((1, 2, 5, 7), (1, 1)),
            ((1, 2, 4, 6), (8, 9)), ((1, 2, 7, 5), (None, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_pools_match_torch(shape, out, dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = r(*shape)
    compare(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: tf.adaptive_avg_pool2d(x, out),
            [x], dtype)
    compare(lambda x: F.adaptive_max_pool2d(x, out, True),
            lambda x: tf.adaptive_max_pool2d(x, out, True), [x], dtype)


@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_pools_gradcheck(shape, out):
    x = r(*shape)
    checks(lambda x: F.adaptive_avg_pool2d(x, out) ** 2, [x])
    checks(lambda x: F.adaptive_max_pool2d(x, out) ** 2, [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_d_forms_match_torch(dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = r(2, 3, 11)
    compare(lambda x: F.max_pool1d(x, 3, 2, 1, 2, True, True),
            lambda x: tf.max_pool1d(x, 3, 2, 1, 2, True, True), [x], dtype)
    compare(lambda x: F.avg_pool1d(x, 4, 3, 2, True, False),
            lambda x: tf.avg_pool1d(x, 4, 3, 2, True, False), [x], dtype)
    compare(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: tf.adaptive_avg_pool1d(x, 4),
            [x], dtype)
    compare(lambda x: F.adaptive_max_pool1d(x, 4, True),
            lambda x: tf.adaptive_max_pool1d(x, 4, True), [x], dtype)
    y, idx = F.max_pool1d(x, 2, return_indices=True)
    ty, tidx = tf.max_pool1d(torch.tensor(x), 2, return_indices=True)
    compare(lambda v: F.max_unpool1d(v, idx, 2), lambda v: tf.max_unpool1d(v, tidx, 2),
            [y.data], dtype)
    checks(lambda x: F.max_pool1d(x, 3, 2, 1, 2, True) ** 2, [x[:1]])
    checks(lambda x: F.avg_pool1d(x, 4, 3, 2, True, False) ** 2, [x[:1]])


def test_layers_match_functions():
    torch = pytest.importorskip("torch")
    x = r(2, 3, 7, 7)
    pairs = [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False),
         torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3))),
        (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), atol=1e-12)
    x1 = r(2, 3, 9)
    for ours, theirs in [(nn.MaxPool1d(2, dilation=2), torch.nn.MaxPool1d(2, dilation=2)),
                         (nn.AvgPool1d(3, ceil_mode=True), torch.nn.AvgPool1d(3, ceil_mode=True)),
                         (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4)),
                         (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4))]:
        np.testing.assert_allclose(ours(x1).data, theirs(torch.tensor(x1)).numpy(), atol=1e-12)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.data.dtype == np.int64 and "return_indices=True" in repr(
        nn.MaxPool2d(2, return_indices=True))


def test_pooling_errors_name_op_and_argument():
    x = r(1, 1, 4, 4)
    with pytest.raises(ValueError, match="max_pool2d: dilation"):
        F.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="avg_pool2d: padding"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(cr.ShapeError, match="max_pool2d: kernel_size"):
        F.max_pool2d(x, 3, dilation=2)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(cr.ShapeError, match="adaptive_max_pool1d: expected"):
        F.adaptive_max_pool1d(x, 2)
    with pytest.raises(cr.ShapeError, match="MaxPool2d.*larger"):
        nn.MaxPool2d(5)(x)


@pytest.mark.parametrize("shape, k, s", [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 2)])
@pytest.mark.parametrize("order", ["first", "second"])
def test_plain_max_pool2d_gives_tied_maxima_gradient_as_torch(shape, k, s, order):
    """Ties (e.g. zeros after ReLU): the first maximum of each window takes the gradient,
    in both the exact-tiling and the overlapping kernels, first and second order."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=shape).astype(np.float64)  # many ties
    g = rng.standard_normal(F.max_pool2d(cr.tensor(x), k, s).shape)
    xt = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.max_pool2d(xt, k, s) * torch.tensor(g)).sum().backward()
    if order == "first":  # NumPy fast path
        ours = cr.grad(lambda v: cr.sum(F.max_pool2d(v, k, s) * g))(x)
    else:  # a cotangent that requires grad: the rule runs as a differentiable graph
        pullback = cr.vjp(lambda v: F.max_pool2d(v, k, s), cr.tensor(x))[1]
        ours = pullback(cr.tensor(g, requires_grad=True))[0]
    np.testing.assert_array_equal(np.asarray(ours.data), xt.grad.numpy())
