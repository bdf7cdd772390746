"""The convolution cotangent kernels of issue 16's last speed work give the values of the
im2col path (and of a plain einsum over the windows) to float64 rounding, in chunks of
any size, with dilation and asymmetric padding; PyTorch's in float32."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.nn.kernels import im2col

CONFIGS = [  # (N, C, H, W, O, (kh, kw), padding, dilation): all stride 1, one group
    (3, 16, 9, 8, 4, (5, 5), ((2, 2), (2, 2)), (1, 1)),  # the DLFS ch. 7 shape, smaller
    (2, 6, 7, 9, 2, (3, 2), ((0, 1), (2, 0)), (1, 1)),   # asymmetric padding, even kernel
    (2, 5, 10, 11, 3, (2, 3), ((1, 1), (0, 0)), (2, 3)),  # dilated both ways
    (4, 3, 6, 6, 5, (3, 3), ((1, 1), (1, 1)), (1, 1)),   # more outputs than inputs
    (1, 8, 5, 7, 2, (1, 4), ((0, 0), (3, 0)), (1, 1)),   # one image, one kernel row
]


def _arrays(cfg, seed=0):
    n, c, h, w_, o, k, pad, dil = cfg
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c, h, w_))
    ho = im2col.out_size(h + sum(pad[0]), k[0], 1, dil[0])
    wo = im2col.out_size(w_ + sum(pad[1]), k[1], 1, dil[1])
    return x, r.standard_normal((o, c) + k), r.standard_normal((n, o, ho, wo))


def _einsum_grad_w(g, x, k, pad, dil):
    cols = im2col.unfold_np(x, k, (1, 1), dil, pad)  # (N, C, kh, kw, Ho, Wo)
    return np.einsum("nohw,ncabhw->ocab", g, cols)


@pytest.mark.parametrize("workspace", [1, 3000, None])  # 1 byte: one image per chunk
@pytest.mark.parametrize("cfg", CONFIGS)
def test_row_weight_gradient_equals_im2col_path_and_einsum(cfg, workspace, monkeypatch):
    if workspace is not None:
        monkeypatch.setattr(im2col, "CONV_WORKSPACE_BYTES", workspace)
    n, c, h, w_, o, k, pad, dil = cfg
    x, w, g = _arrays(cfg)
    rows = im2col.conv_rows_grad_w_np(g, x, w.shape, dil, pad)
    assert rows.shape == w.shape and rows.flags.c_contiguous
    monkeypatch.setattr(im2col, "rows_path", lambda *a: False)
    full = im2col.conv_grad_w_np(g, x, w.shape, (1, 1), dil, pad, 1)
    np.testing.assert_allclose(rows, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rows, _einsum_grad_w(g, x, k, pad, dil), rtol=1e-12,
                               atol=1e-12)


def test_row_weight_gradient_matches_torch_float32():
    torch = pytest.importorskip("torch")
    x, w, g = (a.astype(np.float32) for a in _arrays((6, 16, 14, 14, 8, (5, 5),
                                                      ((2, 2), (2, 2)), (1, 1)), seed=1))
    assert im2col.rows_path(w.shape, (1, 1), 1)
    ours = im2col.conv_grad_w_np(g, x, w.shape, (1, 1), (1, 1), ((2, 2), (2, 2)), 1)
    theirs = torch.nn.grad.conv2d_weight(torch.from_numpy(x), w.shape, torch.from_numpy(g),
                                         padding=2).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)
