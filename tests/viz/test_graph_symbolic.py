"""DOT drawings of symbolic expression graphs: nodes, edges, values, gradients, rendering."""

from __future__ import annotations

import os
import re
import stat
import sys

import numpy as np
import pytest

from chainrule.diff import symbolic as S
from chainrule.viz import GraphDrawing, GraphNode, draw_graph, graph_of_expr, to_dot
from chainrule.viz import graph as G

x, y = S.Var("x"), S.Var("y")


def node_lines(dot):
    return {
        m.group(1): m.group(2) for m in re.finditer(r'^  "([^"]+)" \[label="([^"]*)"', dot, re.M)
    }


def edges(dot):
    return re.findall(r'^  "([^"]+)" -> "([^"]+)"', dot, re.M)


def test_to_dot_generic_nodes():
    nodes = [
        GraphNode("a", "x", kind="input", value=3.0),
        GraphNode("b", "y", kind="input"),
        GraphNode("c", "-", ["a", "b"], value=-1.0, grad=1.0, kind="output"),
    ]
    dot = to_dot(nodes, title='f "quoted"')
    assert dot.startswith("digraph G {") and dot.rstrip().endswith("}")
    assert node_lines(dot) == {"a": r"x\nvalue = 3", "b": "y", "c": r"-\nvalue = -1\ngrad = 1"}
    assert edges(dot) == [("a", "c"), ("b", "c")]
    assert '"a" -> "c" [label="1"]' in dot and '"b" -> "c" [label="2"]' in dot
    assert r'label="f \"quoted\""' in dot
    assert "value" not in to_dot(nodes, show_values=False)
    assert "grad" not in to_dot(nodes, show_grads=False)
    with pytest.raises(ValueError, match="unknown input 'zz'"):
        to_dot([GraphNode("a", "+", ["zz"])])


def test_expression_graph_with_values_and_grads_matches_the_textbook():
    f = x * x * y + y + 2
    drawing = draw_graph(f, values={"x": 3, "y": 4})
    labels = node_lines(drawing.dot)
    assert labels["n0"] == r"x\nvalue = 3\ngrad = 24"
    assert labels["n2"] == r"y\nvalue = 4\ngrad = 10"
    assert labels["n1"] == r"×\nvalue = 9\ngrad = 4"
    assert labels["n5"] == r"+\nvalue = 42\ngrad = 1"
    assert labels["n5_2"] == "2"  # constants: one node per use, no value line
    assert edges(drawing.dot) == [
        ("n0", "n1"),
        ("n0", "n1"),
        ("n1", "n3"),
        ("n2", "n3"),
        ("n3", "n4"),
        ("n2", "n4"),
        ("n4", "n5"),
        ("n5_2", "n5"),
    ]
    (output_line,) = [line for line in drawing.dot.splitlines() if line.startswith('  "n5" [')]
    assert "peripheries=2" in output_line  # the output node is marked


def test_graph_of_expr_without_values_and_with_given_grads():
    e = S.exp(-(x**2)) / 2
    nodes = graph_of_expr(e)
    assert [n.op for n in nodes] == ["x", "2", "^", "neg", "exp", "2", "÷"]
    assert all(n.value is None and n.grad is None for n in nodes)
    shared = graph_of_expr(e, share_constants=True)
    assert [n.op for n in shared].count("2") == 1
    chosen = graph_of_expr(e, values={"x": 1.0}, grads={x: 123.0})
    assert [n.grad for n in chosen if n.op == "x"] == [123.0]
    silent = draw_graph(e, values={"x": 1.0}, show_grads=False)
    assert "grad" not in silent.dot and "value = 0.1839" in silent.dot


def test_grads_equal_symbolic_gradient_for_arrays():
    e = S.sigmoid(x * y) - S.log(1 + x**2) / y
    xs = np.array([0.5, 1.5, -2.0])
    nodes = {n.op: n for n in graph_of_expr(e, values={"x": xs, "y": 0.7})}
    gx, gy = e.gradient("x", "y")
    np.testing.assert_allclose(nodes["x"].grad, gx.evaluate(x=xs, y=0.7))
    assert nodes["y"].grad == pytest.approx(np.sum(gy.evaluate(x=xs, y=0.7)))  # summed seeds


def test_draw_graph_accepts_formula_strings_and_node_lists():
    drawing = draw_graph("sin(x)^2", values={"x": 0.0})
    assert isinstance(drawing, GraphDrawing) and "sin" in drawing.dot
    assert str(drawing) == drawing.dot and "4 nodes" in repr(drawing)
    assert draw_graph([GraphNode("a", "x")]).dot == to_dot([GraphNode("a", "x")])


def test_adapter_registry_is_the_extension_point():
    class Toy:
        pass

    with pytest.raises(TypeError, match="cannot draw a Toy"):
        draw_graph(Toy())
    G.register_adapter(Toy, lambda obj, values=None, grads=None: [GraphNode("t", "toy")])
    try:
        assert '"t" [label="toy"' in draw_graph(Toy()).dot
    finally:
        G._ADAPTERS.pop(Toy)


def test_save_dot_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(G.shutil, "which", lambda name: None)
    drawing = draw_graph(x + 1, format="dot")
    written = drawing.save(tmp_path / "graph")
    assert written.name == "graph.dot" and written.read_text() == drawing.dot
    draw_graph(x * 2, path=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert drawing._repr_svg_() is None
    with pytest.raises(G.GraphvizNotFoundError, match="apt install graphviz"):
        drawing.save(tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    with pytest.raises(ValueError, match="unknown graph format"):
        drawing.save(tmp_path / "g.pdf")
    with pytest.raises(ValueError, match="unknown graph format"):
        draw_graph(x, format="jpg")


def test_save_svg_and_png_through_the_dot_binary(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\ncat > /dev/null\necho "<svg>fake $1</svg>"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setitem(sys.modules, "graphviz", None)
    drawing = draw_graph(x * y, values={"x": 1, "y": 2}, path=tmp_path / "out.svg")
    assert (tmp_path / "out.svg").read_text().strip() == "<svg>fake -Tsvg</svg>"
    drawing.save(tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes().strip() == b"<svg>fake -Tpng</svg>"
    assert drawing._repr_svg_().strip() == "<svg>fake -Tsvg</svg>"


@pytest.mark.skipif(G.shutil.which("dot") is None, reason="Graphviz not installed")
def test_real_graphviz_accepts_the_dot_text(tmp_path):
    e = S.parse("exp(-x^2)/2 - sigmoid(a*b)")
    drawing = draw_graph(e, values={"x": np.array([1.0, 2.0]), "a": 1, "b": 2})
    assert "<svg" in drawing._repr_svg_()
    assert drawing.save(tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
