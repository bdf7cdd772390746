"""The chainrule command: the demo and `chainrule diff`."""

import pytest

from chainrule.cli import main


def test_demo_runs_every_method(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "24.000400000048216" in out  # the textbook's finite-difference value
    for method in ("dual numbers", "tensor jvp", "tensor grad", "GradientTape"):
        assert method in out
    assert "[[8.0, 6.0], [6.0, 0.0]]" in out


def test_diff_textbook(capsys, tmp_path):
    path = tmp_path / "graph.dot"
    assert main(["diff", "x*x*y + y + 2", "--at", "x=3,y=4", "--graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert "f = 42.0" in out and "df/dx = 2*x*y  =  24.0" in out
    assert "3 evaluations of f" in out and "1 reverse sweep" in out
    assert "[8, 6]" in out and "[6, 0]" in out
    dot = path.read_text()
    assert "digraph" in dot and "grad = 24" in dot


@pytest.mark.parametrize("expr,at,message", [
    ("x*(y", "x=1,y=2", "never closed"),
    ("log(x)", "x=-1", "positive"),
    ("x/y", "x=1,y=0", "division by zero"),
    ("__import__('os').system('true')", "x=1", "only plain function names"),
    ("__import__('os')", "x=1", "unknown function"),
    ("x + y", "x=1", "no value for y"),
    ("x", "x=abc", "not a number"),
    ("x", "x", "NAME=NUMBER"),
])
def test_diff_bad_input_is_one_clear_line(capsys, expr, at, message):
    assert main(["diff", expr, "--at", at]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
