"""Fused NumPy kernels behind primitives of the rule table (they register into
``chainrule.autograd.primitive.PRIMITIVES`` when imported).

``conv``: unfold/fold, conv2d (+ bias), conv_transpose2d, max_pool2d, avg_pool2d;
``im2col``: the convolution's NumPy kernels and their planner; ``lstm``: the LSTM gates
and the whole-layer scan.
"""

from .conv import (
    as_pair,
    avg_pool2d,
    conv2d,
    conv_padding,
    conv_transpose2d,
    max_pool2d,
    unfold,
)
from .lstm import lstm_gates, lstm_scan

__all__ = ["as_pair", "avg_pool2d", "conv2d", "conv_padding", "conv_transpose2d", "lstm_gates",
           "lstm_scan", "max_pool2d", "unfold"]
