"""Symbolic forward and reverse mode, read from the operator table.

Forward mode (:func:`derive`) applies each row's ``jvp`` once per node for one variable;
reverse mode (:func:`gradient`) applies each row's ``partials`` to the adjoints in ONE sweep
for all variables. Both build expressions through an algebra: the raw node constructors
(the textbook rules as written) or the smart builder (constant folding, 0/1 identities), and
simplify the result unless ``simplify=False``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .builders import SMART
from .evaluate import check_env, evaluate
from .nodes import ONE, RAW, ZERO, Const, Expr, Var, depending_on, topo, var_name
from .simplify import simplify as _simplify

__all__ = ["derive", "gradient", "hessian"]


def derive(expr: Expr, name: str, simplify: bool) -> Expr:
    """``d expr / d name`` by forward mode (one sweep over the DAG); see :meth:`Expr.derive`."""
    b = SMART if simplify else RAW
    order = topo([expr])
    varying = depending_on(order, {name})
    tangent: dict[int, Expr] = {}
    for node in order:
        if isinstance(node, Const):
            tangent[id(node)] = ZERO
        elif isinstance(node, Var):
            tangent[id(node)] = ONE if node.name == name else ZERO
        else:
            d = tuple(tangent[id(c)] for c in node.args)
            live = tuple(id(c) in varying for c in node.args)
            tangent[id(node)] = node.rule.jvp(b, d, node.args, node, live)
    out = tangent[id(expr)]
    return _simplify([out])[0] if simplify else out


def gradient(expr: Expr, names: Sequence[str], simplify: bool) -> list[Expr]:
    """Partial derivatives w.r.t. ``names`` in ONE reverse sweep; see :meth:`Expr.gradient`."""
    adjoints = _reverse_sweep(expr, names, SMART if simplify else RAW)
    results = [adjoints.get(id(Var(n)), ZERO) for n in names]
    return _simplify(results) if simplify else results


def _reverse_sweep(root: Expr, names: Sequence[str], b: Any) -> dict[int, Expr]:
    """Adjoints d root / d node for every node that depends on a requested variable."""
    order = topo([root])
    needed = depending_on(order, set(names))
    adjoint: dict[int, Expr] = {id(root): ONE}
    for node in reversed(order):
        g = adjoint.get(id(node))
        if g is None or id(node) not in needed or not node.args:
            continue
        contributions = [
            (child, partial(b, g, node.args, node))
            for child, partial in zip(node.args, node.rule.partials, strict=True)
            if id(child) in needed
        ]
        for child, contribution in contributions:
            previous = adjoint.get(id(child))
            adjoint[id(child)] = contribution if previous is None else b.add(previous, contribution)
    return adjoint


def hessian(
    expr: Expr, variables: Sequence[str | Var], values: Mapping[str, Any] | None = None
) -> Any:
    """Second derivatives of ``expr``: ``H[i][j] = d2 expr / d v_i d v_j``.

    Without ``values``: nested lists of simplified expressions, exactly symmetric (the upper
    triangle is computed by reverse mode over reverse mode and mirrored). With ``values``
    (a mapping of every variable of ``expr``): a float64 array of shape ``(n, n)``.
    """
    names = [var_name(v) for v in variables]
    first = expr.gradient(*names)
    rows: list[list[Expr]] = [[ZERO] * len(names) for _ in names]
    for i, gi in enumerate(first):
        for j, hij in enumerate(gi.gradient(*names[i:]), start=i):
            rows[i][j] = rows[j][i] = hij
    if values is None:
        return rows
    check_env(expr, values)
    return np.array(
        [[evaluate(h, values) for h in row] for row in rows],
        dtype=np.float64,
    )
