"""Pooling layers with PyTorch's options (the functions are in ``nn.functional``)."""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError
from . import functional as F
from .module import Module


class _Pool(Module):
    """Keeps the options and re-raises shape errors with the layer's name."""

    fn: Any = None

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._options = options
        for k, v in options.items():
            setattr(self, k, v)

    def forward(self, *args: Any) -> Any:
        try:
            return type(self).fn(*args, **self._options)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._options.items())


class MaxPool2d(_Pool):
    """Max over windows of (N, C, H, W) (stride defaults to the kernel size)."""

    fn = staticmethod(F.max_pool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         dilation=dilation, ceil_mode=ceil_mode,
                         return_indices=return_indices)


class MaxPool1d(MaxPool2d):
    """Max over windows of (N, C, L)."""

    fn = staticmethod(F.max_pool1d)


class AvgPool2d(_Pool):
    """Mean over windows of (N, C, H, W) (stride defaults to the kernel size)."""

    fn = staticmethod(F.avg_pool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                         divisor_override=divisor_override)


class AvgPool1d(_Pool):
    """Mean over windows of (N, C, L)."""

    fn = staticmethod(F.avg_pool1d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                         ceil_mode=ceil_mode, count_include_pad=count_include_pad)


class AdaptiveAvgPool2d(_Pool):
    """Mean over adaptive windows: (N, C, H, W) -> (N, C, *output_size)."""

    fn = staticmethod(F.adaptive_avg_pool2d)

    def __init__(self, output_size: Any) -> None:
        super().__init__(output_size=output_size)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool2d(_Pool):
    """Max over adaptive windows: (N, C, H, W) -> (N, C, *output_size)."""

    fn = staticmethod(F.adaptive_max_pool2d)

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size=output_size, return_indices=return_indices)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    fn = staticmethod(F.adaptive_max_pool1d)


class MaxUnpool2d(_Pool):
    """max_pool2d's partial inverse: ``unpool(values, indices, output_size=None)``."""

    fn = staticmethod(F.max_unpool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Any:
        try:
            return type(self).fn(input, indices, output_size=output_size, **self._options)
        except ShapeError as e:
            raise ShapeError(f"{self.label()}: {e}") from None


class MaxUnpool1d(MaxUnpool2d):
    fn = staticmethod(F.max_unpool1d)
