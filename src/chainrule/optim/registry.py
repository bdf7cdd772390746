"""Optimizers by name: the one registry the command line, the descent pictures and the
model factories share.

>>> from chainrule.optim import create_optimizer
>>> opt = create_optimizer("momentum", [w], lr=0.01)        # SGD with momentum 0.9

Each entry is an :class:`OptimizerSpec`: a display label, the optimizer class, the keyword
arguments that make this variant (``momentum=0.9`` for "momentum") and a learning rate that
is a sensible place to start when the caller gives none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .adam import Adam, Adamax, AdamW, NAdam
from .adaptive import Adagrad, RMSprop
from .optimizer import Optimizer, ParamsLike
from .sgd import SGD

__all__ = ["OPTIMIZERS", "OptimizerSpec", "create_optimizer"]


@dataclass(frozen=True)
class OptimizerSpec:
    """How to build one named optimizer."""

    label: str
    cls: type[Optimizer]
    kwargs: dict[str, Any] = field(default_factory=dict)
    default_lr: float = 1e-3

    def __call__(self, params: ParamsLike, lr: float | None = None, **overrides: Any) -> Optimizer:
        kwargs = {**self.kwargs, **overrides}
        return self.cls(params, lr=self.default_lr if lr is None else lr, **kwargs)


#: Optimizers by name. Momentum and Nesterov use 0.9; the others keep the class defaults
#: (which follow PyTorch's; AdamW: weight decay 0.01).
OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec("SGD", SGD, default_lr=0.05),
    "momentum": OptimizerSpec("momentum", SGD, {"momentum": 0.9}, default_lr=0.01),
    "nesterov": OptimizerSpec("Nesterov", SGD, {"momentum": 0.9, "nesterov": True},
                              default_lr=0.01),
    "adagrad": OptimizerSpec("AdaGrad", Adagrad, default_lr=1e-2),
    "rmsprop": OptimizerSpec("RMSProp", RMSprop, default_lr=1e-3),
    "adam": OptimizerSpec("Adam", Adam, default_lr=1e-3),
    "adamw": OptimizerSpec("AdamW", AdamW, default_lr=1e-3),
    "adamax": OptimizerSpec("Adamax", Adamax, default_lr=2e-3),
    "nadam": OptimizerSpec("NAdam", NAdam, default_lr=2e-3),
}


def create_optimizer(name: str, params: ParamsLike, lr: float | None = None,
                     **overrides: Any) -> Optimizer:
    """The optimizer registered as ``name`` (case-insensitive) over ``params``.

    ``lr=None`` takes the entry's starting learning rate; ``overrides`` replace or add
    keyword arguments (``create_optimizer("sgd", ps, 0.1, momentum=0.5)``). An unknown name
    raises ``ValueError`` listing the known ones.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key](params, lr, **overrides)
