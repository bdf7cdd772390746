"""Make every replica start identical: broadcast a model's state and an optimizer's state.

Call both after building the model and optimizer (and after loading a checkpoint on the
primary rank only): the root's values overwrite everyone else's. Before any data moves,
the ranks compare what they hold (names, shapes, dtypes) and, if any rank differs, all of
them raise the same ``ValueError`` naming the first parameter that does not match, so a
rank built with another architecture is caught here rather than hanging or silently
averaging mismatched gradients later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._mpi import comm
from .collectives import agree, broadcast_, broadcast_object

__all__ = ["broadcast_optimizer_state", "broadcast_parameters"]


def _named_arrays(model: Any) -> list[tuple[str, np.ndarray]]:
    """(name, array) of every parameter and buffer (a Module), or of a list of Tensors."""
    if hasattr(model, "named_parameters"):
        arrays = [(n, p.data) for n, p in model.named_parameters()]
        if hasattr(model, "named_buffers"):
            arrays += [(n, b) for n, b in model.named_buffers()]
        return arrays
    if isinstance(model, dict):  # a state dict
        return [(str(k), np.asarray(v)) for k, v in model.items()]
    return [(f"param[{i}]", p.data) for i, p in enumerate(model)]


def _mismatch(mine: list[tuple[str, tuple, str]], root: list[tuple[str, tuple, str]],
              my_rank: int, root_rank: int) -> str | None:
    for i, (a, b) in enumerate(zip(mine, root)):
        if a != b:
            return (f"parameter {i} is {a[0]!r} of shape {a[1]} ({a[2]}) on rank {my_rank} "
                    f"but {b[0]!r} of shape {b[1]} ({b[2]}) on rank {root_rank}")
    if len(mine) != len(root):
        extra = mine[len(root)][0] if len(mine) > len(root) else root[len(mine)][0]
        return (f"{len(mine)} parameters and buffers on rank {my_rank}, {len(root)} on rank "
                f"{root_rank} (first unmatched: {extra!r})")
    return None


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Copy root's parameters and buffers (e.g. batch-norm running statistics) into every
    rank's ``model``, in place.

    ``model`` is a :class:`~chainrule.nn.Module`, a list of parameters, or a state dict of
    arrays. Raises ValueError on all ranks, naming the parameter, when the ranks' models
    differ in names, shapes or dtypes.
    """
    arrays = _named_arrays(model)
    world = comm()
    if world is None or world.size == 1:
        return
    sig = [(n, tuple(a.shape), a.dtype.name) for n, a in arrays]
    root_sig = broadcast_object(sig, root)
    agree(_mismatch(sig, root_sig, world.rank, root),
          "broadcast_parameters: the models differ across ranks")
    for _, a in arrays:
        if a.flags.c_contiguous:
            broadcast_(a, root)
        else:
            tmp = np.ascontiguousarray(a)
            a[...] = broadcast_(tmp, root)


def broadcast_optimizer_state(optimizer: Any, root: int = 0) -> None:
    """Give every rank root's optimizer state (moments, step counts, learning rates).

    Works for any optimizer with ``state_dict``/``load_state_dict`` (a
    :class:`DistributedOptimizer` passes through to the one it wraps). Raises ValueError on
    all ranks when a rank cannot take root's state (e.g. a moment of another shape),
    with the optimizer's message naming the parameter.
    """
    world = comm()
    if world is None or world.size == 1:
        return
    state = broadcast_object(optimizer.state_dict() if world.rank == root else None, root)
    sig = [tuple(np.shape(p.data)) for g in optimizer.param_groups for p in g["params"]]
    root_sig = broadcast_object(sig, root)
    error = None
    if sig != root_sig:
        bad = next((i for i, (a, b) in enumerate(zip(sig, root_sig)) if a != b), min(len(sig),
                                                                                      len(root_sig)))
        error = (f"parameter {bad} has shape {sig[bad] if bad < len(sig) else None} on rank "
                 f"{world.rank}, {root_sig[bad] if bad < len(root_sig) else None} on rank "
                 f"{root}")
    agree(error, "broadcast_optimizer_state: the optimizers differ across ranks")
    try:
        if world.rank != root:
            optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError) as err:
        error = f"rank {world.rank} cannot load rank {root}'s state: {err}"
    agree(error, "broadcast_optimizer_state")

