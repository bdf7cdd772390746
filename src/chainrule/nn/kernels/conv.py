"""Convolution and max pooling as primitives of the rule table, and their public functions.

Images are (N, C, H, W). ``unfold`` is a movement op: a view of every k×k window laid out
as (N, C, kh, kw, Ho, Wo), made with stride tricks; ``fold`` is its transpose (windows
added back into an image). ``conv2d`` (and ``conv2d_bias``, with the bias added in the
same pass) is fused for speed — im2col copies and batched matrix multiplies, a few images
at a time (the NumPy kernels are in ``im2col``) — and its rules are written with unfold,
fold and matmul, so they are differentiable again; when nothing records the gradient's
computation (``unrecorded``) the rules take a first-order fast path through the same NumPy
kernels as the forward. ``max_pool2d`` is fused too: its forward takes the maximum of
kh*kw strided slices instead of reducing a 6-D view, and so does its first-order backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd.ops import getitem, lift, matmul, pad, reshape, swapaxes
from ...autograd.ops import mean as reduce_mean
from ...autograd.primitive import PRIMITIVES, bilinear, const, linear, prim, unrecorded
from ...autograd.tensor import Tensor
from ...errors import ShapeError
from .im2col import (
    conv_grad_w_np,
    conv_grad_x_np,
    conv_np,
    first_maxima,
    fold_np,
    max_pool_grad_np,
    max_pool_np,
    tiles_exactly,
    unfold_np,
    window,
)

_sum = PRIMITIVES["sum"]


def _fold_vjp(g: Tensor, y: Tensor, cols: Tensor, shape: tuple, **p: Any) -> Tensor:
    win = _unfold(g, **p)
    ho, wo = cols.shape[4:]
    if win.shape[4:] != (ho, wo):  # extra end padding (output_padding) fits more windows
        win = getitem(win, (Ellipsis, slice(0, ho), slice(0, wo)))
    return win


_unfold = linear("unfold", unfold_np, lambda g, y, x, **p: _fold(g, shape=x.shape, **p))
_fold = linear("fold", fold_np, _fold_vjp)


def _conv_geometry(w: Tensor, p: dict) -> dict:
    return {"kernel": w.shape[2:], "stride": p["stride"], "dilation": p["dilation"],
            "padding": p["padding"]}


def _conv_vjp_x(g: Tensor, y: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    if unrecorded(g, w):  # first-order fast path: chunked NumPy, no graph
        return const(conv_grad_x_np(g.data, w.data, x.shape, **p))
    groups, (o, cg, kh, kw) = p["groups"], w.shape
    n, _, ho, wo = g.shape
    gm = reshape(g, (n, groups, o // groups, ho * wo))
    cols = matmul(swapaxes(reshape(w, (groups, o // groups, cg * kh * kw)), -1, -2), gm)
    cols = reshape(cols, (n, groups * cg, kh, kw, ho, wo))
    return _fold(cols, shape=x.shape, **_conv_geometry(w, p))


def _conv_vjp_w(g: Tensor, y: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    if unrecorded(g, x):  # first-order fast path: chunked NumPy, no graph
        return const(conv_grad_w_np(g.data, x.data, w.shape, **p))
    groups, (o, cg, kh, kw) = p["groups"], w.shape
    n, _, ho, wo = g.shape
    cols = reshape(_unfold(x, **_conv_geometry(w, p)), (n, groups, cg * kh * kw, ho * wo))
    gm = reshape(g, (n, groups, o // groups, ho * wo))
    return reshape(_sum(matmul(gm, swapaxes(cols, -1, -2)), axis=(0,), keepdims=False),
                   w.shape)


_conv2d = bilinear("conv2d", lambda x, w, **p: conv_np(x, w, None, **p), _conv_vjp_x,
                   _conv_vjp_w)

# conv2d + bias (O,) in one node: no (N, O, Ho, Wo) temporary before the bias, nor its
# cotangent. Gradchecked against conv2d + reshape(bias) in tests/nn/test_conv.py.
_conv2d_bias = prim(
    "conv2d_bias", conv_np,
    vjp=(lambda g, y, x, w, b, **p: _conv_vjp_x(g, y, x, w, **p),
         lambda g, y, x, w, b, **p: _conv_vjp_w(g, y, x, w, **p),
         lambda g, y, x, w, b, **p: _sum(g, axis=(0, 2, 3), keepdims=False)),
    jvp=(lambda t, y, x, w, b, **p: _conv2d(t, w, **p),
         lambda t, y, x, w, b, **p: _conv2d(x, t, **p),
         lambda t, y, x, w, b, **p: reshape(t, (1, -1, 1, 1))))


def _max_pool_weights(y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    """1 where an input element is its window's first maximum (row-major, as PyTorch),
    else 0.

    Laid out as (N, C, Ho, kh, Wo, kw) when the windows tile the image exactly (a reshape
    of x's own layout), else as unfold's (N, C, kh, kw, Ho, Wo).
    """
    yd, xd = y.data, x.data
    n, c, ho, wo = yd.shape
    (kh, kw) = kernel
    offsets = [(a, b) for a in range(kh) for b in range(kw)]
    hits = first_maxima([xd[window(a, b, (ho, wo), stride, (1, 1))] for a, b in offsets], yd)
    if tiles_exactly(x, y, kernel, stride):
        weights = np.empty((n, c, ho, kh, wo, kw), dtype=xd.dtype)
        for (a, b), hit in zip(offsets, hits):
            weights[:, :, :, a, :, b] = hit
    else:
        weights = np.empty((n, c, kh, kw, ho, wo), dtype=xd.dtype)
        for (a, b), hit in zip(offsets, hits):
            weights[:, :, a, b] = hit
    return const(weights)


def _max_pool_vjp(g: Tensor, y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    if unrecorded(g):  # first-order fast path (the rule is linear in g; x, y are constants)
        return const(max_pool_grad_np(g.data, y.data, x.data, kernel, stride))
    n, c, ho, wo = g.shape
    weights = _max_pool_weights(y, x, kernel, stride)
    if tiles_exactly(x, y, kernel, stride):  # no folding: scale the upsampled cotangent
        return reshape(reshape(g, (n, c, ho, 1, wo, 1)) * weights, x.shape)
    return _fold(reshape(g, (n, c, 1, 1, ho, wo)) * weights, shape=x.shape, kernel=kernel,
                 stride=stride, dilation=(1, 1), padding=((0, 0), (0, 0)))


def _max_pool_jvp(t: Tensor, y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    weights = _max_pool_weights(y, x, kernel, stride)
    if tiles_exactly(x, y, kernel, stride):
        n, c, ho, wo = y.shape
        return _sum(reshape(t, (n, c, ho, kernel[0], wo, kernel[1])) * weights, axis=(3, 5),
                    keepdims=False)
    win = _unfold(t, kernel=kernel, stride=stride, dilation=(1, 1), padding=((0, 0), (0, 0)))
    return _sum(win * weights, axis=(2, 3), keepdims=False)


# Max over k×k windows; the first maximum of a window takes its gradient (PyTorch's rule).
# Checked against its composite, the first maximum of unfold(x) (tests/nn/test_conv.py).
_max_pool2d = prim("max_pool2d", max_pool_np, vjp=_max_pool_vjp, jvp=_max_pool_jvp)


def as_pair(v: Any, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair; ``name`` and ``op`` go into the error."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(i, (int, np.integer)) for i in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return int(pair[0]), int(pair[1])


def same_padding(size: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """(lo, hi) per axis for an output of ceil(size / stride) positions (TensorFlow's
    "same"; PyTorch's for stride 1): any odd padding goes at the end."""
    out = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        out.append((total // 2, total - total // 2))
    return tuple(out)


def conv_padding(padding: Any, size: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                 op: str = "conv2d") -> tuple:
    """((top, bottom), (left, right)) from an int, a pair, "valid", "same" or the
    asymmetric ((top, bottom), (left, right)) itself.

    "same" follows TensorFlow: the output has ceil(size / stride) positions and any odd
    padding goes at the end.
    """
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return same_padding(size, kernel, stride, dilation)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got "
                         f"{padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
            isinstance(p, (tuple, list)) for p in padding):  # ((top, bottom), (left, right))
        pairs = tuple(as_pair(p, "padding", op) for p in padding)
        if min(min(p) for p in pairs) < 0:
            raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
        return pairs
    ph, pw = as_pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
    return ((ph, ph), (pw, pw))


def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch).

    x: (N, C, H, W); weight: (O, C/groups, kh, kw); bias: (O,). Returns (N, O, Ho, Wo) with
    Ho = (H + pad - dilation*(kh-1) - 1) // stride + 1.
    """
    x, weight = lift(x), lift(weight)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected input (N, C, H, W) and weight (O, C/groups, kh, "
                         f"kw), got shapes {x.shape} and {weight.shape}")
    stride = as_pair(stride, "stride", "conv2d")
    dilation = as_pair(dilation, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be >= 1, got stride {stride}, "
                         f"dilation {dilation}")
    o, cg = weight.shape[:2]
    if groups < 1 or x.shape[1] != cg * groups or o % groups:
        raise ShapeError(f"conv2d: input with {x.shape[1]} channels does not fit a weight of "
                         f"shape {weight.shape} with groups={groups} (expected "
                         f"{cg * groups} input channels and out channels divisible by groups)")
    pad = conv_padding(padding, x.shape[2:], weight.shape[2:], stride, dilation)
    for size, (lo, hi), k, d, axis in zip(x.shape[2:], pad, weight.shape[2:], dilation, "HW"):
        if size + lo + hi < d * (k - 1) + 1:
            raise ShapeError(f"conv2d: kernel {tuple(weight.shape[2:])} (dilation {dilation}) "
                             f"is larger than the padded input {axis} = {size + lo + hi} "
                             f"(input shape {x.shape})")
    params = {"stride": stride, "dilation": dilation, "padding": pad, "groups": int(groups)}
    if bias is None:
        return _conv2d(x, weight, **params)
    bias = lift(bias)
    if bias.shape != (o,):
        raise ShapeError(f"conv2d: bias of shape {bias.shape} does not fit {o} output "
                         f"channels (expected ({o},))")
    return _conv2d_bias(x, weight, bias, **params)


def conv_transpose2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, dilation: Any = 1,
                     groups: int = 1) -> Tensor:
    """Transposed convolution (the gradient of conv2d w.r.t. its input), PyTorch layout.

    x: (N, C_in, H, W); weight: (C_in, C_out/groups, kh, kw). Output size
    (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.
    """
    x, weight = lift(x), lift(weight)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[0]:
        raise ShapeError(f"conv_transpose2d: expected input (N, C_in, H, W) and weight "
                         f"(C_in, C_out/groups, kh, kw) with matching C_in, got shapes "
                         f"{x.shape} and {weight.shape}")
    stride, dilation = as_pair(stride, "stride", "conv_transpose2d"), as_pair(
        dilation, "dilation", "conv_transpose2d")
    (ph, pw), (oph, opw) = as_pair(padding, "padding", "conv_transpose2d"), as_pair(
        output_padding, "output_padding", "conv_transpose2d")
    if min(*stride, *dilation) < 1 or min(ph, pw, oph, opw) < 0:
        raise ValueError("conv_transpose2d: stride, dilation must be >= 1 and paddings >= 0")
    kh, kw = weight.shape[2:]
    n, c_in, h, w = x.shape
    out_hw = [(s_in - 1) * s - 2 * p + d * (k - 1) + op + 1 for s_in, s, p, d, k, op in
              zip((h, w), stride, (ph, pw), dilation, (kh, kw), (oph, opw))]
    if min(out_hw) < 1:
        raise ShapeError(f"conv_transpose2d: output size {tuple(out_hw)} is not positive")
    c_out = weight.shape[1] * groups
    pad = ((ph, ph + oph), (pw, pw + opw))
    out_shape = (n, c_out, *out_hw)
    # conv2d's input gradient with a weight of layout (O=C_in, C_out/groups, kh, kw):
    y = _conv_vjp_x(x, None, const(np.empty(out_shape, x.dtype)), weight, stride=stride,
                    dilation=dilation, padding=pad, groups=int(groups))
    if bias is not None:
        y = y + reshape(bias, (1, -1, 1, 1))
    return y


def unfold(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1) -> Tensor:
    """Every sliding window as a view: (N, C, H, W) -> (N, C, kh, kw, Ho, Wo)."""
    x = lift(x)
    if x.ndim != 4:
        raise ShapeError(f"unfold: expected (N, C, H, W), got {x.shape}")
    k = as_pair(kernel_size, "kernel_size", "unfold")
    s, d = as_pair(stride, "stride", "unfold"), as_pair(dilation, "dilation", "unfold")
    pad = conv_padding(padding, x.shape[2:], k, s, d, "unfold")
    return _unfold(x, kernel=k, stride=s, dilation=d, padding=pad)


def _pool_args(x: Tensor, kernel_size: Any, stride: Any, padding: Any, name: str
               ) -> tuple[tuple, tuple, tuple]:
    if x.ndim != 4:
        raise ShapeError(f"{name}: expected input (N, C, H, W), got shape {x.shape}")
    k = as_pair(kernel_size, "kernel_size", name)
    s = k if stride is None else as_pair(stride, "stride", name)
    p = as_pair(padding, "padding", name)
    if min(s) < 1 or min(k) < 1:
        raise ValueError(f"{name}: kernel_size and stride must be >= 1, got {k} and {s}")
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{name}: padding {p} must be at most half the kernel {k}")
    for size, kk, pp in zip(x.shape[2:], k, p):
        if size + 2 * pp < kk:
            raise ShapeError(f"{name}: kernel {k} is larger than the padded input "
                             f"{tuple(x.shape[2:])} (padding {p})")
    return k, s, p


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over k×k windows (padding counts as -inf). The first maximum of a window
    (row-major) takes its gradient, as in PyTorch.

    x: (N, C, H, W) -> (N, C, Ho, Wo); ``stride`` defaults to the kernel size."""
    x = lift(x)
    k, s, (ph, pw) = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    if ph or pw:
        x = pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=-np.inf)
    return _max_pool2d(x, kernel=k, stride=s)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over k×k windows (zero padding is counted, as PyTorch's default).

    x: (N, C, H, W) -> (N, C, Ho, Wo); ``stride`` defaults to the kernel size."""
    x = lift(x)
    k, s, p = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return reduce_mean(unfold(x, k, s, p), axis=(2, 3))
