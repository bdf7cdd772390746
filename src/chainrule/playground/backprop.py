"""The backpropagation view: an expression's computation graph with its forward values and
backward gradients, computed by :mod:`chainrule.diff.symbolic` (reverse mode) and
:mod:`chainrule.diff.dual` (forward mode, one dual-number pass per input).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..diff.dual import Dual
from ..diff.errors import DiffError
from ..diff.symbolic import Const, Expr, Var, backward_adjoints, forward_values, parse
from ..diff.symbolic.evaluate import Numbers
from ..diff.symbolic.nodes import topo
from .errors import PlaygroundInputError

__all__ = ["explain", "parse_values"]

MAX_CHARS, MAX_NODES = 400, 200
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(\S+)\s*$")


def parse_values(text: str) -> dict[str, float]:
    """``"x=3, y=4"`` -> ``{"x": 3.0, "y": 4.0}``."""
    values: dict[str, float] = {}
    for part in filter(str.strip, str(text).split(",")):
        m = _ASSIGN.match(part)
        if not m:
            raise PlaygroundInputError(f"cannot read {part.strip()!r}: write name=value, "
                                       f"separated by commas")
        try:
            values[m.group(1)] = float(m.group(2))
        except ValueError:
            raise PlaygroundInputError(f"{m.group(1)}: {m.group(2)!r} is not a number") \
                from None
    return values


def _label(node: Expr) -> str:
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Const):
        return _number(node.value)
    name = getattr(node, "name", None)  # functions: sin, exp, ...
    symbols = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "−"}
    return name if isinstance(name, str) else symbols.get(node.op, node.op)


def _number(v: Any) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def explain(expression: str, values: dict[str, float]) -> dict[str, Any]:
    """The graph of ``expression`` at ``values``: nodes in forward (topological) order with
    value and adjoint, edges child -> parent with the gradient flowing back along each
    (``adjoint(parent) * d parent / d child``), the gradient, and the cost of forward vs
    reverse mode."""
    if not isinstance(expression, str) or not expression.strip():
        raise PlaygroundInputError("type an expression, e.g. x*x*y + y + 2")
    if len(expression) > MAX_CHARS:
        raise PlaygroundInputError(f"expression longer than {MAX_CHARS} characters")
    try:
        expr = parse(expression)
    except (DiffError, ValueError, SyntaxError) as exc:
        raise PlaygroundInputError(f"cannot parse {expression!r}: {exc}") from None
    order = topo([expr])
    if len(order) > MAX_NODES:
        raise PlaygroundInputError(f"the graph has {len(order)} nodes; at most {MAX_NODES}")
    names = sorted({n.name for n in order if isinstance(n, Var)})
    missing = [n for n in names if n not in values]
    if missing:
        raise PlaygroundInputError(f"give a value for {', '.join(missing)} (e.g. "
                                   f"{', '.join(f'{m}=1' for m in missing)})")
    env = {n: values[n] for n in names}
    try:
        forward = forward_values(expr, env)
        adjoint = backward_adjoints(expr, env)
    except (DiffError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise PlaygroundInputError(f"cannot evaluate at {_env_text(env)}: {exc}") from None
    index = {id(n): i for i, n in enumerate(order)}
    depth: dict[int, int] = {}
    for n in order:
        depth[id(n)] = 1 + max((depth[id(c)] for c in n.args), default=-1)
    nodes = [{"id": i, "label": _label(n), "kind": n.op, "text": str(n),
              "depth": depth[id(n)], "value": _finite(forward[n]),
              "grad": _finite(adjoint[n]) if n in adjoint else None}
             for i, n in enumerate(order)]
    edges = []
    for n in order:
        inputs = tuple(forward[c] for c in n.args)
        for k, child in enumerate(n.args):
            grad = None
            if n in adjoint and child in adjoint:
                local = n.rule.partials[k](Numbers(n), 1.0, inputs, forward[n])
                grad = _finite(adjoint[n] * local)
            edges.append({"from": index[id(child)], "to": index[id(n)], "grad": grad})
    return {"expression": str(expr), "nodes": nodes, "edges": edges,
            "output": _finite(forward[expr]),
            "gradient": {v: _finite(adjoint.get(_var(order, v), 0.0)) for v in names},
            "cost": _cost(expr, order, env, names)}


def _var(order: list[Expr], name: str) -> Expr:
    return next(n for n in order if isinstance(n, Var) and n.name == name)


def _cost(expr: Expr, order: list[Expr], env: dict[str, float],
          names: list[str]) -> dict[str, Any]:
    """Forward mode needs one dual-number pass per input, reverse mode one forward and one
    backward pass for all. The forward-mode passes are run here too: ``forward_mode_tangents``
    holds, per input, every node's derivative along that input (the dual part, node order),
    which the page steps through pass by pass."""
    ops = sum(1 for n in order if n.args)
    dual, tangents = {}, {}
    for name in names:
        seeded = {v: Dual(x, 1.0 if v == name else 0.0) for v, x in env.items()}
        try:
            values = forward_values(expr, seeded)
        except (DiffError, ValueError, ZeroDivisionError):
            dual[name], tangents[name] = None, None
            continue
        tangents[name] = [_finite(getattr(values[n], "eps", 0.0)) for n in order]
        dual[name] = tangents[name][-1]
    return {"inputs": len(names), "operations": ops,
            "forward_passes": len(names), "forward_node_evaluations": len(names) * ops,
            "reverse_passes": 2, "reverse_node_evaluations": 2 * ops,
            "forward_mode_gradient": dual, "forward_mode_tangents": tangents}


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _env_text(env: dict[str, float]) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in env.items())
