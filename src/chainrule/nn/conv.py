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
from .layers import BatchNorm1d
from .module import Module, Parameter


def _positive_pair(v: Any, name: str, layer: str) -> tuple[int, int]:
    pair = as_pair(v, name, layer)
    if min(pair) < 1:
        raise ValueError(f"{layer}: {name} must be >= 1, got {v!r}")
    return pair


class _ConvNd(Module):
    """Shared set-up of Conv1d and Conv2d: weight (O, C/groups, *kernel), optional bias."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 init: str = "glorot_uniform") -> None:
        super().__init__()
        name = type(self).__name__
        for what, v in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        one = self.dims == 1
        self.kernel_size = _positive_pair((1, kernel_size) if one else kernel_size,
                                          "kernel_size", name)
        self.stride = _positive_pair((1, stride) if one else stride, "stride", name)
        self.dilation = _positive_pair((1, dilation) if one else dilation, "dilation", name)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got "
                             f"{padding!r}")
        self.padding = padding if isinstance(padding, str) or not one else (0, padding)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=get_default_dtype()))
        initializers.get(init)(self.weight)
        self.bias = Parameter(np.zeros(out_channels, get_default_dtype())) if bias else None

    def _check(self, x: Tensor, rank: int, layout: str) -> None:
        if x.ndim != rank or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self.label()}: expected input {layout} with C = "
                             f"{self.in_channels}, "
                             f"got shape {x.shape}")

    def _conv(self, x: Tensor) -> Tensor:
        try:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None

    def extra_repr(self) -> str:
        k = self.kernel_size[1:] if self.dims == 1 else self.kernel_size
        s = self.stride[1:] if self.dims == 1 else self.stride
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={k}, stride={s}, "
                f"padding={self.padding!r}" + (f", groups={self.groups}"
                                                if self.groups > 1 else ""))


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
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=get_default_dtype()))
        initializers.get(init)(self.weight)
        self.bias = Parameter(np.zeros(out_channels, get_default_dtype())) if bias else None

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


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _positive_pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _positive_pair(stride, "stride",
                                                                             name)
        self.padding = as_pair(padding, "padding", name)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def _checked(self, fn: Any, x: Any) -> Tensor:
        try:
            return fn(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None


class MaxPool2d(_Pool2d):
    """Max over k×k windows (stride defaults to the kernel size)."""

    def forward(self, x: Any) -> Tensor:
        return self._checked(F.max_pool2d, x)


class AvgPool2d(_Pool2d):
    """Mean over k×k windows (stride defaults to the kernel size)."""

    def forward(self, x: Any) -> Tensor:
        return self._checked(F.avg_pool2d, x)


class MaxPool1d(Module):
    """Max over windows of a (N, C, L) input."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        if kernel_size < 1 or (stride is not None and stride < 1):
            raise ValueError(f"MaxPool1d: kernel_size and stride must be >= 1, got "
                             f"{kernel_size} and {stride}")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Any) -> Tensor:
        try:
            return F.max_pool1d(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


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
