"""Visual tools. :mod:`chainrule.viz.graph`: computation-graph drawings (DOT / SVG / PNG)
with forward values and gradients."""

from chainrule.viz.graph import (
    GraphDrawing,
    GraphNode,
    GraphvizNotFoundError,
    draw_graph,
    graph_of_expr,
    register_adapter,
    to_dot,
)
from chainrule.viz.tensor_graph import graph_of_tensor

__all__ = [
    "GraphDrawing",
    "GraphNode",
    "GraphvizNotFoundError",
    "draw_graph",
    "graph_of_expr",
    "graph_of_tensor",
    "register_adapter",
    "to_dot",
]
