"""Whole Jacobians and Hessians, built from vjps (reverse) or jvps (forward), on pytrees.

``jacobian(f, argnums, mode)(*args)`` has, for every output leaf, for every chosen
argument, for every leaf of that argument, an array of shape ``out.shape + in.shape`` —
nested as JAX's ``jacrev``/``jacfwd``: the output's structure outside, the argument's
inside (a tuple over arguments when ``argnums`` is a tuple).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ops
from .functional import _argnums, _float_tensor, _Traced, _zeros_for, jvp
from .pytree import split_leaves, tree_flatten
from .tensor import Tensor, _make

HESSIAN_MODES = ("fwd-rev", "rev-rev", "rev-fwd", "fwd-fwd")


def _block(parts: list[Tensor], out: Tensor, x: Tensor, axis: int) -> Tensor:
    if not parts:
        return _make(np.zeros(out.shape + x.shape, dtype=np.result_type(out.dtype, x.dtype)))
    return ops.reshape(ops.stack(parts, axis=axis), out.shape + x.shape)


def _assemble(blocks: list[list[Tensor]], out_def: Any, run: Any, single: bool) -> Any:
    """blocks[k][j] (output leaf k, input leaf j) nested as the output of args."""
    per_out = []
    for row in blocks:
        parts = run.split(row)
        per_out.append(parts[0] if single else tuple(parts))
    return out_def.unflatten(per_out)


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev",
             has_aux: bool = False) -> Callable:
    """The Jacobian function: shape ``f(x).shape + x.shape`` for each argument in argnums.

    ``mode="rev"`` builds it row by row with vector-Jacobian products (one backward pass
    per output element); ``mode="fwd"`` column by column with jvps (one forward pass per
    input element). Choose the mode whose count is smaller. Inputs and outputs may be
    pytrees (see the module docstring). ``has_aux=True``: ``f`` returns ``(out, aux)``
    and the result is ``(jacobian, aux)``.
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def rev(*args: Any) -> Any:
        nums, single = _argnums(argnums, len(args))
        run = _Traced(f, args, nums, has_aux)
        o_leaves, o_def = tree_flatten(run.out)
        blocks = []
        for o in (_float_tensor(v) for v in o_leaves):
            rows: list[list[Tensor]] = [[] for _ in run.inputs]
            for k in range(o.data.size):
                seed = np.zeros(o.data.size, dtype=o.dtype)
                seed[k] = 1
                gs = (run.cotangents([o], [seed.reshape(o.shape)], run.create) if o._rg
                      else [_zeros_for(t) for t in run.inputs])
                for j, g in enumerate(gs):
                    rows[j].append(g)
            blocks.append([_block(r, o, t, 0) for r, t in zip(rows, run.inputs)])
        jac = _assemble(blocks, o_def, run, single)
        return (jac, run.value(run.aux)) if has_aux else jac

    def fwd(*args: Any) -> Any:
        nums, single = _argnums(argnums, len(args))
        run = _Layout(args, nums)
        aux_box: list[Any] = []

        def flat_f(*leaves: Tensor) -> Any:
            out = f(*run.rebuild(leaves))
            if has_aux:
                out, aux = out
                aux_box[:] = [aux]
            return out

        base = run.inputs
        cols: list[list[list[Tensor]]] = []  # per input leaf, per output leaf: columns
        o_leaves: list[Any] = []
        o_def = None
        for j, x in enumerate(base):
            per_out: list[list[Tensor]] = []
            for k in range(x.data.size):
                tangents = [_zeros_for(t) for t in base]
                e = np.zeros(x.data.size, dtype=x.dtype)
                e[k] = 1
                tangents[j] = _make(e.reshape(x.shape))
                out, tan = jvp(flat_f, base, tangents)
                o_leaves, o_def = tree_flatten(out)
                if not per_out:
                    per_out = [[] for _ in o_leaves]
                for m, t in enumerate(tree_flatten(tan)[0]):
                    per_out[m].append(t)
            cols.append(per_out)
        if o_def is None:  # no input element at all: evaluate once for the output's shape
            o_leaves, o_def = tree_flatten(flat_f(*base))
        outs = [_float_tensor(o) for o in o_leaves]
        blocks = [[_block(cols[j][m] if cols[j] else [], o, x, -1)
                   for j, x in enumerate(base)] for m, o in enumerate(outs)]
        jac = _assemble(blocks, o_def, run, single)
        return (jac, aux_box[0] if aux_box else None) if has_aux else jac

    return rev if mode == "rev" else fwd


class _Layout:
    """The chosen arguments' leaves as float tensors, and the full argument list back."""

    def __init__(self, args: tuple, nums: tuple[int, ...]) -> None:
        self.args = list(args)
        self.nums = nums
        self.defs = []
        self.inputs: list[Tensor] = []
        for i in nums:
            leaves, treedef = tree_flatten(args[i])
            self.defs.append(treedef)
            self.inputs.extend(_float_tensor(v) for v in leaves)

    def rebuild(self, leaves: Sequence[Tensor]) -> list[Any]:
        args = list(self.args)
        start = 0
        for i, treedef in zip(self.nums, self.defs):
            args[i] = treedef.unflatten(leaves[start:start + treedef.num_leaves])
            start += treedef.num_leaves
        return args

    def split(self, flat: Sequence[Any]) -> list[Any]:
        return split_leaves(self.defs, flat)


def hessian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "fwd-rev") -> Callable:
    """The Hessian of a scalar ``f`` (shape ``x.shape + x.shape``; for pytrees and tuples of
    argnums nested as ``jax.hessian``).

    ``mode`` is "outer-inner": "fwd-rev" (default: forward over the reverse-mode gradient),
    "rev-rev", "rev-fwd" or "fwd-fwd" (pure forward mode, nested jvps). All give the same
    numbers; they differ in cost.
    """
    if mode not in HESSIAN_MODES:
        raise ValueError(f"hessian: mode must be one of {HESSIAN_MODES}, got {mode!r}")
    outer, inner = mode.split("-")
    return jacobian(jacobian(f, argnums, mode=inner), argnums, mode=outer)
