"""Rules recorded flat: a vjp rule's own primitive calls become nodes, when that is safe.

A rule is a function of its tensors ``(g, y, *xs)`` written with primitives, but it may
also read their values in NumPy to build a constant (a ReLU's mask ``x.data > 0``, a max's
ties, a cross-entropy's one-hot targets). Recorded primitive by primitive, such a constant
would be frozen at its trace-time value. So the tracer records the rule's primitives
tentatively and checks the recording: it evaluates the recorded nodes on other values of
the rule's inputs (the inputs negated, random ones three times as large, each scaled at
random; integers drawn in their range, booleans flipped) and compares with the rule run
afresh on those values. Only a recording that agrees bit for bit on every trial is kept;
otherwise the rule becomes one node that runs it whole (``vjp.<name>[i]``), which is
always right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..autograd.tensor import Tensor, _make
from .ir import TraceError

if TYPE_CHECKING:  # trace.py imports this module
    from .ir import Node, Var
    from .trace import Tracer

_TRIALS = 3


def record_flat(tracer: Tracer, rule: Callable, tensors: tuple, ins: tuple, params: dict,
                joint: bool) -> tuple[bool, Any]:
    """Run ``rule`` recording its primitives; ``(True, result)`` when the recording was
    kept (its nodes are appended), ``(False, result)`` when the caller must record the rule
    as one node (``result`` is None when the rule raised while recorded flat)."""
    saved_nodes, saved_depth = tracer.nodes, tracer.depth
    sub: list[Node] = []
    tracer.nodes, tracer.depth = sub, 0
    try:
        result = rule(*tensors, **params)
    except TraceError:  # it read a traced value in Python: run it whole
        return False, None
    finally:
        tracer.nodes, tracer.depth = saved_nodes, saved_depth
    outs = tuple(result) if joint else (result,)
    out_vars = [None if t is None else tracer.var_of(t) for t in outs]
    tracer.depth += 1  # the checks run the rule eagerly: record nothing
    try:
        ok = all(_agrees(sub, ins, out_vars, rule, params, joint, _trial(tensors, ins, k))
                 for k in range(_TRIALS))
    finally:
        tracer.depth -= 1
    if ok:
        saved_nodes.extend(sub)
    return ok, result


_rng = np.random.default_rng(20161)


def _trial(tensors: tuple, ins: tuple, k: int) -> list[np.ndarray]:
    """Other values for the rule's arguments: one per distinct Var (``x * x`` stays a
    square)."""
    by_var: dict[int, np.ndarray] = {}
    for t, v in zip(tensors, ins):
        if id(v) not in by_var:
            by_var[id(v)] = _perturbed(t.data, k)
    return [by_var[id(v)] for v in ins]


def _perturbed(a: np.ndarray, trial: int) -> np.ndarray:
    """Other values of the same shape and dtype (see the module docstring)."""
    kind = a.dtype.kind
    if kind == "b":
        return ~a if trial == 0 else _rng.random(a.shape) < 0.5
    if kind in "iu":
        if a.size == 0:
            return a
        lo, hi = int(a.min()), int(a.max())
        return _rng.integers(lo, max(hi, lo + 1) + 1, size=a.shape).astype(a.dtype)
    if kind not in "fc":
        return a
    if trial == 0:
        return -a
    if trial == 1:
        return (3 * _rng.standard_normal(a.shape)).astype(a.dtype)
    return (a * _rng.uniform(0.5, 2.0, a.shape)).astype(a.dtype)


def _agrees(sub: list[Node], ins: tuple, out_vars: list[Var | None], rule: Callable,
            params: dict, joint: bool, new: list[np.ndarray]) -> bool:
    """Whether the recorded nodes on ``new`` give what the rule gives on ``new``."""
    try:
        with np.errstate(all="ignore"):
            expected = rule(*[_make(a) for a in new], **params)
            env: dict[int, Any] = {id(v): a for v, a in zip(ins, new)}
            for node in sub:
                args = [env[id(v)] if id(v) in env else v.value() for v in node.inputs]
                env[id(node.outputs[0])] = np.asarray(node.fn(*args, **node.params))
    except Exception:  # noqa: BLE001 - any failure on other values: record the rule whole
        return False
    expected = tuple(expected) if joint else (expected,)
    for v, e in zip(out_vars, expected):
        if (v is None) != (e is None):
            return False
        if v is None:
            continue
        got = env[id(v)] if id(v) in env else v.value()
        if not _same(got, e.data if isinstance(e, Tensor) else np.asarray(e)):
            return False
    return True


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
