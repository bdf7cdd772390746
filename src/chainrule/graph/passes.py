"""Passes over a traced graph. Each keeps the results equal, bit for bit.

* ``eliminate_dead_code``: drop nodes no output depends on (every node is a pure function
  of its inputs: primitives and rules have no side effects);
* ``fold_constants``: run, once, the nodes whose inputs are all consts (not inputs, not
  params), and make their results consts;
* ``eliminate_common_subexpressions``: a node equal to an earlier one (same function, same
  input values, equal parameters) reuses the earlier one's outputs (never a random node,
  ``randomness.py``, which constant folding leaves alone too);
* ``plan_memory``: a NumPy ufunc node (add, mul, exp, tanh, ...) writes its result with
  ``out=`` into the array of a value whose last reader has already run (or runs in this
  very node: ``x = exp(x)`` in place), instead of allocating a new one. Only arrays a node
  made fresh are reused: never an input, a param, a const, or an array another live value
  views (``Var.buffer`` says which array each value lives in, as seen at trace time).
  Chains of elementwise ops then run in one buffer, which is the fusion NumPy allows
  without generating native code;
* ``lower_rules`` (``lower.py``): rule nodes that run whole (ReLU's, cross-entropy's)
  get a NumPy function computing the same numbers without tensors;
* ``specialize`` (``specialize.py``): reductions with their axes and counts found once;
* ``rewrite_patterns`` (``patterns.py``): cross-entropy's forward and backward share
  one softmax; ReLU's backward reads its mask from ReLU's output (so ReLU runs in place);
* ``fuse_elementwise`` (``fuse.py``): groups of elementwise nodes whose inner values are
  read only inside the group become one generated kernel of ufunc calls with ``out=``
  buffers (sigmoid, its backward, ReLU's backward run without temporaries).

``optimize(graph)`` runs them all (``compile`` does, unless ``optimize=False``) and
returns what each changed. The memory plan lives in ``graph.plan`` (node id -> extras for
the runner); the other passes rewrite ``graph.nodes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import _make
from .fuse import fuse_elementwise
from .ir import Graph, Node, Var
from .lower import lower_rules
from .patterns import rewrite_patterns
from .randomness import RANDOM
from .specialize import specialize


def _substitute(graph: Graph, mapping: dict[int, Var]) -> None:
    """Replace Vars (by identity) in the nodes' inputs and the graph's outputs."""
    if not mapping:
        return
    for node in graph.nodes:
        if any(id(v) in mapping for v in node.inputs):
            node.inputs = tuple(mapping.get(id(v), v) for v in node.inputs)
    graph.outputs = [None if v is None else mapping.get(id(v), v) for v in graph.outputs]


def eliminate_dead_code(graph: Graph) -> int:
    """Remove nodes whose outputs nothing reads; returns how many were removed."""
    live = {id(v) for v in graph.outputs if v is not None}
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if any(id(v) in live for v in node.outputs):
            kept.append(node)
            live.update(id(v) for v in node.inputs)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    graph.invalidate()
    return removed


def fold_constants(graph: Graph) -> int:
    """Evaluate nodes whose inputs are all consts; returns how many were folded."""
    mapping: dict[int, Var] = {}
    kept: list[Node] = []
    folded = 0
    next_id = 1 + max([v.id for n in graph.nodes for v in n.outputs] +
                      [v.id for v in graph.inputs] + [v.id for v in graph.consts] + [-1])
    for node in graph.nodes:
        if any(id(v) in mapping for v in node.inputs):
            node.inputs = tuple(mapping.get(id(v), v) for v in node.inputs)
        if (not node.inputs or any(v.kind != "const" for v in node.inputs)
                or node.op in RANDOM):
            kept.append(node)
            continue
        result = node.fn(*[v.value() for v in node.inputs], **node.params)
        results = result if isinstance(result, tuple) and len(node.outputs) > 1 else (result,)
        for v, arr in zip(node.outputs, results):
            arr = np.asarray(arr)
            c = Var(next_id, "const", arr.shape, arr.dtype, _make(arr))
            next_id += 1
            mapping[id(v)] = c
        folded += 1
    graph.nodes = kept
    _substitute(graph, mapping)
    graph.invalidate()
    return folded


def _freeze(x: Any) -> Any:
    """A hashable stand-in for a parameter value: equal keys mean equal values."""
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_freeze(e) for e in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((k, _freeze(v)) for k, v in x.items())))
    if isinstance(x, np.ndarray):
        if x.size <= 64:
            return ("array", x.shape, x.dtype.str, x.tobytes())
        return ("id", id(x))
    if isinstance(x, slice):
        return ("slice", _freeze(x.start), _freeze(x.stop), _freeze(x.step))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return (type(x).__name__, x)


def eliminate_common_subexpressions(graph: Graph) -> int:
    """Reuse the outputs of an earlier equal node; returns how many nodes were merged."""
    seen: dict[tuple, Node] = {}
    mapping: dict[int, Var] = {}
    kept: list[Node] = []
    for node in graph.nodes:
        if any(id(v) in mapping for v in node.inputs):
            node.inputs = tuple(mapping.get(id(v), v) for v in node.inputs)
        fn = getattr(node.fn, "rule", node.fn)
        key = (node.name, id(fn), tuple(id(v) for v in node.inputs), _freeze(node.params))
        first = None if node.op in RANDOM else seen.get(key)
        if first is None:
            seen[key] = node
            kept.append(node)
            continue
        for old, new in zip(node.outputs, first.outputs):
            mapping[id(old)] = new
    merged = len(graph.nodes) - len(kept)
    graph.nodes = kept
    _substitute(graph, mapping)
    graph.invalidate()
    return merged


def _writes_out(node: Node) -> bool:
    """Whether the node is a plain NumPy ufunc call (or a lowered rule, ``lower.py``) that
    can take ``out=``."""
    fn = node.fn
    takes_out = (isinstance(fn, np.ufunc) and fn.nout == 1) or getattr(fn, "takes_out", False)
    return (takes_out and not node.params and len(node.outputs) == 1
            and len(node.outputs[0].shape) > 0)


def plan_memory(graph: Graph) -> int:
    """Choose ``out=`` buffers for ufunc nodes (see the module docstring); returns how many
    nodes write into a reused array."""
    last: dict[int, int] = {}  # id(Var) -> index of the last node reading it
    for k, node in enumerate(graph.nodes):
        for v in node.inputs:
            last[id(v)] = k
    returned = {id(v) for v in graph.outputs if v is not None}
    # A buffer some other value views (a reshape, a slice) is never reused.
    pinned = {v.buffer for n in graph.nodes for v in n.outputs
              if v.buffer is not None and v.buffer != v.id}
    owner: dict[int, Var] = {}  # buffer id -> the value that holds the whole array now
    free: dict[tuple, list[Var]] = {}  # (shape, dtype) -> owners of free buffers
    plan: dict[int, dict[str, Any]] = {}
    for k, node in enumerate(graph.nodes):
        for v in dict.fromkeys(node.inputs):  # dead after this node: free for it already
            b = v.buffer
            if (v.kind == "value" and b is not None and b not in pinned and owner.get(b) is v
                    and last[id(v)] == k and id(v) not in returned):
                free.setdefault((v.shape, v.dtype), []).append(v)
                del owner[b]
        out = node.outputs[0]
        pool = free.get((out.shape, out.dtype)) if _writes_out(node) else None
        if pool:
            holder = pool.pop()
            plan[id(node)] = {"out": holder}
            out.buffer = holder.buffer
            owner[out.buffer] = out
            continue
        for v in node.outputs:
            if v.buffer is not None and v.buffer == v.id:
                owner[v.buffer] = v
    graph.plan = plan
    graph.invalidate()
    return len(plan)


def optimize(graph: Graph, fast_math: bool = False) -> dict[str, int]:
    """Run every pass; returns the count of changes per pass. ``fast_math``: see
    ``fuse.fuse_elementwise`` (off: every pass keeps the results bit for bit)."""
    done = {"dead code": eliminate_dead_code(graph),
            "constants folded": fold_constants(graph),
            "common subexpressions": eliminate_common_subexpressions(graph)}
    done["dead code"] += eliminate_dead_code(graph)
    done["rules lowered to NumPy"] = lower_rules(graph)
    done["reductions specialised"] = specialize(graph)
    done.update(rewrite_patterns(graph))
    done["nodes fused"] = fuse_elementwise(graph, fast_math)
    done["buffers reused"] = plan_memory(graph)
    return done
