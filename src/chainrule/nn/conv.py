"""Convolution and pooling layers. Layout (N, C, H, W) as in PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from . import functional as F
from . import init as initializers
from .kernels import as_pair
from .kernels.convnd import PADDING_MODES, mode_pad, padding_pairs
from .layers import BatchNorm1d
from .module import Module, Parameter
from .pooling import AvgPool2d, MaxPool1d, MaxPool2d  # noqa: F401  (their old home)


def _positive_pair(v: Any, name: str, layer: str) -> tuple[int, int]:
    pair = as_pair(v, name, layer)
    if min(pair) < 1:
        raise ValueError(f"{layer}: {name} must be >= 1, got {v!r}")
    return pair


def _check_channels(name: str, in_channels: Any, out_channels: Any, groups: Any) -> None:
    for what, v in (("in_channels", in_channels), ("out_channels", out_channels),
                    ("groups", groups)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must be divisible by groups ({groups})")


def _check_padding_mode(name: str, padding_mode: str) -> str:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got "
                         f"{padding_mode!r}")
    return padding_mode


def _init_params(layer: Module, shape: tuple, out_channels: int, bias: bool,
                 init: str) -> None:
    layer.weight = Parameter(np.empty(shape, dtype=get_default_dtype()))
    initializers.get(init)(layer.weight)
    layer.bias = Parameter(np.zeros(out_channels, get_default_dtype())) if bias else None


def _mode_padded(layer: Any, x: Tensor) -> tuple[Tensor, Any]:
    """x padded in the layer's non-zero padding_mode (and padding 0 left to do), or as is."""
    if layer.padding_mode == "zeros":
        return x, layer.padding
    pairs = padding_pairs(layer.padding, x.shape[2:], layer.kernel_size, layer.stride,
                          layer.dilation, layer.label())
    return mode_pad(x, pairs, layer.padding_mode, layer.label()), 0


class _ConvNd(Module):
    """Shared set-up of Conv1d and Conv2d: weight (O, C/groups, *kernel), optional bias."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 init: str = "glorot_uniform", padding_mode: str = "zeros") -> None:
        super().__init__()
        name = type(self).__name__
        self.padding_mode = _check_padding_mode(name, padding_mode)
        _check_channels(name, in_channels, out_channels, groups)
        one = self.dims == 1
        self.kernel_size = _positive_pair((1, kernel_size) if one else kernel_size,
                                          "kernel_size", name)
        self.stride = _positive_pair((1, stride) if one else stride, "stride", name)
        self.dilation = _positive_pair((1, dilation) if one else dilation, "dilation", name)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got "
                             f"{padding!r}")
        if one and isinstance(padding, (tuple, list)) and len(padding) == 1:
            padding = padding[0]
        self.padding = padding if isinstance(padding, str) or not one else (0, padding)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        _init_params(self, (out_channels, in_channels // groups, *self.kernel_size),
                     out_channels, bias, init)

    def _check(self, x: Tensor, rank: int, layout: str) -> None:
        if x.ndim != rank or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.label()}: expected input {layout} with C = "
                             f"{self.in_channels}, "
                             f"got shape {x.shape}")

    def _conv(self, x: Tensor) -> Tensor:
        try:
            x, padding = _mode_padded(self, x)  # a non-zero padding_mode pads first
            return F.conv2d(x, self.weight, self.bias, self.stride, padding,
                            self.dilation, self.groups)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None

    def extra_repr(self) -> str:
        k = self.kernel_size[1:] if self.dims == 1 else self.kernel_size
        s = self.stride[1:] if self.dims == 1 else self.stride
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={k}, stride={s}, "
                f"padding={self.padding!r}" + (f", groups={self.groups}"
                                                if self.groups > 1 else "")
                + (f", padding_mode={self.padding_mode!r}"
                   if self.padding_mode != "zeros" else ""))


class Conv2d(_ConvNd):
    """2-D convolution. x (N, C_in, H, W) -> (N, C_out, Ho, Wo).

    ``padding``: an int, a pair, ``"valid"`` (none) or ``"same"`` (output size
    ceil(size / stride), TensorFlow's rule). ``groups = in_channels`` gives a depthwise
    convolution; follow it by a 1×1 Conv2d for a depthwise-separable one.
    """

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        self._check(x, 4, "(N, C, H, W)")
        return self._conv(x)


class Conv1d(_ConvNd):
    """1-D convolution. x (N, C_in, L) -> (N, C_out, Lo)."""

    dims = 1

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        self._check(x, 3, "(N, C, L)")
        return ops.squeeze(self._conv(ops.unsqueeze(x, 2)), 2)


class Conv3d(Module):
    """3-D convolution. x (N, C_in, D, H, W) -> (N, C_out, Do, Ho, Wo); weight
    (C_out, C_in/groups, kd, kh, kw) as PyTorch. ``padding``: an int, a triple, "same",
    "valid"; ``padding_mode``: "zeros", "reflect", "replicate" or "circular"."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", init: str = "glorot_uniform") -> None:
        super().__init__()
        name = "Conv3d"
        _check_channels(name, in_channels, out_channels, groups)
        self.kernel_size = _triple(kernel_size, "kernel_size", 1)
        self.stride = _triple(stride, "stride", 1)
        self.dilation = _triple(dilation, "dilation", 1)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a triple, 'same' or 'valid', "
                             f"got {padding!r}")
        self.padding = padding if isinstance(padding, str) else _triple(padding, "padding", 0)
        self.padding_mode = _check_padding_mode(name, padding_mode)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        _init_params(self, (out_channels, in_channels // groups, *self.kernel_size),
                     out_channels, bias, init)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.label()}: expected input (N, C, D, H, W) with C = "
                             f"{self.in_channels}, got shape {x.shape}")
        x, padding = _mode_padded(self, x)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}"
                + (f", groups={self.groups}" if self.groups > 1 else "")
                + (f", padding_mode={self.padding_mode!r}"
                   if self.padding_mode != "zeros" else ""))


def _triple(v: Any, name: str, low: int) -> tuple[int, int, int]:
    t = (v,) * 3 if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 3 or not all(isinstance(i, (int, np.integer)) for i in t) or min(t) < low:
        raise ValueError(f"Conv3d: {name} must be an int or 3 ints >= {low}, got {v!r}")
    return tuple(int(i) for i in t)


class ConvTranspose2d(Module):
    """Transposed convolution ("deconvolution"), the gradient of Conv2d w.r.t. its input.

    x (N, C_in, H, W) -> (N, C_out, (H-1)*stride - 2*padding + dilation*(k-1) +
    output_padding + 1, ...). weight: (C_in, C_out/groups, kh, kw), as PyTorch.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, init: str = "glorot_uniform") -> None:
        super().__init__()
        name = "ConvTranspose2d"
        if in_channels < 1 or out_channels < 1 or groups < 1 or in_channels % groups or \
                out_channels % groups:
            raise ValueError(f"{name}: channels ({in_channels}, {out_channels}) must be "
                             f"positive and divisible by groups ({groups})")
        self.kernel_size = _positive_pair(kernel_size, "kernel_size", name)
        self.stride = _positive_pair(stride, "stride", name)
        self.dilation = _positive_pair(dilation, "dilation", name)
        self.padding, self.output_padding = padding, output_padding
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        _init_params(self, (in_channels, out_channels // groups, *self.kernel_size),
                     out_channels, bias, init)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.label()}: expected input (N, C, H, W) with C = "
                             f"{self.in_channels}, got shape {x.shape}")
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}")


class GlobalAvgPool2d(Module):
    """(N, C, H, W) -> (N, C): the mean of each feature map."""

    def forward(self, x: Any) -> Tensor:
        return F.global_avg_pool2d(x)


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of (N, C, H, W) inputs over N, H and W, per channel."""

    _ranks = (4,)


class ResidualBlock(Module):
    """A ResNet basic block: conv-BN-ReLU-conv-BN plus a shortcut, then ReLU.

    With ``stride > 1`` or a change of channels the shortcut is a 1×1 convolution + BN.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False,
                            init="he_normal")
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, init="he_normal")
        self.bn2 = BatchNorm2d(out_channels)
        self.project = None
        if stride != 1 or in_channels != out_channels:
            self.project = Conv2d(in_channels, out_channels, 1, stride, bias=False)
            self.project_bn = BatchNorm2d(out_channels)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        h = ops.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        skip = x if self.project is None else self.project_bn(self.project(x))
        return ops.relu(h + skip)
