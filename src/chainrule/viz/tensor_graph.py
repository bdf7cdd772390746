"""Draw the recorded graph of a Tensor: one node per primitive, with values and gradients.

``draw_graph(y)`` walks ``y``'s parents and labels every node with its forward value and
the gradient of ``y`` with respect to it (one reverse pass, run here with the graph
retained). Draw before ``y.backward()`` releases the graph, or call backward with
``retain_graph=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import engine
from ..autograd.tensor import Tensor
from .graph import GraphNode, format_value, register_adapter

_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "neg",
            "matmul": "@"}


def _value(t: Tensor) -> Any:
    return t.data.item() if t.data.size == 1 else t.data


def graph_of_tensor(root: Tensor, values: Any = None, grads: Any = None) -> list[GraphNode]:
    """Graph nodes of ``root``'s computation; ``grads=False`` leaves gradients out."""
    if not isinstance(root, Tensor):
        raise TypeError(f"graph_of_tensor takes a Tensor, got {type(root).__name__}")
    try:
        order = engine.toposort([root], constants=True)
    except engine.GraphReleasedError:
        raise RuntimeError("draw_graph: this graph was released by backward(); draw it "
                           "before calling backward, or call backward(retain_graph=True)"
                           ) from None
    ids = {id(t): f"t{k}" for k, t in enumerate(order)}
    grad_of: dict[int, Any] = {}
    if grads is not False and root.requires_grad:
        wanted = [t for t in order if t.requires_grad]
        seed = np.ones_like(root.data)
        found = engine.grad([root], wanted, [seed], retain_graph=True)
        grad_of = {id(t): _value(g) for t, g in zip(wanted, found) if g is not None}
    nodes = []
    leaves = 0
    for t in order:
        if t._op is None:
            label = t.name or (f"x{leaves}" if t.requires_grad else None)
            leaves += t.requires_grad
            kind = "input" if t.requires_grad else "const"
            if label is None:
                label = format_value(_value(t)) if t.data.size <= 4 else \
                    f"const {t.shape}"
        else:
            label = _SYMBOLS.get(t._op.name, t._op.name)
            kind = "output" if t is root else "op"
        nodes.append(GraphNode(id=ids[id(t)], op=label,
                               inputs=[ids[id(p)] for p in t._parents or ()],
                               value=None if kind == "const" else _value(t),
                               grad=grad_of.get(id(t)), kind=kind))
    return nodes


register_adapter(Tensor, graph_of_tensor)
