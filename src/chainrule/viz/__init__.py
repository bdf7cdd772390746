"""Every picture of chainrule.

* :mod:`chainrule.viz.graph`: computation-graph drawings (DOT / SVG / PNG) with forward
  values and gradients (Graphviz, no matplotlib).
* :mod:`chainrule.viz.descent`: gradient-descent paths on loss surfaces (batch /
  stochastic / mini-batch, and the chainrule.optim optimizers).
* :mod:`chainrule.viz.images`: image grids, reconstructions, latent interpolations and
  latent-space grids; :mod:`chainrule.viz.codings`: 2-D codings.
* :mod:`chainrule.viz.curves`: training curves (:func:`plot_history`) and the
  learning-rate range test (:func:`plot_lr_finder`).
* :mod:`chainrule.viz.classic`: Hopfield, Boltzmann machine and SOM pictures.
* :mod:`chainrule.viz.attention`: attention maps (heads x queries x keys, tokens on the
  axes).

Every matplotlib figure is made and saved by :mod:`chainrule.viz.figures`: its own Agg
canvas, never pyplot or ``matplotlib.use``, so a program's backend and pyplot figures are
left alone; without matplotlib the error says ``pip install 'chainrule[viz]'``.
"""

from chainrule.viz.attention import attention_figure, plot_attention
from chainrule.viz.curves import plot_history, plot_lr_finder
from chainrule.viz.descent import (
    compare_optimizers,
    optimize_surface,
    plot_descent_paths,
    plot_optimizer_paths,
)
from chainrule.viz.graph import (
    GraphDrawing,
    GraphNode,
    GraphvizNotFoundError,
    draw_graph,
    graph_of_expr,
    register_adapter,
    to_dot,
)
from chainrule.viz.images import (
    image_grid,
    interpolate,
    latent_grid,
    plot_codings,
    plot_interpolation,
    plot_latent_grid,
    plot_reconstructions,
    reduce_to_2d,
)
from chainrule.viz.tensor_graph import graph_of_tensor
from chainrule.viz.traced_graph import graph_of_traced

__all__ = [
    "GraphDrawing",
    "GraphNode",
    "GraphvizNotFoundError",
    "attention_figure",
    "compare_optimizers",
    "draw_graph",
    "graph_of_expr",
    "graph_of_tensor",
    "graph_of_traced",
    "image_grid",
    "interpolate",
    "latent_grid",
    "optimize_surface",
    "plot_attention",
    "plot_codings",
    "plot_descent_paths",
    "plot_interpolation",
    "plot_history",
    "plot_latent_grid",
    "plot_lr_finder",
    "plot_optimizer_paths",
    "plot_reconstructions",
    "reduce_to_2d",
    "register_adapter",
    "to_dot",
]
