"""The backpropagation view's graph: values, gradients, edges and the cost of the modes."""

from __future__ import annotations

import pytest

from chainrule.playground.backprop import explain, parse_values
from chainrule.playground.errors import PlaygroundInputError


def test_the_books_example_at_3_4():
    r = explain("x*x*y + y + 2", parse_values("x=3, y=4"))
    assert r["output"] == 42
    assert r["gradient"] == {"x": 24, "y": 10}
    assert r["cost"]["forward_mode_gradient"] == {"x": 24, "y": 10}
    labels = [n["label"] for n in r["nodes"]]
    assert sorted(labels) == sorted(["x", "y", "2", "*", "*", "+", "+"])
    assert r["nodes"][-1]["value"] == 42  # forward order ends at the output


def test_edge_gradients_add_up_to_each_inputs_adjoint():
    r = explain("sin(x*y) + x/y - exp(x)", {"x": 0.7, "y": 1.3})
    for node in r["nodes"]:
        into = [e["grad"] for e in r["edges"] if e["from"] == node["id"]]
        if node["grad"] is not None and into:
            assert sum(into) == pytest.approx(node["grad"], rel=1e-12)
    assert r["gradient"]["x"] == pytest.approx(r["cost"]["forward_mode_gradient"]["x"])


def test_cost_forward_mode_one_pass_per_input():
    names = "abcdefghij"
    expr = " + ".join(f"{a}*{b}" for a, b in zip(names[::2], names[1::2]))
    r = explain(expr, {n: i + 1.0 for i, n in enumerate(names)})
    c = r["cost"]
    assert c["inputs"] == 10 and c["forward_passes"] == 10 and c["reverse_passes"] == 2
    assert c["forward_node_evaluations"] == 10 * c["operations"]
    assert c["forward_node_evaluations"] > c["reverse_node_evaluations"]


@pytest.mark.parametrize("expression, values, words", [
    ("x*", "x=1", "cannot parse"),
    ("", "", "type an expression"),
    ("x + y", "x=1", "give a value for y"),
    ("log(x)", "x=-1", "cannot evaluate"),
    ("x*x", "x=three", "not a number"),
    ("x*x", "x 3", "name=value"),
])
def test_bad_input_is_a_message(expression, values, words):
    with pytest.raises(PlaygroundInputError, match=words):
        explain(expression, parse_values(values))
