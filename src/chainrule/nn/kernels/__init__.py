"""Fused NumPy kernels behind primitives of the rule table (they register into
``chainrule.autograd.primitive.PRIMITIVES`` when imported).

``conv``: unfold/fold, conv2d (+ bias), conv_transpose2d, the fused max_pool2d, avg_pool2d;
``im2col``: the convolution's NumPy kernels and their planner; ``lstm``: the LSTM gates
and the whole-layer scan; ``gelu``: GELU (exact and tanh forms) as one primitive.
PyTorch's functional surface on top of them (compositions, no new primitives): ``convnd``
(conv1d, conv3d, padding modes), ``pool`` (pooling options, adaptive pooling, unpooling),
``resample`` (pad, interpolate), ``losses`` (cross_entropy, nll_loss,
binary_cross_entropy).
"""

from .conv import as_pair, conv2d, conv_padding, conv_transpose2d, unfold
from .lstm import lstm_gates, lstm_scan
from .pool import avg_pool2d, max_pool2d

__all__ = ["as_pair", "avg_pool2d", "conv2d", "conv_padding", "conv_transpose2d", "lstm_gates",
           "lstm_scan", "max_pool2d", "unfold"]
