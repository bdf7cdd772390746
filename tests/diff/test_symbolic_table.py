"""The operator table: every row's partials agree with finite differences and dual numbers,
its forward and reverse rules agree, and a new row is picked up everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.diff import symbolic as S
from chainrule.diff.dual import Dual
from chainrule.diff.numeric import numeric_gradient
from chainrule.diff.symbolic.evaluate import _SEED, Numbers

ROWS = [*S.OPERATORS.values(), *S.FUNCTIONS.values()]
POINT = (0.7, 1.3)  # inside every row's domain (log, sqrt, a^b with a > 0)


def _node(rule):
    names = [S.Var(n) for n in ("a", "b")[: rule.arity]]
    return rule.build(S.nodes.RAW, *names), [n.name for n in names]


@pytest.mark.parametrize("rule", ROWS, ids=lambda r: r.name)
def test_every_row_has_one_partial_per_input_and_templates(rule):
    assert rule.arity == len(rule.partials) == len(rule.parens)
    node, _ = _node(rule)
    assert node.rule is rule
    assert "{0}" in rule.code and str(node) and node.to_latex()


@pytest.mark.parametrize("rule", ROWS, ids=lambda r: r.name)
def test_row_partials_match_finite_differences_and_duals(rule):
    node, names = _node(rule)
    at = POINT[: rule.arity]
    value = node.evaluate(**dict(zip(names, at)))
    numeric = [p(Numbers(node), _SEED, at, value) for p in rule.partials]
    fd = numeric_gradient(lambda v: node.evaluate(**dict(zip(names, v))), np.array(at))
    np.testing.assert_allclose(numeric, fd, rtol=1e-5, atol=1e-7)
    for i, name in enumerate(names):
        seeded = {n: Dual(v, 1.0) if n == name else v for n, v in zip(names, at)}
        assert numeric[i] == pytest.approx(node.evaluate(**seeded).eps, rel=1e-12)


@pytest.mark.parametrize("rule", ROWS, ids=lambda r: r.name)
@pytest.mark.parametrize("simplify", [True, False])
def test_row_forward_and_reverse_rules_agree(rule, simplify):
    node, names = _node(rule)
    at = dict(zip(names, POINT))
    reverse = node.gradient(*names, simplify=simplify)
    for name, g in zip(names, reverse):
        forward = node.derive(name, simplify=simplify)
        expected = S.backward_adjoints(node, at)[S.Var(name)]
        for e in (forward, g):
            assert e.evaluate({k: at[k] for k in e.variables()}) == pytest.approx(expected)


def test_a_new_function_is_one_row(monkeypatch):
    sinh = S.table.function("sinh", np.sinh, np.sinh, lambda A, x, y: A.func("cosh", x))
    cosh = S.table.function("cosh", np.cosh, np.cosh, lambda A, x, y: A.func("sinh", x))
    monkeypatch.setitem(S.FUNCTIONS, "sinh", sinh)
    monkeypatch.setitem(S.FUNCTIONS, "cosh", cosh)
    f = S.parse("sinh(x^2)")
    assert str(f.derive("x")) == "2*x*cosh(x^2)"
    assert [str(g) for g in f.gradient()] == ["2*x*cosh(x^2)"]
    assert f.to_latex() == r"\sinh\left({x}^{2}\right)"
    assert f.compile()(0.5) == pytest.approx(np.sinh(0.25))
    assert S.backward_adjoints(f, {"x": 0.5})[S.Var("x")] == pytest.approx(np.cosh(0.25))
