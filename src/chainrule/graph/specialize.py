"""Primitives specialised for their traced shapes: work a NumPy forward does on every
call but that depends only on shapes is done once, when the graph is compiled.

* ``sum_to`` (the broadcast undone in every backward pass of a bias): its forward finds
  the summed axes from the shapes, then calls ``np.sum``; here the axes are found once and
  the node calls ``np.add.reduce`` (what ``np.sum`` calls) directly.
* ``mean`` and ``sum`` of floats: ``x.sum(axis, keepdims) / count`` with the count (a
  scalar of x's dtype) computed once; ``np.add.reduce`` again.
* ``linear`` of a matrix (``x @ w.T`` then ``+= b``): the rank and dtype checks done once.
* ``transpose`` of a matrix is ``x.T`` (the same view); a transpose read only by a
  ``matmul`` is folded into it (``matmul(a.T, b)``: one node instead of two).

The same ufunc reductions run on the same arrays, so results are bit for bit
(``tests/graph/test_specialize.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .ir import Graph, Node

_REDUCE = np.add.reduce


def _sum_to(node: Node) -> Callable | None:
    x, shape = node.inputs[0], tuple(node.params["shape"])
    lead = len(x.shape) - len(shape)
    if lead < 0:
        return None
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    if not axes:
        return lambda x, **_: x.reshape(shape)

    def sum_to(x: np.ndarray, **_: object) -> np.ndarray:
        return _REDUCE(x, axis=axes, keepdims=True).reshape(shape)

    return sum_to


def _mean(node: Node) -> Callable | None:
    x = node.inputs[0]
    axis, keepdims = node.params["axis"], node.params["keepdims"]
    if x.dtype.kind != "f":
        return None
    count = x.dtype.type(math.prod(x.shape) if axis is None
                         else math.prod(x.shape[a] for a in axis))

    def mean(x: np.ndarray, **_: object) -> np.ndarray:
        return _REDUCE(x, axis=axis, keepdims=keepdims) / count

    return mean


def _sum(node: Node) -> Callable | None:
    x = node.inputs[0]
    axis, keepdims = node.params["axis"], node.params["keepdims"]
    if x.dtype.kind != "f":  # ndarray.sum gives small integers a wider accumulator
        return None

    def total(x: np.ndarray, **_: object) -> np.ndarray:
        return _REDUCE(x, axis=axis, keepdims=keepdims)

    return total


def _linear(node: Node) -> Callable | None:
    x, w, b = node.inputs
    if len(x.shape) != 2 or node.outputs[0].dtype != np.result_type(x.dtype, w.dtype, b.dtype):
        return None

    def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        y = x @ w.T
        y += b
        return y

    return linear


def _transpose(node: Node) -> Callable | None:
    if tuple(node.params["axes"]) != (1, 0):
        return None
    return lambda x, **_: x.T


def _at_b(a: np.ndarray, b: np.ndarray, **_: object) -> np.ndarray:
    return np.matmul(a.T, b)


_at_b.ignores_params = True  # type: ignore[attr-defined]


SPECIALISED: dict[str, Callable[[Node], Callable | None]] = {
    "sum_to": _sum_to, "mean": _mean, "sum": _sum, "linear": _linear,
    "transpose": _transpose}


def _fold_transposes(graph: Graph) -> int:
    """``matmul(transpose(a), b)`` -> one node ``matmul(a.T, b)`` where nothing else reads
    the transpose."""
    readers: dict[int, int] = {}
    for node in graph.nodes:
        for v in node.inputs:
            readers[id(v)] = readers.get(id(v), 0) + 1
    returned = {id(v) for v in graph.outputs if v is not None}
    made_by = {id(n.outputs[0]): n for n in graph.nodes if n.name == "transpose"
               and len(n.inputs[0].shape) == 2 and n.fn is not getattr(n.op, "forward", None)}
    folded: set[int] = set()
    for node in graph.nodes:
        if node.name != "matmul" or node.fn is not np.matmul or len(node.inputs) != 2:
            continue
        t = made_by.get(id(node.inputs[0]))
        if t is None or readers[id(node.inputs[0])] != 1 or id(node.inputs[0]) in returned:
            continue
        node.inputs = (t.inputs[0], node.inputs[1])
        node.fn = _at_b
        node.params = {"transpose_a": True}  # shown in the listing; _at_b ignores it
        folded.add(id(t))
    graph.nodes = [n for n in graph.nodes if id(n) not in folded]
    return len(folded)


def specialize(graph: Graph) -> int:
    """Give nodes of ``SPECIALISED`` primitives their shape-specialised function (their
    params stay, for the listing; the function ignores them); returns how many."""
    done = 0
    for node in graph.nodes:
        make = SPECIALISED.get(node.name)
        if (make is None or node.op is None or node.fn is not node.op.forward
                or len(node.inputs) != 1):
            continue
        fn = make(node)
        if fn is not None:
            fn.ignores_params = True  # type: ignore[attr-defined]  (run.py calls fn(*arrays))
            node.fn = fn
            done += 1
    done += _fold_transposes(graph)
    if done:
        graph.invalidate()
    return done


__all__ = ["SPECIALISED", "specialize"]
