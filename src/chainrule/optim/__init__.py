"""Optimizers, learning-rate schedules, gradient clipping and the learning-rate finder.

>>> import chainrule as cr
>>> from chainrule.optim import Adam
>>> w = cr.tensor([1.0, -2.0], requires_grad=True)
>>> opt = Adam([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step(); opt.zero_grad()

Every optimizer follows PyTorch's ``torch.optim`` algorithm of the same name (same
defaults, same state names); its docstring states the update equations. Schedules live
in :mod:`chainrule.optim.schedules`.
"""

from . import schedules
from .adam import Adam, Adamax, AdamW, NAdam
from .adaptive import Adagrad, RMSprop
from .clip import clip_grad_norm_, clip_grad_value_
from .lr_finder import LRFinderResult, find_lr, suggest_lr
from .one_cycle_book import OneCycleThreePhase  # issue 20 (Hands-On ML's 1cycle)
from .optimizer import Optimizer
from .registry import OPTIMIZERS, OptimizerSpec, create_optimizer
from .schedules import (
    CosineDecay,
    ExponentialDecay,
    LinearDecay,
    LRSchedule,
    MultiStepDecay,
    OneCycle,
    PiecewiseConstant,
    PowerDecay,
    ReduceLROnPlateau,
    StepDecay,
)
from .sgd import SGD
from .sparse import SparseAdam  # issue 20: Embedding(sparse=True)
from .surfaces import (
    SURFACES,
    Surface,
    SurfacePath,
    compare_optimizers,
    get_surface,
    optimize_surface,
    surface_names,
)

__all__ = [
    "OPTIMIZERS", "SGD", "clip_grad_norm_", "clip_grad_value_", "create_optimizer", "find_lr",
    "schedules", "suggest_lr", "Adagrad", "Adam", "AdamW", "Adamax", "CosineDecay",
    "ExponentialDecay", "LRFinderResult", "LRSchedule", "LinearDecay", "MultiStepDecay", "NAdam",
    "OneCycle", "OneCycleThreePhase",  # issue 20
    "Optimizer", "OptimizerSpec", "PiecewiseConstant", "PowerDecay", "RMSprop",
    "ReduceLROnPlateau", "StepDecay",
    "SparseAdam",  # issue 20
    # test surfaces and optimizer walks on them (chainrule.optim.surfaces)
    "SURFACES", "Surface", "SurfacePath", "compare_optimizers", "get_surface",
    "optimize_surface", "surface_names",
]
