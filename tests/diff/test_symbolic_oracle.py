"""Symbolic engine vs SymPy as an oracle on a seeded corpus of random expressions in x, y.

The generator only builds expressions that are defined and moderate for x, y in [0.5, 1.5]:
``log`` and ``sqrt`` see ``1 + u^2``, divisions divide by ``1 + u^2``, ``exp`` sees a
bounded argument.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy

from chainrule.diff import symbolic as S
from chainrule.diff.dual import Dual

SEED, COUNT = 20240611, 60
SX, SY = sympy.symbols("x y")


def _positive(u):
    return 1 + u * u


def random_expr(rng: random.Random, depth: int) -> S.Expr:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(
            [S.Var("x"), S.Var("y"), S.Var("x"), S.Var("y"), S.Const(rng.randint(1, 4))]
        )
    kind = rng.choice(
        ["+", "-", "*", "/", "pow", "neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "sigmoid"]
    )
    a = random_expr(rng, depth - 1)
    if kind in "+-*":
        b = random_expr(rng, depth - 1)
        return {"+": a + b, "-": a - b, "*": a * b}[kind]
    if kind == "/":
        return a / _positive(random_expr(rng, depth - 1))
    if kind == "pow":
        return a ** rng.choice([2, 3]) if rng.random() < 0.7 else _positive(a) ** -0.5
    if kind == "neg":
        return -a
    if kind == "exp":
        return S.exp(S.sin(a))
    if kind in ("log", "sqrt"):
        return getattr(S, kind)(_positive(a))
    return getattr(S, kind)(a)


def to_sympy(expr: S.Expr):
    nodes = []
    for op, payload, inputs in expr.to_postfix():
        args = [nodes[i] for i in inputs]
        if op == "const":
            node = (
                sympy.Integer(int(payload)) if float(payload).is_integer() else sympy.Float(payload)
            )
        elif op == "var":
            node = sympy.Symbol(payload)
        elif op == "neg":
            node = -args[0]
        elif op == "func":
            node = (
                1 / (1 + sympy.exp(-args[0]))
                if payload == "sigmoid"
                else getattr(sympy, payload)(args[0])
            )
        else:
            a, b = args
            node = {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "^": a**b}[op]
        nodes.append(node)
    return nodes[-1]


def corpus():
    rng = random.Random(SEED)
    return [random_expr(rng, rng.randint(2, 4)) for _ in range(COUNT)]


CORPUS = corpus()
POINTS = np.random.default_rng(SEED).uniform(0.5, 1.5, size=(3, 2))


def test_corpus_is_diverse():
    assert len({id(e) for e in CORPUS}) >= 50
    ops = {op for e in CORPUS for op, _, _ in e.to_postfix()}
    assert {"+", "-", "*", "/", "^", "neg", "func"} <= ops


def close(a, b):
    return np.allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("index", range(COUNT))
def test_matches_sympy(index):
    expr = CORPUS[index]
    ref = to_sympy(expr)
    fx, fy = (sympy.lambdify((SX, SY), sympy.diff(ref, v), "math") for v in (SX, SY))
    value = sympy.lambdify((SX, SY), ref, "math")
    dx_fwd, dy_fwd = expr.derive("x"), expr.derive("y")
    dx_rev, dy_rev = expr.gradient("x", "y")
    simple = expr.simplify()
    assert simple.simplify() is simple  # idempotent
    reparsed = S.parse(str(expr))
    compiled = expr.compile()
    for px, py in POINTS:
        env = {"x": px, "y": py}
        want = value(px, py)
        for candidate in (expr, simple, reparsed):
            assert close(candidate.evaluate(**_only(candidate, env)), want)
        assert close(compiled(**_only(expr, env)), want)
        for mine, ref_fn in ((dx_fwd, fx), (dx_rev, fx), (dy_fwd, fy), (dy_rev, fy)):
            assert close(mine.evaluate(**_only(mine, env)), ref_fn(px, py)), str(mine)
        dual_out = expr.evaluate(**_only(expr, {"x": Dual(px, 1.0), "y": py}))
        assert close(getattr(dual_out, "eps", 0.0), fx(px, py))


@pytest.mark.parametrize("index", range(0, COUNT, 6))
def test_second_derivatives_match_sympy(index):
    expr = CORPUS[index]
    ref = to_sympy(expr)
    hess = S.hessian(expr, ["x", "y"])
    for i, vi in enumerate((SX, SY)):
        for j, vj in enumerate((SX, SY)):
            ref_fn = sympy.lambdify((SX, SY), sympy.diff(ref, vi, vj), "math")
            for px, py in POINTS[:2]:
                h = hess[i][j]
                assert close(h.evaluate(**_only(h, {"x": px, "y": py})), ref_fn(px, py))


def test_simplified_polynomial_derivatives_equal_sympy_exactly():
    x, y = S.Var("x"), S.Var("y")
    for expr in [x * x * y + y + 2, (x + 1) * (x + 1) * y - 3 * x, x**3 * y**2 / 4 - x / y]:
        ref = to_sympy(expr)
        for var in ("x", "y"):
            mine = to_sympy(expr.derive(var))
            assert sympy.simplify(mine - sympy.diff(ref, sympy.Symbol(var))) == 0


def _only(expr, env):
    names = set(expr.variables())
    return {k: v for k, v in env.items() if k in names}
