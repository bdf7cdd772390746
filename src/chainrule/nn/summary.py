"""``model.summary(input_shape)``: one row per layer, Keras style."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor
from .module import Module


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int


@dataclass
class ModelSummary:
    model_name: str
    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        head = f"{'Layer (type)':<32}{'Output shape':<24}{'Param #':>12}"
        rule = "=" * len(head)
        lines = [f'Model: "{self.model_name}"', rule, head, rule]
        for r in self.rows:
            shape = "(None, " + ", ".join(map(str, r.output_shape[1:])) + ")" \
                if len(r.output_shape) > 1 else "(None,)"
            lines.append(f"{r.name + ' (' + r.kind + ')':<32}{shape:<24}{r.params:>12,}")
        lines += [rule,
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}", rule]
        return "\n".join(lines)


def _own_counts(m: Module) -> tuple[int, int]:
    total = sum(p.data.size for p in m._parameters.values() if p is not None)
    trainable = sum(p.data.size for p in m._parameters.values()
                    if p is not None and p.requires_grad)
    total += sum(b.size for b in m._buffers.values() if b is not None)
    return int(total), int(trainable)


def summarize(model: Module, input_shape: tuple[int, ...], batch_size: int = 1,
              dtype: Any = np.float32) -> ModelSummary:
    """Run one forward pass on zeros and record each leaf layer's output."""
    names = {id(m): n for n, m in model.named_modules()}
    rows: list[LayerRow] = []

    def record(mod: Module, args: Any, out: Any) -> None:
        if mod._modules:  # containers: their children are listed instead
            return
        shape = out.shape if isinstance(out, Tensor) else np.shape(out)
        total, trainable = _own_counts(mod)
        rows.append(LayerRow(names.get(id(mod), "?") or type(mod).__name__.lower(),
                             type(mod).__name__, tuple(shape), total, trainable))

    was_training = model.training
    model.eval()
    Module._output_hooks.append(record)
    try:
        with no_grad():
            model(Tensor(np.zeros((batch_size, *input_shape), dtype=dtype)))
    finally:
        Module._output_hooks.remove(record)
        model.train(was_training)
    total = model.num_parameters() + sum(b.size for _, b in model.named_buffers())
    trainable = model.num_parameters(trainable_only=True)
    return ModelSummary(type(model).__name__, tuple(input_shape), rows, int(total),
                        int(trainable))
