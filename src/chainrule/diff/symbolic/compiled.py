"""Compiled NumPy functions: straight-line Python generated from an expression's DAG, one
line per operation from the operator table's ``code`` templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.diff.errors import DiffError
from chainrule.diff.symbolic.nodes import Const, Expr, Var, topo
from chainrule.diff.symbolic.printing import short
from chainrule.diff.symbolic.table import FUNCTIONS

__all__ = ["CompiledExpr"]


class CompiledExpr:
    """A NumPy function generated from an expression's DAG (straight-line code, one line per
    operation, shared subexpressions computed once).

    Call with keywords, or positionally in the order of :attr:`variables` (sorted names).
    Inputs are converted to float64 arrays; the result is broadcast to the inputs' common
    shape, and returned as a float when that shape is ``()``. Follows NumPy semantics: no
    domain checks (``log(-1)`` gives ``nan`` with a NumPy warning); use
    :meth:`Expr.evaluate` for checked evaluation. :attr:`source` shows the generated code.
    """

    def __init__(self, expr: Expr) -> None:
        self.expr = expr
        self.variables: tuple[str, ...] = expr.variables()
        self.source = _generate_source(expr, self.variables)
        namespace: dict[str, Any] = {"__builtins__": {}}
        namespace.update({f"_{name}": rule.numpy for name, rule in FUNCTIONS.items()})
        # Safe: the source is generated from the trusted DAG, never from user text.
        exec(compile(self.source, "<chainrule.symbolic>", "exec"), namespace)
        self._fn = namespace["_compiled"]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        result = self._fn(*values)
        shape = np.broadcast_shapes(*(np.shape(v) for v in values)) if values else ()
        out = np.broadcast_to(result, shape) if np.shape(result) != shape else result
        return float(out) if shape == () else np.array(out, dtype=np.float64)

    def _bind(self, args: tuple, kwargs: dict) -> list[np.ndarray]:
        names = self.variables
        if len(args) > len(names):
            raise DiffError(f"expected at most {len(names)} positional values {names}")
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:  # as evaluate: names the expression does not use are ignored
                continue
            if key in bound:
                raise DiffError(f"variable {key!r} given twice")
            bound[key] = value
        missing = [n for n in names if n not in bound]
        if missing:
            raise DiffError(f"missing value for variable(s): {', '.join(missing)}")
        return [np.asarray(bound[n], dtype=np.float64) for n in names]

    def __repr__(self) -> str:
        return f"CompiledExpr({', '.join(self.variables)}) of {short(self.expr)}"


def _generate_source(expr: Expr, names: Sequence[str]) -> str:
    """Straight-line Python from the trusted DAG. Every identifier is generated here
    (``a0..`` for inputs, ``t0..`` for intermediates, ``_exp``.. for functions); constants are
    float literals; no user text reaches the source."""
    arg_of = {name: f"a{i}" for i, name in enumerate(names)}
    operand: dict[int, str] = {}
    lines = [f"def _compiled({', '.join(arg_of.values())}):"]
    for node in topo([expr]):
        if isinstance(node, Const):
            operand[id(node)] = repr(node.value) if node.value >= 0 else f"({node.value!r})"
            continue
        if isinstance(node, Var):
            operand[id(node)] = arg_of[node.name]
            continue
        name = f"t{len(lines)}"
        lines.append(f"    {name} = {node.rule.code.format(*[operand[id(c)] for c in node.args])}")
        operand[id(node)] = name
    lines.append(f"    return {operand[id(expr)]}")
    return "\n".join(lines) + "\n"
