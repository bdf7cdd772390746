"""Rule nodes lowered to NumPy: the rules that must run whole (they read values, see
``inline.py``) and are common enough to matter get a NumPy function that computes the
same numbers bit for bit, from the same primitives' forwards, without making tensors or
calling primitives. ``tests/graph/test_lower.py`` checks every entry against its rule.

``LOWERED[name] = (applies(node) -> bool, fn(*arrays, **params))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.primitive import PRIMITIVES
from .ir import Graph, Node


def _relu_vjp(g: np.ndarray, y: np.ndarray, x: np.ndarray,
              out: np.ndarray | None = None) -> np.ndarray:
    # rule: g * mask_like(x > 0, y) through the mul primitive (np.multiply); a boolean
    # operand is cast to g's dtype by the ufunc, the same 1.0 / 0.0 as mask_like's
    if g.dtype != y.dtype:
        return np.multiply(g, (x > 0).astype(y.dtype))
    return np.multiply(g, x > 0, out=out)


_relu_vjp.takes_out = True  # type: ignore[attr-defined]  (plan_memory may pass out=)


def _sce_vjp(g: np.ndarray, y: np.ndarray, z: np.ndarray, target: np.ndarray) -> np.ndarray:
    # rule: unsqueeze(g, -1) * (softmax(z, -1) - one_hot(target)), each a primitive. The
    # one-hot subtraction only changes the target entries (p - 0 is p), so it is done in
    # place there; the product is commutative, so it is done in place in p.
    p = PRIMITIVES["softmax"].forward(z, axis=z.ndim - 1)
    flat = p.reshape(-1, z.shape[-1])
    flat[np.arange(target.size), target.reshape(-1)] -= flat.dtype.type(1)
    np.multiply(p, g.reshape(g.shape + (1,)), out=p)
    return p


def _int_target(node: Node) -> bool:
    return node.inputs[3].dtype.kind in "iu" and node.inputs[0].dtype == node.inputs[2].dtype


LOWERED: dict[str, tuple[Callable[[Node], bool], Callable[..., Any]]] = {
    "vjp.relu[0]": (lambda node: True, _relu_vjp),
    "vjp.softmax_cross_entropy[0]": (_int_target, _sce_vjp),
}


def lower_rules(graph: Graph) -> int:
    """Give rule nodes with an entry in ``LOWERED`` their NumPy function; returns how many."""
    done = 0
    for node in graph.nodes:
        entry = LOWERED.get(node.name)
        if node.is_rule and entry is not None and not node.params and entry[0](node):
            node.fn = entry[1]
            done += 1
    graph.invalidate()
    return done
