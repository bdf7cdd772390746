"""The faster kernel paths of issue 16's speed work give the values of the paths they
replace: sigmoid through SciPy's expit (eager and compiled equal bit for bit), and the
convolution forward as a tall product (im2col^T @ w^T) where the output has few channels."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

special = pytest.importorskip("scipy.special", reason="the expit path needs SciPy")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 1000])
def test_eager_sigmoid_is_scipy_expit_bit_for_bit(dtype, size):
    x = np.random.default_rng(0).normal(0, 8, size).astype(dtype)
    x[:4] = [np.inf, -np.inf, 800.0, -800.0]
    y = cr.tensor(x).sigmoid().data
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, special.expit(x))
    assert y[0] == 1 and y[1] == 0 and y[2] == 1 and y[3] == 0


def _chain(x):
    for _ in range(3):
        x = (x * 1.5).sigmoid()
    return x.sum()


@pytest.mark.parametrize("size", [7, 1000])
def test_compiled_sigmoid_equals_eager_bit_for_bit(size):
    x = np.random.default_rng(1).normal(0, 3, size).astype(np.float32)
    eager_v, eager_g = cr.value_and_grad(_chain)(cr.tensor(x))
    comp_v, comp_g = cr.compile(cr.value_and_grad(_chain))(cr.tensor(x))
    np.testing.assert_array_equal(np.asarray(comp_v.data), np.asarray(eager_v.data))
    np.testing.assert_array_equal(comp_g.data, eager_g.data)


# ----------------------------------------------------------------- convolution row path

ROW_CONFIGS = [  # (N, C, H, W, O, (kh, kw), padding, dilation): all take the row path
    (3, 16, 9, 8, 4, (5, 5), ((2, 2), (2, 2)), (1, 1)),  # the DLFS ch. 7 shape, smaller
    (2, 6, 7, 9, 2, (3, 2), ((0, 1), (2, 0)), (1, 1)),   # asymmetric padding, even kernel
    (2, 5, 10, 11, 3, (2, 3), ((1, 1), (0, 0)), (2, 3)),  # dilated both ways
]


def _conv_and_grads(x, w, b, u, pad, dil):
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = cr.nn.functional.conv2d(*leaves, padding=pad, dilation=dil)
    grads = cr.autograd.engine.grad([y], leaves, [u])
    return [y.data] + [gr.data for gr in grads]


@pytest.mark.parametrize("workspace", [1, None])  # 1 byte: one image per chunk
@pytest.mark.parametrize("cfg", ROW_CONFIGS)
def test_conv_row_path_equals_im2col_path(cfg, workspace, monkeypatch):
    from chainrule.nn.kernels import im2col

    n, c, h, w_, o, k, pad, dil = cfg
    assert im2col.rows_path((o, c) + k, (1, 1), 1)
    if workspace is not None:
        monkeypatch.setattr(im2col, "CONV_WORKSPACE_BYTES", workspace)
    r = np.random.default_rng(2)
    x, w, b = (r.standard_normal(s) for s in ((n, c, h, w_), (o, c) + k, (o,)))
    u = r.standard_normal(cr.nn.functional.conv2d(x, cr.tensor(w), padding=pad,
                                                  dilation=dil).shape)
    rows = _conv_and_grads(x, w, b, u, pad, dil)
    monkeypatch.setattr(im2col, "rows_path", lambda *a: False)
    full = _conv_and_grads(x, w, b, u, pad, dil)
    for ours, theirs in zip(rows, full):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_conv_row_path_matches_torch_float32():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(3)
    x = r.standard_normal((5, 16, 12, 12)).astype(np.float32)
    w = (r.standard_normal((8, 16, 5, 5)) * 0.1).astype(np.float32)
    b = r.standard_normal(8).astype(np.float32)
    u = r.standard_normal((5, 8, 12, 12)).astype(np.float32)
    ours = _conv_and_grads(x, w, b, u, 2, 1)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=2)
    yt.backward(torch.tensor(u))
    for a, t in zip(ours, [yt, xt.grad, wt.grad, bt.grad]):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------- lstm_scan layout

def test_lstm_scan_reads_its_inputs_in_any_layout_bit_for_bit():
    """The forward loop copies every step's input block into place first: a contiguous
    (B, T, 4H) xw and LSTM's transposed view of a (4H, T, B) array give the same bits,
    and every step matches the cell equations (float64)."""
    from chainrule.nn.kernels.lstm import _lstm_scan_np

    r = np.random.default_rng(4)
    b, t, h = 3, 5, 4
    xw = r.standard_normal((b, t, 4 * h))
    h0, c0 = r.standard_normal((b, h)), r.standard_normal((b, h))
    w = r.standard_normal((4 * h, h)) * 0.5
    out = _lstm_scan_np(xw, h0, c0, w, None)
    view = np.ascontiguousarray(xw.transpose(2, 1, 0)).transpose(2, 1, 0)
    np.testing.assert_array_equal(_lstm_scan_np(view, h0, c0, w, None), out)
    hh, cc = h0, c0
    for k in range(t):
        z = xw[:, k] + hh @ w.T
        i, f, g, o = (z[:, j * h:(j + 1) * h] for j in range(4))
        cc = special.expit(f) * cc + special.expit(i) * np.tanh(g)
        hh = special.expit(o) * np.tanh(cc)
        np.testing.assert_allclose(out[0][:, k], hh, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[1][:, k], cc, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.3])
def test_dropout_mask_is_the_float64_formula_rounded_bit_for_bit(dtype, p):
    """The mask is written in x's dtype directly: the same draws and values as
    ((u >= p) / (1 - p)).astype(dtype)."""
    from chainrule.nn.functional import _dropout_mask_np

    x = np.ones((7, 9), dtype)
    cr.manual_seed(5)
    mask = _dropout_mask_np(x, p)
    u = np.random.default_rng(5).random(x.shape)
    assert mask.dtype == dtype
    np.testing.assert_array_equal(mask, ((u >= p) / (1.0 - p)).astype(dtype))
