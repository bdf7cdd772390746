"""``compile_step``: a compiled training step for tensors that are trained in place.

    step = compile_step(lambda x, y: loss_fn(model(x), y), model.parameters(), optimizer)
    loss = step(x_batch, y_batch)

One call runs one graph — the loss and the gradient of every parameter, forward and
backward traced together (``value_and_grad`` of the captured parameters) — then puts the
gradients in ``p.grad`` (replacing what was there, as ``zero_grad`` + ``backward`` would)
and calls ``optimizer.step()``. The optimizer's update stays outside the graph, as the
in-place NumPy update it already is; the graph reads the parameters by reference, so the
next call sees the updated values. This is the whole-training-step form this library
chooses: parameters captured by reference, gradients as graph outputs, the in-place update
explicit after the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import engine
from ..autograd.tensor import Tensor
from .compile import Compiled, signature
from .ir import TraceError


class CompiledStep:
    """See the module docstring. ``compiled`` is the underlying ``Compiled`` function
    (its ``graphs`` hold one traced training step per batch signature)."""

    def __init__(self, loss_fn: Callable[..., Any], params: Iterable[Tensor],
                 optimizer: Any = None, optimize: bool = True, has_aux: bool = False,
                 model: Any = None, fast_math: bool = False) -> None:
        self.model = model
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("compile_step needs at least one parameter that requires grad")
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        params_ = self.params

        def loss_and_grads(*batch: Any) -> tuple[Any, list]:
            result = loss_fn(*batch)
            loss = result[0] if has_aux else result
            if not isinstance(loss, Tensor) or loss.data.size != 1:
                raise ValueError("compile_step: loss_fn must return a scalar tensor"
                                 + (" (first of the pair)" if has_aux else ""))
            return result, engine.grad([loss], params_)

        loss_and_grads.__name__ = getattr(loss_fn, "__name__", "step")
        self.compiled = Compiled(loss_and_grads, optimize=optimize, fast_math=fast_math)

    def __call__(self, *batch: Any) -> Any:
        before = None
        if self.model is not None and signature(batch) not in self.compiled.graphs:
            before = _buffers(self.model)  # this call traces: its state must not change
        result, grads = self.compiled(*batch)
        if before is not None and any(not np.array_equal(a, b, equal_nan=True)
                                      for a, b in zip(before, _buffers(self.model))):
            self.compiled.forget(signature(batch))
            _restore(self.model, before)  # as if this call had not run: eager can take over
            raise TraceError(
                "compile_step: the model's buffers changed while its step was traced (a "
                "BatchNorm's running statistics in training mode, a counter): the change "
                "would happen at trace time only. Train such a model eagerly, or freeze "
                "that state (eval mode for BatchNorm)")
        for p, g in zip(self.params, grads):
            p.grad = g
        if self.optimizer is not None:
            self.optimizer.step()
        return result


def compile_step(loss_fn: Callable[..., Any], params: Iterable[Tensor],
                 optimizer: Any = None, *, optimize: bool = True,
                 has_aux: bool = False, model: Any = None,
                 fast_math: bool = False) -> CompiledStep:
    """A compiled training step (see the module docstring). With ``has_aux=True``,
    ``loss_fn`` returns ``(loss, aux)`` (aux: a pytree of tensors, e.g. the model's output
    for metrics) and the step returns that pair. ``model`` (a Module): its buffers are
    checked not to change while a step is traced (``TraceError`` otherwise).
    ``fast_math``: see ``compile``."""
    return CompiledStep(loss_fn, params, optimizer, optimize, has_aux, model, fast_math)


def _buffers(model: Any) -> list[np.ndarray]:
    named = getattr(model, "named_buffers", None)
    if named is None:
        return []
    return [np.array(b.data if isinstance(b, Tensor) else b, copy=True) for _, b in named()]


def _restore(model: Any, values: list[np.ndarray]) -> None:
    """Write ``values`` (from :func:`_buffers`) back into the model's buffers."""
    for (_, b), v in zip(model.named_buffers(), values):
        np.copyto(b.data if isinstance(b, Tensor) else b, v)
