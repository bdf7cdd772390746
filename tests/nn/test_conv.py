"""Convolution and pooling: a naive loop reference, gradchecks, PyTorch, textbook fixtures."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

rng = np.random.default_rng(0)


def naive_conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation by explicit loops: the definition, nothing clever."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    ho = (x.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (x.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for b in range(n):
        for oc in range(o):
            g = oc // og
            for i in range(ho):
                for j in range(wo):
                    total = 0.0
                    for ci in range(cg):
                        for a in range(kh):
                            for e in range(kw):
                                total += (x[b, g * cg + ci, i * stride[0] + a * dilation[0],
                                            j * stride[1] + e * dilation[1]] * w[oc, ci, a, e])
                    out[b, oc, i, j] = total
    return out


CONFIGS = [  # (N, C, H, W, O, k, stride, padding, dilation, groups)
    (2, 3, 6, 5, 4, 3, 1, 1, 1, 1),
    (1, 4, 7, 7, 6, 3, 2, 0, 1, 2),
    (2, 4, 7, 6, 4, 2, 1, 2, 2, 4),   # depthwise, dilated
    (1, 2, 5, 5, 3, 1, 2, 0, 1, 1),   # 1x1, strided
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_matches_loop_reference_and_gradchecks(cfg):
    n, c, h, w_, o, k, s, p, d, g = cfg
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((o, c // g, k, k))
    ours = F.conv2d(x, cr.tensor(w), stride=s, padding=p, dilation=d, groups=g)
    ref = naive_conv2d(x, w, (s, s), (p, p), (d, d), g)
    np.testing.assert_allclose(ours.data, ref, rtol=1e-12, atol=1e-12)

    def f(x, w):
        return F.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)

    assert cr.gradcheck(f, [x, w])
    assert cr.gradgradcheck(f, [x[:1], w], atol=1e-4)


@pytest.mark.parametrize("name,fn,shapes", [
    ("conv1d", lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(2, 3, 9), (4, 3, 3)]),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1,
                                                         output_padding=1),
     [(1, 2, 3, 3), (2, 3, 3, 3)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2, padding=1), [(1, 2, 5, 5)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(1, 2, 6, 6)]),
    ("max_pool1d", lambda x: F.max_pool1d(x, 2), [(2, 2, 6)]),
    ("global_avg_pool2d", F.global_avg_pool2d, [(2, 3, 4, 4)]),
    ("unfold", lambda x: F.unfold(x, 2, stride=1, padding=1) ** 2, [(1, 2, 3, 3)]),
])
def test_conv_family_gradients(name, fn, shapes):
    inputs = [rng.standard_normal(s) for s in shapes]  # continuous: no ties in max
    assert cr.gradcheck(fn, inputs)
    assert cr.gradgradcheck(fn, inputs, atol=1e-4)


def test_textbook_1d_fixtures():
    """Deep Learning from Scratch, chapter 5."""
    x = cr.tensor(np.array([[[1.0, 2, 3, 4, 5]]]), requires_grad=True)
    k = cr.tensor(np.array([[[1.0, 1, 1]]]), requires_grad=True)
    out = F.conv1d(x, k, padding=1).sum()
    out.backward()
    assert out.item() == 39
    assert x.grad.data.ravel().tolist() == [2, 3, 3, 3, 2]
    assert k.grad.data.ravel().tolist() == [10, 15, 14]
    xb = cr.tensor(np.array([[[0.0, 1, 2, 3, 4, 5, 6]], [[1.0, 2, 3, 4, 5, 6, 7]]]))
    kb = cr.tensor(np.array([[[1.0, 1, 1]]]), requires_grad=True)
    out = F.conv1d(xb, kb, padding=1).sum()
    out.backward()
    assert out.item() == 133
    assert kb.grad.data.ravel().tolist() == [36, 49, 48]


def test_homl_summary_memory_and_parameters():
    model = nn.Sequential(
        nn.Conv2d(3, 100, 3, stride=2, padding="same"),
        nn.Conv2d(100, 200, 3, stride=2, padding="same"),
        nn.Conv2d(200, 400, 3, stride=2, padding="same"))
    s = model.summary((3, 200, 300), print_fn=None)
    assert s.total_params == 903_400
    assert [r.output_shape[2:] for r in s.rows] == [(100, 150), (50, 75), (25, 38)]
    assert [r.output_bytes for r in s.rows] == [6_000_000, 3_000_000, 1_520_000]
    text = str(s)
    assert "6 MB" in text and "3 MB" in text and "1.52 MB" in text


def test_same_padding_keeps_size_at_stride_one():
    y = nn.Conv2d(2, 3, 4, padding="same", dilation=2)(np.zeros((1, 2, 9, 8), np.float32))
    assert y.shape == (1, 3, 9, 8)


def test_layers_bad_input_name_layer_and_shapes():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(cr.ShapeError, match=r"Conv2d\(3, 8.*C = 3.*\(2, 4, 5, 5\)"):
        conv(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(cr.ShapeError, match=r"Conv2d.*\(N, C, H, W\).*\(3, 5, 5\)"):
        conv(np.zeros((3, 5, 5), np.float32))
    with pytest.raises(cr.ShapeError, match="larger than the padded input"):
        nn.Conv2d(3, 8, 7)(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="Conv2d: stride must be >= 1"):
        nn.Conv2d(3, 8, 3, stride=0)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(cr.ShapeError, match=r"MaxPool2d.*larger"):
        nn.MaxPool2d(3)(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(cr.ShapeError, match=r"Conv1d.*\(N, C, L\)"):
        nn.Conv1d(2, 2, 3)(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(cr.ShapeError, match="BatchNorm2d"):
        nn.BatchNorm2d(3)(np.zeros((2, 3), np.float32))


def test_residual_block_and_depthwise_separable():
    block = nn.ResidualBlock(4, 8, stride=2)
    y = block(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    assert y.shape == (2, 8, 4, 4)
    y.sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    sep = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 16, 1))
    assert sep.summary((4, 8, 8), print_fn=None).total_params == 4 * 9 + 4 + 4 * 16 + 16


# ----------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    n, c, h, w_, o, k, s, p, d, g = cfg
    x, w, b = (rng.standard_normal(sh) for sh in ((n, c, h, w_), (o, c // g, k, k), (o,)))
    gy = None
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d, groups=g)
    gy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(gy))
    xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    yc = F.conv2d(xc, wc, bc, stride=s, padding=p, dilation=d, groups=g)
    yc.backward(gy)
    for ours, theirs in ((yc, yt), (xc.grad, xt.grad), (wc.grad, wt.grad), (bc.grad, bt.grad)):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_pooling_and_transpose_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 7, 7))
    cases = [
        (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: tf.max_pool2d(t, 3, 2, 1)),
        (lambda t: F.avg_pool2d(t, 2, 2, 1), lambda t: tf.avg_pool2d(t, 2, 2, 1)),
        (lambda t: F.max_pool1d(t[:, :, 0], 2), lambda t: tf.max_pool1d(t[:, :, 0], 2)),
    ]
    for ours_fn, torch_fn in cases:
        xt = torch.tensor(x, requires_grad=True)
        yt = torch_fn(xt)
        yt.sum().backward()
        xc = cr.tensor(x, requires_grad=True)
        yc = ours_fn(xc)
        yc.sum().backward()
        np.testing.assert_allclose(yc.data, yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-12)
    w = rng.standard_normal((3, 2, 3, 3))
    yt = tf.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                             output_padding=1)
    yc = F.conv_transpose2d(x, cr.tensor(w), stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(yc.data, yt.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm2d_matches_torch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ours(xc).sum().backward()
    theirs(xt).sum().backward()
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)


def _first_max_pool(x, k, s):
    """max pooling as a composite: each window's first maximum (row-major, as PyTorch)."""
    import chainrule.numpy as cnp
    from chainrule.nn.kernels import unfold

    win = unfold(x, k, s)  # (N, C, k, k, Ho, Wo)
    n, c, _, _, ho, wo = win.shape
    flat = cnp.reshape(win, (n, c, k * k, ho, wo))
    first = np.argmax(np.asarray(flat.data), axis=2)[:, :, None]
    return cnp.take_along_axis(flat, first, axis=2)[:, :, 0]


@pytest.mark.parametrize("k,s,size", [(2, 2, 6), (3, 2, 6), (2, 1, 6), (2, 2, 7)])
def test_fused_max_pool_matches_its_composite_including_ties(k, s, size):
    x = rng.integers(0, 3, (2, 3, size, size)).astype(np.float64)  # many ties
    g = rng.standard_normal(F.max_pool2d(x, k, s).shape)
    fused = cr.tensor(x, requires_grad=True)
    F.max_pool2d(fused, k, s).backward(g)
    composite = cr.tensor(x, requires_grad=True)
    ref = _first_max_pool(composite, k, s)
    ref.backward(g)
    np.testing.assert_allclose(F.max_pool2d(x, k, s).data, ref.data)
    np.testing.assert_allclose(fused.grad.data, composite.grad.data, rtol=1e-12)
    v = rng.standard_normal(x.shape)
    _, tan = cr.jvp(lambda t: F.max_pool2d(t, k, s), (x,), (v,))
    _, tan_ref = cr.jvp(lambda t: _first_max_pool(t, k, s), (x,), (v,))
    np.testing.assert_allclose(tan.data, tan_ref.data, rtol=1e-12)


# ----------------------------------------------------------------------------- fast paths
#
# conv2d's forward works on chunks of images (im2col.CONV_WORKSPACE_BYTES) and, for stride 1
# along W, on padded rows with wrap-around columns; a backward that records no graph uses
# NumPy kernels (chunked, the input cotangent as a convolution with the flipped kernel at
# stride 1, else a fold), and create_graph=True uses the differentiable rules. Every
# combination must give the same numbers.

FAST_CONFIGS = [  # (N, C, H, W, O, k, stride, padding, dilation, groups)
    (3, 6, 7, 6, 2, 3, 1, 1, 1, 1),         # C·k² >= 3·O: wrap-around rows
    (3, 2, 6, 7, 7, 3, 1, 1, 1, 1),         # plain rows
    (2, 4, 8, 8, 4, (2, 3), 1, "same", 1, 2),  # even kernel: asymmetric "same" padding
    (2, 3, 6, 6, 4, 3, 1, 3, 1, 1),         # padding wider than the kernel: fold
    (2, 4, 9, 12, 6, 3, (2, 1), 1, (1, 2), 2),  # stride 2 along H only, dilated along W
    (3, 3, 7, 7, 2, 3, 2, 0, 1, 1),         # strided: fold
    (2, 4, 7, 6, 4, 2, 1, 2, 2, 4),         # depthwise, dilated
]


def _conv_grads(x, w, b, u, cfg, create_graph):
    _, _, _, _, _, _, s, p, d, g = cfg
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*leaves, stride=s, padding=p, dilation=d, groups=g)
    grads = cr.autograd.engine.grad([y], leaves, [u], create_graph=create_graph)
    return y.data, [gr.data for gr in grads]


@pytest.mark.parametrize("workspace", [1, None])  # 1 byte: one image per chunk
@pytest.mark.parametrize("cfg", FAST_CONFIGS)
def test_conv2d_fast_paths_match_loop_reference_and_differentiable_rules(cfg, workspace,
                                                                          monkeypatch):
    from chainrule.nn import kernels
    from chainrule.nn.kernels import im2col

    if workspace is not None:
        monkeypatch.setattr(im2col, "CONV_WORKSPACE_BYTES", workspace)
    n, c, h, w_, o, k, s, p, d, g = cfg
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = (rng.standard_normal(sh) for sh in ((n, c, h, w_), (o, c // g, kh, kw), (o,)))
    y = F.conv2d(x, cr.tensor(w), cr.tensor(b), stride=s, padding=p, dilation=d, groups=g)
    pad = kernels.conv_padding(p, (h, w_), (kh, kw), kernels.as_pair(s, "", ""),
                               kernels.as_pair(d, "", ""))
    ref = naive_conv2d(np.pad(x, ((0, 0), (0, 0)) + pad), w, kernels.as_pair(s, "", ""), (0, 0),
                       kernels.as_pair(d, "", ""), g) + b[:, None, None]
    np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-12)
    u = rng.standard_normal(y.shape)
    _, fast = _conv_grads(x, w, b, u, cfg, create_graph=False)  # NumPy kernels
    _, rules = _conv_grads(x, w, b, u, cfg, create_graph=True)  # differentiable rules
    for ours, theirs in zip(fast, rules):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", FAST_CONFIGS[:4] + FAST_CONFIGS[5:6])
def test_conv2d_with_bias_is_one_node_that_matches_its_composite(cfg):
    """conv2d_bias against conv2d + reshape(bias): values, first and second derivatives
    (reverse and forward mode)."""
    from chainrule.autograd import ops

    n, c, h, w_, o, k, s, p, d, g = cfg
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = (rng.standard_normal(sh) for sh in ((1, c, h, w_), (o, c // g, kh, kw), (o,)))

    def fused(x, w, b):
        return F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)

    def composite(x, w, b):
        y = F.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        return y + ops.reshape(b, (1, -1, 1, 1))

    y = fused(*(cr.tensor(a, requires_grad=True) for a in (x, w, b)))
    assert y._op.name == "conv2d_bias"
    np.testing.assert_allclose(y.data, composite(x, cr.tensor(w), cr.tensor(b)).data,
                               rtol=1e-12)
    assert cr.gradcheck(fused, [x, w, b])
    assert cr.gradgradcheck(fused, [x, w, b], atol=1e-4)
    u = rng.standard_normal(y.shape)
    vs = [rng.standard_normal(a.shape) for a in (x, w, b)]

    def hvp_of(f):  # d/d(x, w, b) of <grad <u, f>, v>
        leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
        first = cr.autograd.engine.grad([f(*leaves)], leaves, [u], create_graph=True)
        inner = sum((gr * v).sum() for gr, v in zip(first, vs))
        second = cr.autograd.engine.grad([inner], leaves)
        return [np.zeros_like(a) if gr is None else gr.data for gr, a in zip(second, (x, w, b))]

    for ours, theirs in zip(hvp_of(fused), hvp_of(composite)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    _, tan = cr.jvp(fused, (x, w, b), vs)
    _, tan_ref = cr.jvp(composite, (x, w, b), vs)
    np.testing.assert_allclose(tan.data, tan_ref.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", FAST_CONFIGS)
def test_conv2d_fast_paths_match_torch(cfg, monkeypatch):
    torch = pytest.importorskip("torch")
    from chainrule.nn import kernels
    from chainrule.nn.kernels import im2col

    monkeypatch.setattr(im2col, "CONV_WORKSPACE_BYTES", 1)
    n, c, h, w_, o, k, s, p, d, g = cfg
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = (rng.standard_normal(sh) for sh in ((n, c, h, w_), (o, c // g, kh, kw), (o,)))
    pad = kernels.conv_padding(p, (h, w_), (kh, kw), kernels.as_pair(s, "", ""),
                               kernels.as_pair(d, "", ""))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    (pt, pb), (pl, pr) = pad
    yt = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (pl, pr, pt, pb)), wt, bt,
                                    stride=s, dilation=d, groups=g)
    u = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(u))
    y, fast = _conv_grads(x, w, b, u, cfg, create_graph=False)
    for ours, theirs in zip([y, *fast], [yt, xt.grad, wt.grad, bt.grad]):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_fast_path_matches_its_rules():
    """Under no_grad conv_transpose2d uses the NumPy input-cotangent kernel (a fold, with
    fewer windows than fit when output_padding adds pixels): same as the recorded rules."""
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    with cr.no_grad():
        fast = F.conv_transpose2d(x, cr.tensor(w), stride=2, padding=1, output_padding=1)
    rules = F.conv_transpose2d(x, cr.tensor(w, requires_grad=True), stride=2, padding=1,
                               output_padding=1)
    np.testing.assert_allclose(fast.data, rules.data, rtol=1e-12)
