"""``Trainer(..., compile=True)``: the supervised step as one compiled graph.

The forward pass, the loss and every parameter's gradient are traced once per batch
signature (:func:`chainrule.graph.compile_step`) and run as a graph; the optimizer then
updates the parameters in place, as in the eager step. A model that cannot be traced
(BatchNorm in training mode changes its running statistics, a layer reads tensor values
in Python, ...) is trained eagerly instead, after one warning that says why.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..graph import TraceError, compile_step


def compiled_step(trainer: Any, x: Any, y: np.ndarray) -> tuple[Tensor, Tensor] | None:
    """``(loss, output)`` of one compiled training step of ``trainer`` (parameters already
    updated), or ``None`` after switching ``trainer.compile`` off when tracing fails."""
    if trainer._compiled is None:
        def loss_and_output(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
            out = trainer.model(xb)
            value = trainer.loss(out, yb)
            if trainer.regularizer is not None:
                value = value + trainer.regularizer(trainer.model)
            return value, out

        trainer._compiled = compile_step(loss_and_output, trainer.model.parameters(),
                                         trainer.optimizer, has_aux=True, model=trainer.model)
    try:
        return trainer._compiled(trainer._input(x), y)
    except TraceError as e:
        warnings.warn(f"Trainer(compile=True): this model cannot be compiled ({e}); "
                      "training eagerly instead", RuntimeWarning, stacklevel=3)
        trainer.compile = False
        return None
