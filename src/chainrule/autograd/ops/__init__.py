"""THE RULE TABLE, split by kind: every primitive once — its forward next to its rules.

==================  =======================================================
``arithmetic``      add, sub, mul, div, pow, neg, alias; constants
``elementwise``     exp, log, sin, ..., relu, sigmoid, where; comparisons; selu, gelu, silu
``special``         log2, exp2, logaddexp, hypot, sinc, rsqrt, fmax, lerp, copysign; isnan, ...
``rounding``        floor, ceil, round, trunc (derivative 0), floor_divide, mod, fmod
``reductions``      sum, mean, max, min, prod, logsumexp; var, std, norm; argmax, argmin
``shape``           reshape, transpose, broadcast, pad, concatenate; getitem, scatter_add
``linalg``          matmul, linear (fused x @ W.T + b), einsum
``decompositions``  inv, det, slogdet, solve, cholesky, qr, eigh, svd, pinv (chainrule.linalg)
``building``        NumPy's shape and array building (diag, trace, tile, roll, stacks, kron,
                    cross, diff, tensordot, r_, ...): composites, no rules of their own
``softmax``         softmax, log_softmax, softmax_cross_entropy (fused)
``indexing``        gather and its transpose; NumPy's sort, argsort, partition, take_along_axis
``selection``       PyTorch's scatter*, index_select, masked_*, one_hot, topk, sort, unfold
``scans``           cumsum, cumprod, cummax, cummin, logcumsumexp
``creation``        tril, triu; arange, linspace, eye, full, full_like, meshgrid
==================  =======================================================

The machinery (``Primitive``, the registry ``PRIMITIVES``, the rule constructors) is in
``chainrule.autograd.primitive``. Naming: a primitive is named after its op; when a public
function wraps it (to lift arguments or normalise parameters), the primitive object is the
same name with a leading underscore (``_matmul`` behind ``matmul``); when it needs no
wrapper, the primitive is the public function itself (``exp``). Fused neural-network
kernels (convolution, the LSTM scan) live in ``chainrule.nn.kernels`` and register into
the same table.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ...errors import ShapeError
from ..primitive import PRIMITIVES, Joint, Primitive, lift, nondiff, prim
from ..tensor import Tensor, get_default_dtype
from .arithmetic import *  # noqa: F403  (each module's __all__: its public ops)
from .building import *  # noqa: F403
from .creation import *  # noqa: F403
from .decompositions import *  # noqa: F403  (registers inv, det, ...; public in chainrule.linalg)
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .linalg import *  # noqa: F403
from .reductions import *  # noqa: F403
from .rounding import *  # noqa: F403
from .scans import *  # noqa: F403
from .selection import *  # noqa: F403
from .shape import *  # noqa: F403
from .softmax import *  # noqa: F403
from .special import *  # noqa: F403

# Old names kept working with a DeprecationWarning: name here -> (module, name there).
# The fused kernels moved up to chainrule.nn.kernels (imported lazily: autograd does not
# import nn); two primitives were renamed to the leading-underscore convention.
DEPRECATED: dict[str, tuple[str, str]] = {
    "conv2d": ("chainrule.nn.kernels.conv", "conv2d"),
    "conv_transpose2d": ("chainrule.nn.kernels.conv", "conv_transpose2d"),
    "unfold": ("chainrule.nn.kernels.conv", "unfold"),
    "conv_padding": ("chainrule.nn.kernels.conv", "conv_padding"),
    "max_pool2d_": ("chainrule.nn.kernels.conv", "_max_pool2d"),
    "CONV_WORKSPACE_BYTES": ("chainrule.nn.kernels.im2col", "CONV_WORKSPACE_BYTES"),
    "lstm_gates": ("chainrule.nn.kernels.lstm", "lstm_gates"),
    "lstm_scan": ("chainrule.nn.kernels.lstm", "lstm_scan"),
    "linear_": ("chainrule.autograd.ops.linalg", "_linear"),
    "linear_nobias": ("chainrule.autograd.ops.linalg", "_linear_nobias"),
}


def __getattr__(name: str) -> Any:
    if name not in DEPRECATED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, new = DEPRECATED[name]
    warnings.warn(f"chainrule.autograd.ops.{name} is deprecated; use {module}.{new}",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), new)
