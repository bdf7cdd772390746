"""conv1d, conv_transpose1d and conv3d on top of the fused conv2d, and PyTorch's
``padding_mode``.

``conv1d`` is conv2d over a height of 1. ``conv3d`` is one conv2d: the kd depth slices
that kernel depth offsets see are stacked beside the channels, (N, C, D, H, W) ->
(N·Do, C·kd, H, W), and the weight (O, C/G, kd, kh, kw) is read as (O, C/G·kd, kh, kw);
the channel order (c, depth offset) keeps each group's channels together, so groups work
unchanged. Its gradients are conv2d's, gathers' and reshapes', hence of any order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd.ops import getitem, lift, reshape, squeeze, stack, transpose, unsqueeze
from ...autograd.ops import pad as pad_constant
from ...autograd.tensor import Tensor
from ...errors import ShapeError
from .conv import conv2d, conv_transpose2d, same_padding
from .resample import pad as pad_modes

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ints(v: Any, k: int, name: str, op: str, low: int) -> tuple:
    vals = (v,) * k if isinstance(v, (int, np.integer)) else tuple(v)
    if len(vals) != k or not all(isinstance(i, (int, np.integer)) for i in vals):
        raise ValueError(f"{op}: {name} must be an int or {k} ints, got {v!r}")
    if min(vals) < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {v!r}")
    return tuple(int(i) for i in vals)


def padding_pairs(padding: Any, size: tuple, kernel: tuple, stride: tuple,
                  dilation: tuple, op: str) -> tuple:
    """(lo, hi) per spatial axis from an int, one int per axis, "valid", "same" (output
    ceil(size / stride), odd padding at the end) or the pairs themselves."""
    k = len(size)
    if padding == "valid":
        return ((0, 0),) * k
    if padding == "same":
        return same_padding(size, kernel, stride, dilation)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got "
                         f"{padding!r}")
    if isinstance(padding, (tuple, list)) and padding and all(
            isinstance(p, (tuple, list)) for p in padding):
        if len(padding) != k:
            raise ValueError(f"{op}: padding needs {k} (lo, hi) pairs, got {padding!r}")
        return tuple(_ints(p, 2, "padding", op, 0) for p in padding)
    return tuple((p, p) for p in _ints(padding, k, "padding", op, 0))


def mode_pad(x: Tensor, pairs: tuple, padding_mode: str, op: str) -> Tensor:
    """x padded on its trailing spatial axes by ``pairs`` in a non-zero ``padding_mode``."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got "
                         f"{padding_mode!r}")
    flat = tuple(w for lo_hi in reversed(pairs) for w in lo_hi)
    return pad_modes(x, flat, mode=padding_mode)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution: x (N, C, L), weight (O, C/groups, k) -> (N, O, Lo). ``padding``:
    an int, "same", "valid" or an asymmetric ((lo, hi),)."""
    x, w = lift(input), lift(weight)
    if x.ndim != 3 or w.ndim != 3:
        raise ShapeError(f"conv1d: expected input (N, C, L) and weight (O, C/groups, k), "
                         f"got shapes {x.shape} and {w.shape}")
    (s,), (d,) = _ints(stride, 1, "stride", "conv1d", 1), _ints(dilation, 1, "dilation",
                                                                "conv1d", 1)
    pairs = padding_pairs(padding, x.shape[2:], w.shape[2:], (s,), (d,), "conv1d")
    y = conv2d(unsqueeze(x, 2), unsqueeze(w, 2), bias, stride=(1, s),
               padding=((0, 0), pairs[0]), dilation=(1, d), groups=groups)
    return squeeze(y, 2)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation, as PyTorch): x (N, C, D, H, W), weight
    (O, C/groups, kd, kh, kw), bias (O,) -> (N, O, Do, Ho, Wo)."""
    x, w = lift(input), lift(weight)
    if x.ndim != 5 or w.ndim != 5:
        raise ShapeError(f"conv3d: expected input (N, C, D, H, W) and weight "
                         f"(O, C/groups, kd, kh, kw), got shapes {x.shape} and {w.shape}")
    s = _ints(stride, 3, "stride", "conv3d", 1)
    d = _ints(dilation, 3, "dilation", "conv3d", 1)
    o, cg, kd, kh, kw = w.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1 or x.shape[1] != cg * groups \
            or o % groups:
        raise ShapeError(f"conv3d: input with {x.shape[1]} channels does not fit a weight of "
                         f"shape {w.shape} with groups={groups}")
    pairs = padding_pairs(padding, x.shape[2:], w.shape[2:], s, d, "conv3d")
    if pairs[0] != (0, 0):
        x = pad_constant(x, ((0, 0), (0, 0), pairs[0], (0, 0), (0, 0)))
    n, c, depth = x.shape[:3]
    do = (depth - d[0] * (kd - 1) - 1) // s[0] + 1
    if do < 1:
        raise ShapeError(f"conv3d: kernel depth {kd} (dilation {d[0]}) is larger than the "
                         f"padded input depth {depth}")
    slices = [getitem(x, (slice(None), slice(None),
                          slice(a * d[0], a * d[0] + s[0] * (do - 1) + 1, s[0])))
              for a in range(kd)]
    cols = stack(slices, axis=2) if kd > 1 else unsqueeze(slices[0], 2)  # (N, C, kd, Do, H, W)
    cols = reshape(transpose(cols, (0, 3, 1, 2, 4, 5)), (n * do, c * kd) + x.shape[3:])
    y = conv2d(cols, reshape(w, (o, cg * kd, kh, kw)), bias, stride=s[1:],
               padding=pairs[1:], dilation=d[1:], groups=groups)
    return transpose(reshape(y, (n, do) + y.shape[1:]), (0, 2, 1, 3, 4))


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution, PyTorch's argument order: x (N, C_in, L), weight
    (C_in, C_out/groups, k) -> (N, C_out, (L-1)*stride - 2*padding + dilation*(k-1) +
    output_padding + 1)."""
    x, w = lift(input), lift(weight)
    if x.ndim != 3 or w.ndim != 3:
        raise ShapeError(f"conv_transpose1d: expected input (N, C_in, L) and weight "
                         f"(C_in, C_out/groups, k), got shapes {x.shape} and {w.shape}")
    op = "conv_transpose1d"
    (s,), (p,) = _ints(stride, 1, "stride", op, 1), _ints(padding, 1, "padding", op, 0)
    (d,), (q,) = _ints(dilation, 1, "dilation", op, 1), _ints(output_padding, 1,
                                                              "output_padding", op, 0)
    y = conv_transpose2d(unsqueeze(x, 2), unsqueeze(w, 2), bias, (1, s), (0, p), (0, q),
                         (1, d), groups)
    return squeeze(y, 2)
