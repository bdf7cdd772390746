"""``chainrule diff EXPR --at x=3,y=4``: one gradient, every way, side by side.

The expression is parsed by :func:`chainrule.diff.parse` (a whitelist over Python's
``ast``; user text is never evaluated). The exact gradient comes from symbolic
differentiation; each method's error is measured against it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from ..diff import DiffError, dual, numeric, parse, symbolic
from ..errors import GraphvizNotFoundError, UsageError
from . import common

__all__ = ["NAME", "add_diff_parser", "register", "run", "run_diff"]

NAME = "diff"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``diff`` command to ``subparsers``."""
    p = common.add_parser(subparsers, NAME, help="differentiate an expression by every method",
                       description="Differentiate an expression at a point by finite "
                                   "differences, dual numbers, symbolic differentiation and "
                                   "reverse mode, and compare them.")
    p.add_argument("expression", help='e.g. "x*x*y + y + 2" (functions: exp log sin cos tan '
                                      'tanh sqrt sigmoid; powers with ^ or **)')
    p.add_argument("--at", required=True, metavar="x=3,y=4", help="the point")
    p.add_argument("--eps", type=float, default=1e-4, help="finite-difference step")
    p.add_argument("--graph", metavar="PATH", help="write the computation graph with values "
                   "and gradients (.dot always; .svg/.png need Graphviz)")
    p.add_argument("--latex", action="store_true", help="also print the gradient in LaTeX")
    return p


def _parse_point(text: str) -> dict[str, float]:
    point: dict[str, float] = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise DiffError(f"--at: expected NAME=NUMBER pairs like x=3,y=4, got {part!r}")
        try:
            point[name] = float(value)
        except ValueError:
            raise DiffError(f"--at: {value.strip()!r} is not a number (in {part!r})") from None
    return point


def _evaluate(expr: symbolic.Expr, point: dict[str, Any]) -> Any:
    """Evaluate with just the variables the expression uses."""
    return expr.evaluate(**{k: point[k] for k in expr.variables()})


def _tensor_function(expr: symbolic.Expr, names: list[str]) -> Callable[..., Any]:
    """The expression as a function of chainrule tensors (for the engine's reverse mode)."""
    import chainrule as cr

    binary = {"+": cr.add, "-": cr.sub, "*": cr.mul, "/": cr.div, "^": cr.pow}
    funcs = {"exp": cr.exp, "log": cr.log, "sin": cr.sin, "cos": cr.cos, "tan": cr.tan,
             "tanh": cr.tanh, "sqrt": cr.sqrt, "sigmoid": cr.sigmoid}
    program = expr.to_postfix()

    def f(*args: Any) -> Any:
        env = dict(zip(names, args))
        vals: list[Any] = []
        for op, payload, ins in program:
            a = [vals[i] for i in ins]
            if op == "var":
                vals.append(env[payload])
            elif op == "const":
                vals.append(payload)
            elif op == "neg":
                vals.append(cr.neg(cr.as_tensor(a[0])))
            elif op == "func":
                vals.append(funcs[payload](cr.as_tensor(a[0])))
            else:
                vals.append(binary[op](a[0], a[1]))
        return vals[-1]

    return f


def _methods(expr: symbolic.Expr, names: list[str], point: dict[str, float],
             eps: float) -> list[tuple[str, list[float], str]]:
    import chainrule as cr

    x0 = [point[n] for n in names]
    n = len(names)

    def f(*args: Any) -> Any:
        return _evaluate(expr, dict(zip(names, args)))

    counted = numeric.CountingFunction(f)
    rows = [("finite differences (forward)", numeric.gradients(counted, x0, eps),
             f"{counted.calls} evaluations of f")]
    rows.append(("forward mode, dual numbers", [float(p) for p in dual.partials(f, *x0)],
                 f"{n} forward passes"))
    rows.append(("forward mode, symbolic", [float(_evaluate(expr.derive(v), point))
                                            for v in names], f"{n} derivative expressions"))
    rows.append(("reverse mode, symbolic", [float(_evaluate(g, point)) for g in
                                            expr.gradient(*names)], "1 reverse sweep"))
    if n:
        cr.set_default_dtype("float64")
        try:
            grads = cr.grad(_tensor_function(expr, names), tuple(range(n)))(*x0)
        finally:
            cr.set_default_dtype("float32")
        rows.append(("reverse mode, tensors", [g.item() for g in grads],
                     "1 forward + 1 backward pass"))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the gradient of ``args.expression`` at ``--at`` by every method; raises DiffError
    for a bad expression or point."""
    try:
        expr = parse(args.expression)
        point = _parse_point(args.at)
        names = sorted(expr.variables())
        missing = [v for v in names if v not in point]
        if missing:
            raise DiffError(f"--at gives no value for {', '.join(missing)}")
        unused = [v for v in point if v not in names]
        if args.eps <= 0:
            raise DiffError(f"--eps must be positive, got {args.eps}")
        value = float(_evaluate(expr, point))
        exact_exprs = expr.gradient(*names)
        exact = [float(_evaluate(g, point)) for g in exact_exprs]
        rows = _methods(expr, names, point, args.eps)
        hess = symbolic.hessian(expr, names, point) if names else []
    except (ZeroDivisionError, OverflowError) as e:
        raise DiffError(str(e)) from None
    where = ", ".join(f"{k}={v:g}" for k, v in point.items() if k in names)
    print(f"f = {expr}\nat {where}: f = {value!r}")
    if unused:
        print(f"(ignored: {', '.join(unused)} not in the expression)")
    print("\nexact gradient (symbolic):")
    for v, g, e in zip(names, exact, exact_exprs):
        print(f"  df/d{v} = {e}  =  {g!r}")
    if args.latex:
        print("\nLaTeX: " + ", ".join(rf"\frac{{\partial f}}{{\partial {v}}} = {e.to_latex()}"
                                      for v, e in zip(names, exact_exprs)))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'method':<{width}}  {'max |error|':>11}  cost          gradient")
    for name, grad, cost in rows:
        err = max((abs(a - b) for a, b in zip(grad, exact)), default=0.0)
        print(f"{name:<{width}}  {err:>11.2e}  {cost:<28}  "
              + "[" + ", ".join(f"{g:.10g}" for g in grad) + "]")
    if names:
        print(f"\nHessian (symbolic, order {', '.join(names)}):")
        for row in np.asarray(hess, dtype=float):
            print("  [" + ", ".join(f"{h:.10g}" for h in row) + "]")
    if args.graph:
        return _write_graph(expr, point, names, args.graph)
    return 0


def _write_graph(expr: symbolic.Expr, point: dict[str, float], names: list[str],
                 path: str) -> int:
    import sys
    from pathlib import Path

    from ..viz import draw_graph

    drawing = draw_graph(expr, values={k: point[k] for k in names})
    try:
        written = drawing.save(path)
    except GraphvizNotFoundError:
        dot = Path(path).with_suffix(".dot")
        try:
            written = drawing.save(dot)
        except (ValueError, OSError) as e:
            raise UsageError(f"could not write {dot}: {e}") from None
        print(f"{common.PROG} {NAME}: Graphviz's `dot` program is not installed, so {path} "
              f"was not drawn; wrote {dot} instead. For the picture, install Graphviz "
              f"(apt install graphviz, brew install graphviz, or conda install graphviz) and "
              f"run: dot -T{Path(path).suffix.lstrip('.')} {dot} -o {path}", file=sys.stderr)
    except (ValueError, OSError) as e:
        raise UsageError(f"could not write {path}: {e}") from None
    print(f"\ngraph written to {written}")
    return 0


# --------------------------------------------------------------------------- old entry points

add_diff_parser = register


def run_diff(args: argparse.Namespace) -> int:
    """:func:`run` with bad input reported as one line: exit code 0 or 2."""
    return common.report(NAME, run, args)
