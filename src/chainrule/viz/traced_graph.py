"""Draw a traced ``chainrule.graph.Graph``: inputs, params and consts as boxes, one node per
primitive (or rule) call, the nodes that produce outputs marked as outputs.

``draw_graph(graph)``; with ``values=(arrays...)`` (the graph's arguments) every node also
shows the value it computes on them.
"""

from __future__ import annotations

from typing import Any

from ..graph import Graph
from ..graph.run import build
from .graph import GraphNode, format_value, register_adapter

_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "neg",
            "matmul": "@"}


def _shown(arr: Any) -> Any:
    return arr.item() if getattr(arr, "size", 2) == 1 else arr


def graph_of_traced(graph: Graph, values: Any = None, grads: Any = None) -> list[GraphNode]:
    """Graph nodes of a traced graph (``grads`` is ignored: a traced graph of
    ``value_and_grad`` shows its backward nodes itself)."""
    if not isinstance(graph, Graph):
        raise TypeError(f"graph_of_traced takes a Graph, got {type(graph).__name__}")
    computed: dict[int, Any] = {}
    if values is not None:
        computed = _values(graph, tuple(values))
    made_by: dict[int, str] = {}
    nodes: list[GraphNode] = []
    for v in graph.inputs:
        made_by[id(v)] = v.name
        nodes.append(GraphNode(v.name, f"{v.name}: {v.type}", kind="input",
                               value=_shown(computed[id(v)]) if computed else None))
    for v in graph.consts:
        made_by[id(v)] = v.name
        label = format_value(v.value().item()) if v.value().size == 1 else \
            f"{v.name}: {v.type}"
        nodes.append(GraphNode(v.name, label, kind="input" if v.kind == "param" else "const"))
    outputs = {id(v) for v in graph.outputs if v is not None}
    for k, node in enumerate(graph.nodes):
        nid = f"n{k}"
        for v in node.outputs:
            made_by[id(v)] = nid
        is_out = any(id(v) in outputs for v in node.outputs)
        value = computed.get(id(node.outputs[0])) if computed else None
        nodes.append(GraphNode(nid, _SYMBOLS.get(node.name, node.name),
                               inputs=[made_by[id(v)] for v in node.inputs],
                               value=None if value is None else _shown(value),
                               kind="output" if is_out else "op"))
    return nodes


def _values(graph: Graph, args: tuple) -> dict[int, Any]:
    """id(Var) -> its array when the graph runs on ``args`` (every value kept)."""
    arrays = graph.flat_arrays(args)
    probe = Graph(graph.inputs, [v for n in graph.nodes for v in n.outputs], graph.nodes,
                  graph.in_tree, graph.in_static, graph.out_tree, graph.out_static)
    outs = build(probe)(*arrays)
    found = {id(v): a for v, a in zip(graph.inputs, arrays)}
    found.update({id(v): a for v, a in zip(probe.outputs, outs)})
    return found


register_adapter(Graph, graph_of_traced)
