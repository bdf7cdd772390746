"""Known patterns of a training step, rewritten to share work; results stay bit for bit.

* **Cross-entropy and its backward** (``share_softmax``): the forward
  ``softmax_cross_entropy(z, t)`` computes ``log_softmax(z)`` (max, exp, sum, log), and its
  backward — ``vjp.softmax_cross_entropy[0]`` lowered to NumPy (``lower.py``) — computes
  ``softmax(z)`` again (max, exp, sum, divide). With the same max (the row maxima are
  finite: checked at run time, else both are computed apart as before), ``exp(z - m)`` and
  its sum are the same arrays in both, so the forward node also returns the softmax and
  the backward only subtracts the one-hot targets and scales it, in place.
* **ReLU's backward reads its output** (``relu_mask_from_output``): the lowered rule
  computes ``g * (x > 0)``; ``relu(x) > 0`` is true exactly where ``x > 0`` is (NaN and
  -0.0 included), so the node reads ``y`` for its mask. ``x`` — the pre-activation, a
  (batch, hidden) array — then dies at the forward ReLU, which the memory plan runs in
  place, as the hand-written ``np.maximum(h, 0, out=h)`` does.

``tests/graph/test_patterns.py`` checks both bit for bit against the graph without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.ops.softmax import _sce_np, _softmax_np
from .ir import Graph, Node, Var
from .lower import _relu_vjp, _sce_vjp

_ROWS: dict[int, np.ndarray] = {}


def _rows(n: int) -> np.ndarray:
    """``np.arange(n)`` (read only, made once per size)."""
    rows = _ROWS.get(n)
    if rows is None:
        rows = _ROWS[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


def _sce_and_softmax(z: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(softmax_cross_entropy(z, target), softmax(z, -1)) for class-index targets, the
    numbers of ``_sce_np`` (through ``logsumexp_np``) and ``_softmax_np``, the shared part
    computed once. The loss is computed at the target entries only: ``-(z[r, t] - lse[r])``
    is the entry of ``-(z - lse)`` the forward picks, the same subtraction."""
    m = np.maximum.reduce(z, axis=-1, keepdims=True)
    if not np.isfinite(m).all():  # logsumexp shifts such rows by 0, softmax by the max
        return _sce_np(z, target), _softmax_np(z, z.ndim - 1)
    e = np.subtract(z, m)
    np.exp(e, out=e)
    s = np.add.reduce(e, axis=-1, keepdims=True)
    lse = np.log(s)
    lse += m  # logsumexp_np: log(sum(exp(z - m))) + m
    flat_t = target.reshape(-1)
    loss = np.subtract(z.reshape(-1, z.shape[-1])[_rows(flat_t.size), flat_t],
                       lse.reshape(-1))
    np.negative(loss, out=loss)
    e /= s  # _softmax_np: exp(z - max) / sum
    return loss.reshape(target.shape), e


def _sce_vjp_from_softmax(g: np.ndarray, p: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``lower._sce_vjp`` given the softmax (which it overwrites: its only reader)."""
    flat = p.reshape(-1, p.shape[-1])
    flat[_rows(target.size), target.reshape(-1)] -= flat.dtype.type(1)
    np.multiply(p, g.reshape(g.shape + (1,)), out=p)
    return p


def _next_id(graph: Graph) -> int:
    ids = [v.id for n in graph.nodes for v in n.inputs + n.outputs]
    return 1 + max(ids + [v.id for v in graph.inputs] + [-1])


def share_softmax(graph: Graph) -> int:
    """Rewrite each cross-entropy whose lowered backward reads the same logits and
    targets (see the module docstring); returns how many."""
    forward: dict[tuple[int, int], tuple[int, Node]] = {}
    readers: dict[int, int] = {}
    for node in graph.nodes:
        for v in node.inputs:
            readers[id(v)] = readers.get(id(v), 0) + 1
    done = 0
    next_id = _next_id(graph)
    for k, node in enumerate(graph.nodes):
        if (node.name == "softmax_cross_entropy" and node.op is not None and not node.params
                and node.inputs[1].dtype.kind in "iu" and node.fn is node.op.forward):
            forward[(id(node.inputs[0]), id(node.inputs[1]))] = (k, node)
            continue
        if node.name != "vjp.softmax_cross_entropy[0]" or node.fn is not _sce_vjp:
            continue
        g, y, z, t = node.inputs
        hit = forward.pop((id(z), id(t)), None)
        if hit is None or hit[1].outputs[0] is not y:
            continue
        fk, fnode = hit
        p = Var(next_id, "value", z.shape, z.dtype)  # buffer None: never reused by the plan
        next_id += 1
        graph.nodes[fk] = Node(None, "softmax_cross_entropy+softmax", _sce_and_softmax,
                               fnode.inputs, (y, p), {})
        out = node.outputs[0]
        out.buffer = None  # the softmax's array, written in place
        graph.nodes[k] = Node(None, node.name, _sce_vjp_from_softmax, (g, p, t), (out,), {})
        done += 1
    if done:
        graph.invalidate()
    return done


def relu_mask_from_output(graph: Graph) -> int:
    """Let lowered ReLU backward nodes read the mask from ReLU's output (see the module
    docstring); returns how many."""
    done = 0
    for node in graph.nodes:
        if node.name == "vjp.relu[0]" and node.fn is _relu_vjp:
            g, y, x = node.inputs
            if x is not y:
                node.inputs = (g, y, y)
                done += 1
    if done:
        graph.invalidate()
    return done


def rewrite_patterns(graph: Graph) -> dict[str, Any]:
    return {"softmax shared by cross-entropy and its backward": share_softmax(graph),
            "ReLU backward masks from its output": relu_mask_from_output(graph)}


__all__ = ["relu_mask_from_output", "rewrite_patterns", "share_softmax"]
