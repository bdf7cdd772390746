"""Helpers of ``chainrule.numpy``: array-likes holding tensors become stacked tensors."""

from __future__ import annotations

import builtins
from typing import Any

from ..autograd import ops as _ops
from ..autograd.tensor import Tensor


def _has_tensor(obj: Any) -> bool:
    if isinstance(obj, Tensor):
        return True
    if isinstance(obj, (list, tuple)):
        return builtins.any(_has_tensor(o) for o in obj)
    return False


def _build(obj: Any) -> Tensor:
    """A nested list holding tensors as one tensor, stacked so that it differentiates."""
    if isinstance(obj, (list, tuple)) and _has_tensor(obj):
        parts = [_build(o) for o in obj]
        float_parts = [p for p in parts if p.dtype.kind in "fc"]
        like = float_parts[0] if float_parts else None
        parts = [p if like is None or p.dtype == like.dtype else _ops.cast(p, like.dtype)
                 for p in parts]
        return _ops.stack(parts, axis=0)
    return _ops.lift(obj)


def _t(a: Any) -> Any:
    """Lists holding tensors become one stacked tensor; anything else passes unchanged."""
    return _build(a) if isinstance(a, (list, tuple)) and _has_tensor(a) else a
