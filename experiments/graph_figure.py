#!/usr/bin/env python
"""The traced listing and the picture of a compiled training step, for docs/graphs.md.

Traces one training step of a small MLP (8 -> 16 -> 3, ReLU, cross-entropy, batch 4,
float32) with ``chainrule.graph.compile_step``, runs the passes, prints the listing and
the passes' counts, and draws the graph with matplotlib (no Graphviz needed): one box per
input, parameter, constant and node, in layers by depth; forward primitives, backward
nodes and rule nodes in different colours. Also writes the Graphviz DOT text of
``draw_graph`` beside it.

    python experiments/graph_figure.py               # docs/figures/graph_mlp_step.png
    python experiments/graph_figure.py --out /tmp    # elsewhere
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.graph import compile_step
from chainrule.graph.passes import optimize
from chainrule.viz import draw_graph
from chainrule.viz.figures import new_figure, save_figure

COLOURS = {"input": "#dbe9f6", "param": "#fde9c8", "const": "#eeeeee", "forward": "#d9f0d3",
           "backward": "#f6d5d5", "rule": "#e3d7f0"}


def traced_step() -> tuple[cr.Graph, dict[str, int]]:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = compile_step(lambda x, y: loss_fn(model(x), y), model.parameters(), opt,
                        optimize=False)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 8)).astype(np.float32), rng.integers(0, 3, 4)
    step(x, y)
    graph = next(iter(step.compiled.graphs.values()))
    return graph, optimize(graph)


def _layout(graph: cr.Graph) -> tuple[dict[int, tuple[float, float]], list, list]:
    """Positions (x, depth) of every box; boxes as (key, label, colour); edges."""
    depth: dict[int, int] = {}
    boxes, edges = [], []
    for v in graph.inputs + graph.consts:
        depth[id(v)] = 0
        boxes.append((id(v), f"{v.name}\n{v.type}", COLOURS[v.kind]))
    n_forward = _forward_count(graph)
    for k, node in enumerate(graph.nodes):
        d = 1 + max(depth[id(v)] for v in node.inputs)
        for v in node.outputs:
            depth[id(v)] = d
        kind = "rule" if node.is_rule else ("forward" if k < n_forward else "backward")
        boxes.append((id(node), node.name, COLOURS[kind]))
        depth[id(node)] = d
        for v in node.inputs:
            edges.append((_maker(graph, v), id(node)))
    rows: dict[int, list[int]] = {}
    for key, _, _ in boxes:
        rows.setdefault(depth[key], []).append(key)
    pos = {}
    for d, keys in rows.items():
        for i, key in enumerate(keys):
            pos[key] = (i - (len(keys) - 1) / 2, -d)
    return pos, boxes, edges


def _forward_count(graph: cr.Graph) -> int:
    """Nodes up to the one that computes the loss (the first output); the rest is backward."""
    loss = graph.outputs[0]
    for k, node in enumerate(graph.nodes):
        if any(v is loss for v in node.outputs):
            return k + 1
    return len(graph.nodes)


def _maker(graph: cr.Graph, v: cr.graph.Var) -> int:
    for node in graph.nodes:
        if any(o is v for o in node.outputs):
            return id(node)
    return id(v)


def draw(graph: cr.Graph, path: Path) -> None:
    pos, boxes, edges = _layout(graph)
    width = max(x for x, _ in pos.values()) - min(x for x, _ in pos.values()) + 2
    height = -min(y for _, y in pos.values()) + 2
    fig = new_figure((max(6.0, 1.9 * width), max(6.0, 0.9 * height)))
    ax = fig.add_subplot(1, 1, 1)
    for a, b in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1 + 0.22), xytext=(x0, y0 - 0.22),
                    arrowprops=dict(arrowstyle="->", color="#777777", lw=0.7))
    for key, label, colour in boxes:
        x, y = pos[key]
        ax.text(x, y, label, ha="center", va="center", fontsize=7,
                bbox=dict(boxstyle="round,pad=0.3", fc=colour, ec="#555555", lw=0.6))
    handles = [ax.scatter([], [], marker="s", s=60, color=c, edgecolors="#555555", label=k)
               for k, c in COLOURS.items()]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False)
    ax.set_xlim(min(x for x, _ in pos.values()) - 1, max(x for x, _ in pos.values()) + 1)
    ax.set_ylim(-height + 1, 1)
    ax.axis("off")
    ax.set_title("A compiled training step (MLP 8-16-3, after the passes)", fontsize=10)
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs"
                   / "figures")
    a = p.parse_args(argv)
    graph, done = traced_step()
    print(graph)
    print("passes:", done)
    a.out.mkdir(parents=True, exist_ok=True)
    draw(graph, a.out / "graph_mlp_step.png")
    (a.out / "graph_mlp_step.dot").write_text(draw_graph(graph, format="dot").dot)
    print(f"wrote {a.out / 'graph_mlp_step.png'} and graph_mlp_step.dot")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
