"""Numeric evaluation and numeric reverse mode, read from the operator table.

:class:`Numbers` is the table's algebra on numbers: each node's value is its rule's ``build``
applied to its inputs' values, and each numeric partial derivative is its rule's ``partials``
with seed 1. Values may be floats, NumPy arrays (broadcast elementwise) or
:class:`~chainrule.diff.dual.Dual` numbers; domain errors raise
:class:`~chainrule.diff.errors.DiffError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.diff import dual as _dual
from chainrule.diff.errors import DiffError
from chainrule.diff.symbolic.nodes import Const, Expr, Func, Var, depending_on, topo
from chainrule.diff.symbolic.printing import short
from chainrule.diff.symbolic.table import FUNCTIONS

__all__ = ["Numbers", "backward_adjoints", "evaluate", "forward_values"]

_SEED = float("1.0")  # the seed of numeric partials: multiplying by it is skipped


class Numbers:
    """The operator table's algebra on numbers for one node ``where`` (named, shortened, in
    division-by-zero messages; a string is used as it is)."""

    __slots__ = ("where",)

    def __init__(self, where: Expr | str) -> None:
        self.where = where

    @staticmethod
    def add(a: Any, b: Any) -> Any:
        return a + b

    @staticmethod
    def sub(a: Any, b: Any) -> Any:
        return a - b

    @staticmethod
    def mul(a: Any, b: Any) -> Any:
        return b if a is _SEED else a * b

    def div(self, a: Any, b: Any) -> Any:
        return checked_div(self.where, a, b)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return _dual.pow(a, b)

    @staticmethod
    def neg(a: Any) -> Any:
        return -a

    @staticmethod
    def func(name: str, a: Any) -> Any:
        return FUNCTIONS[name].value(a)

    @staticmethod
    def c(value: float) -> float:
        return float(value)


def checked_div(where: Expr | str, num: Any, den: Any) -> Any:
    """``num / den``, raising DiffError (naming ``where``) for a zero plain denominator; Dual
    denominators check themselves."""
    if not isinstance(num, _dual.Dual) and not isinstance(den, _dual.Dual):
        if np.any(np.asarray(den) == 0):
            place = where if isinstance(where, str) else short(where)
            raise DiffError(f"division by zero in {place}")
    return num / den


def check_env(expr: Expr, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the variables of ``expr``, checked. Names the expression does not use
    are ignored (as SymPy's ``subs``), so one environment evaluates a function and its
    derivatives; a missing variable raises, naming it."""
    needed = set(expr.variables())
    missing = sorted(needed - set(values))
    if missing:
        raise DiffError(f"missing value for variable(s): {', '.join(missing)}")
    return {k: _as_value(k, v) for k, v in values.items() if k in needed}


def _as_value(name: str, value: Any) -> Any:
    if isinstance(value, _dual.Dual):
        return value
    try:
        return _dual._as_real(value, f"value of {name}")
    except DiffError as err:
        raise DiffError(f"bad value for variable {name}: {err}") from None


def _values(root: Expr, env: Mapping[str, Any]) -> dict[Expr, Any]:
    """The value of every node of ``root`` (keyed by node), children first."""
    results: dict[Expr, Any] = {}
    for node in topo([root]):
        if isinstance(node, Const):
            results[node] = node.value
        elif isinstance(node, Var):
            results[node] = env[node.name]
        else:
            results[node] = node.rule.build(Numbers(node), *[results[c] for c in node.args])
    return results


def evaluate(expr: Expr, values: Mapping[str, Any]) -> Any:
    """:meth:`Expr.evaluate`: every variable given (extra names are ignored)."""
    return _values(expr, check_env(expr, values))[expr]


def forward_values(expr: Expr, values: Mapping[str, Any]) -> dict[Expr, Any]:
    """The value of every node of ``expr`` (a dict keyed by node), as :meth:`Expr.evaluate`
    computes them; ``values`` must give every variable (extra names are ignored)."""
    return _values(expr, check_env(expr, values))


def backward_adjoints(expr: Expr, values: Mapping[str, Any]) -> dict[Expr, Any]:
    """Numeric reverse mode on the expression graph: for every non-constant node ``n``, the
    adjoint ``d expr / d n`` at ``values`` (seed 1, or ones for an array output).

    Local partial derivatives are evaluated numerically from the forward values and
    accumulated in reverse topological order -- the picture of reverse-mode autodiff in
    *Hands-On ML* appendix D. Array adjoints are summed back to each node's shape.
    """
    forward = forward_values(expr, values)
    order = topo([expr])
    live = depending_on(order)
    out = forward[expr]
    adjoint: dict[Expr, Any] = {expr: np.ones_like(out) if isinstance(out, np.ndarray) else 1.0}
    for node in reversed(order):
        g = adjoint.get(node)
        if g is None or not node.args:
            continue
        where = f"the derivative of {node.name}" if isinstance(node, Func) else node
        inputs = tuple(forward[c] for c in node.args)
        for child, partial in zip(node.args, node.rule.partials, strict=True):
            if id(child) not in live:
                continue
            slope = partial(Numbers(where), _SEED, inputs, forward[node])
            contribution = _unbroadcast(g * slope, np.shape(forward[child]))
            previous = adjoint.get(child)
            adjoint[child] = contribution if previous is None else previous + contribution
    return {node: g for node, g in adjoint.items() if id(node) in live}


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` summed over the axes that broadcasting added to an input of ``shape``."""
    if not isinstance(g, np.ndarray) or g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    keep = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    g = g.sum(axis=keep, keepdims=True) if keep else g
    return float(g) if shape == () else g
