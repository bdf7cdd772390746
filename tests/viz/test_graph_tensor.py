"""Drawing the recorded graph of a Tensor (Figures D-1..D-3 for the engine)."""

import pytest

import chainrule as cr
from chainrule.viz import draw_graph, graph_of_tensor


def textbook():
    x = cr.Tensor(3.0, requires_grad=True, name="x")
    y = cr.Tensor(4.0, requires_grad=True, name="y")
    return x, y, x * x * y + y + 2


def test_nodes_carry_values_and_gradients():
    x, y, f = textbook()
    nodes = {n.op: n for n in graph_of_tensor(f) if n.kind in ("input", "output")}
    assert nodes["x"].value == 3.0 and nodes["x"].grad == 24.0
    assert nodes["y"].value == 4.0 and nodes["y"].grad == 10.0
    out = [n for n in graph_of_tensor(f) if n.kind == "output"][0]
    assert out.value == 42.0 and out.grad == 1.0
    ops = sorted(n.op for n in graph_of_tensor(f) if n.kind in ("op", "output"))
    assert ops == ["+", "+", "×", "×"]


def test_dot_text_and_graph_survives_for_backward():
    x, y, f = textbook()
    dot = draw_graph(f).dot
    assert dot.count("->") == 8 and "grad = 24" in dot
    f.backward()  # drawing retained the graph: backward still works
    assert x.grad.item() == 24.0


def test_released_graph_gives_a_clear_error():
    x, y, f = textbook()
    f.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        draw_graph(f)
