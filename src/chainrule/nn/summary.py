"""``model.summary(input_shape)``: one row per layer, Keras style."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor

if TYPE_CHECKING:  # summarize() is called by Module.summary(): no import cycle at run time
    from .module import Module


def format_bytes(n: float) -> str:
    """Decimal units, as Hands-On ML counts them: 6,000,000 bytes is "6 MB"."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    output_bytes: int = 0  # one example's output, in the model's dtype


@dataclass
class ModelSummary:
    """Per-layer shapes and parameter counts, and activation memory estimates.

    Memory counts the activations (layer outputs) for ONE example: ``training_bytes`` is
    the sum of every layer's output plus the input, all kept for backward;
    ``inference_bytes`` is the largest input + output of a single layer, since a layer's
    input can be freed once the next one has run. Multiply by the batch size for a batch.
    Parameters, gradients and optimizer state come on top. A layer (or container) with a
    ``summary_kept_elements(args, output)`` method reports what it keeps per example
    instead of its output size: MultiheadAttention its projections and its heads x
    queries x keys attention weights, a Transformer layer its inner activations.
    """

    model_name: str
    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    input_bytes: int = 0
    batch_size: int = 1

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def training_bytes(self) -> int:
        return self.input_bytes + sum(r.output_bytes for r in self.rows)

    @property
    def inference_bytes(self) -> int:
        sizes = [self.input_bytes] + [r.output_bytes for r in self.rows]
        return max((a + b for a, b in zip(sizes, sizes[1:])), default=self.input_bytes)

    def __str__(self) -> str:
        head = f"{'Layer (type)':<30}{'Output shape':<24}{'Param #':>11}{'Output/example':>16}"
        rule = "=" * len(head)
        lines = [f'Model: "{self.model_name}"', rule, head, rule]
        for r in self.rows:
            shape = "(None, " + ", ".join(map(str, r.output_shape[1:])) + ")" \
                if len(r.output_shape) > 1 else "(None,)"
            lines.append(f"{r.name + ' (' + r.kind + ')':<30}{shape:<24}{r.params:>11,}"
                         f"{format_bytes(r.output_bytes):>16}")
        b = self.batch_size
        lines += [rule,
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}",
                  f"Activation memory per example: training {format_bytes(self.training_bytes)}"
                  f", inference {format_bytes(self.inference_bytes)}",
                  f"Activation memory per batch of {b}: training "
                  f"{format_bytes(self.training_bytes * b)}, inference "
                  f"{format_bytes(self.inference_bytes * b)}", rule]
        return "\n".join(lines)


def _own_counts(m: Module, counted: set[int]) -> tuple[int, int]:
    """Parameter counts of ``m``'s own tensors; a parameter shared with a layer listed
    earlier (tied weights) is counted there only, so the rows add up to the total."""
    params = [p for p in m._parameters.values() if p is not None and id(p) not in counted]
    counted.update(id(p) for p in params)
    total = sum(p.data.size for p in params)
    trainable = sum(p.data.size for p in params if p.requires_grad)
    total += sum(b.size for b in m._buffers.values() if b is not None)
    return int(total), int(trainable)


def summarize(model: Module, input_shape: tuple[int, ...], batch_size: int = 1,
              dtype: Any = np.float32) -> ModelSummary:
    """Run one forward pass on zeros and record each leaf layer's output."""
    names = {id(m): n for n, m in model.named_modules()}
    rows: list[LayerRow] = []
    counted: set[int] = set()

    def record(mod: Module, args: Any, out: Any) -> None:
        kept = getattr(mod, "summary_kept_elements", None)
        if mod._modules and kept is None:  # containers: their children are listed instead
            return
        if isinstance(out, tuple):  # (output, extras), as MultiheadAttention's
            out = out[0]
        shape = out.shape if isinstance(out, Tensor) else np.shape(out)
        total, trainable = _own_counts(mod, counted)
        # A layer that keeps more for backward than its output (attention's B*H*T^2
        # weights, a block's inner activations) says how much, per example.
        elements = int(np.prod(shape[1:])) if kept is None else int(kept(args, out))
        per_example = elements * np.dtype(dtype).itemsize
        rows.append(LayerRow(names.get(id(mod), "?") or type(mod).__name__.lower(),
                             type(mod).__name__, tuple(shape), total, trainable, per_example))

    was_training = model.training
    model.eval()
    hooks = type(model)._output_hooks  # the one list every Module shares
    hooks.append(record)
    try:
        with no_grad():
            model(Tensor(np.zeros((1, *input_shape), dtype=dtype)))
    finally:
        hooks.remove(record)
        model.train(was_training)
    total = model.num_parameters() + sum(b.size for _, b in model.named_buffers())
    trainable = model.num_parameters(trainable_only=True)
    input_bytes = int(np.prod(input_shape)) * np.dtype(dtype).itemsize
    return ModelSummary(type(model).__name__, tuple(input_shape), rows, int(total),
                        int(trainable), input_bytes, batch_size)
