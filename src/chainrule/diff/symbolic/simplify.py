"""The simplifier behind :meth:`Expr.simplify` (and the results of derive and gradient).

It folds constants, applies ``0*x -> 0``, ``1*x -> x``, ``x + 0 -> x``, ``x - x -> 0``,
``x*x -> x^2``, ``x/1``, ``x^1``, ``x^0 -> 1``, ``--x -> x``, collects like terms and powers,
and distributes numeric factors over sums. Like most computer-algebra systems it treats
``x/x`` as 1 and ``0*x`` as 0 even where ``x`` would be undefined. It does not expand products
of sums. Sums and products are kept as views (``{term: coeff}``, ``{base: exponent}``) during
one run and written out as expressions, in a deterministic order, only when needed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import DiffError
from .nodes import ONE, Add, Const, Div, Expr, Func, Mul, Neg, Pow, Sub, Var, topo
from .printing import format_number
from .table import FUNCTIONS

__all__ = ["simplify"]

_SIG_LEN = 40
_SHARED_LIMIT = 16  # a shared sum/product larger than this stays one node when simplified


def simplify(roots: Sequence[Expr]) -> list[Expr]:
    """The simplified forms of ``roots``, computed in one run (shared work is done once)."""
    return _Simplifier().run(roots)


class _Val:
    """A simplified value during one simplify run: an expression, a sum view
    ``(const, {term: coeff})`` or a product view ``(coeff, {base: exponent})``. Views are
    materialized into expressions lazily, so long chains stay linear."""

    __slots__ = ("expr", "sumv", "prodv", "frozen", "mono")

    def __init__(self, expr: Expr | None = None, sumv: Any = None, prodv: Any = None) -> None:
        self.expr, self.sumv, self.prodv = expr, sumv, prodv
        self.frozen = expr is not None
        self.mono: Expr | None = None


def _add_factor(coeff: float, factors: dict, base: Expr, power: float) -> float:
    """Multiply ``coeff * prod(factors)`` by ``base**power`` in place; returns the coeff."""
    new = factors.get(base, 0.0) + power
    if new == 0.0:
        factors.pop(base, None)
        return coeff
    if isinstance(base, Const) and base.value > 0 and float(new).is_integer():
        factors.pop(base, None)
        return coeff * base.value**new
    factors[base] = new
    return coeff


class _Simplifier:
    """One run of :meth:`Expr.simplify` over several roots (sharing work)."""

    def __init__(self) -> None:
        self.registry: dict[Expr, _Val] = {}

    def run(self, roots: Sequence[Expr]) -> list[Expr]:
        order = topo(roots)
        self.uses = Counter(id(c) for n in order for c in n.args)
        self.uses.update(id(r) for r in roots)
        vals: dict[int, _Val] = {}
        for node in order:
            vals[id(node)] = self.visit(node, [vals[id(c)] for c in node.args])
        return [self.materialize(vals[id(r)]) for r in roots]

    # -- views ----------------------------------------------------------------------
    def val_of(self, expr: Expr) -> _Val:
        val = self.registry.get(expr)
        if val is None:
            val = self.registry[expr] = _Val(expr)
        return val

    def sum_view(self, val: _Val, steal: bool) -> tuple[float, dict]:
        """``(const, {term: coeff})``; a copy unless ``steal`` (single use) allows reuse."""
        if val.sumv is not None:
            const, terms = val.sumv
            if steal and not val.frozen:
                return const, terms
            if len(terms) <= _SHARED_LIMIT:
                return const, dict(terms)
            return 0.0, {self.materialize(val): 1.0}  # large and shared: keep the DAG
        if val.prodv is not None:
            coeff, factors = val.prodv
            if len(factors) > _SHARED_LIMIT and not steal:
                return 0.0, {self.materialize(val): 1.0}
            return 0.0, {self.monomial(val): coeff}
        if isinstance(val.expr, Const):
            return val.expr.value, {}
        return 0.0, {val.expr: 1.0}

    def prod_view(self, val: _Val, steal: bool) -> tuple[float, dict]:
        """``(coeff, {base: exponent})``; a copy unless ``steal`` (single use) allows reuse."""
        if val.prodv is not None:
            coeff, factors = val.prodv
            if steal and not val.frozen:
                return coeff, factors
            if len(factors) <= _SHARED_LIMIT:
                return coeff, dict(factors)
            return 1.0, {self.materialize(val): 1.0}  # large and shared: keep the DAG
        if val.sumv is not None:
            return 1.0, {self.materialize(val): 1.0}
        if isinstance(val.expr, Const):
            return val.expr.value, {}
        return 1.0, {val.expr: 1.0}

    def monomial(self, val: _Val) -> Expr:
        """The product ``val`` without its numeric coefficient (cached on ``val``)."""
        if val.mono is None:
            val.mono = self.materialize(_Val(prodv=(1.0, dict(val.prodv[1]))))
        return val.mono

    # -- builders -------------------------------------------------------------------
    def const(self, value: float) -> _Val:
        return self.val_of(Const(value))

    def build_sum(self, const: float, terms: dict) -> _Val:
        if not terms:
            return self.const(const)
        if len(terms) == 1 and const == 0.0:
            ((term, c),) = terms.items()
            coeff, factors = self.prod_view(self.val_of(term), steal=False)
            return self.build_product(coeff * c, factors)
        return _Val(sumv=(const, terms))

    def build_product(self, coeff: float, factors: dict) -> _Val:
        if coeff == 0.0 or not factors:
            return self.const(coeff)
        if len(factors) == 1:
            ((base, power),) = factors.items()
            if power == 1.0:
                val = self.val_of(base)
                if coeff == 1.0:
                    return val
                if val.sumv is not None and len(val.sumv[1]) <= _SHARED_LIMIT:
                    const, terms = self.sum_view(val, steal=False)
                    return self.build_sum(const * coeff, {t: c * coeff for t, c in terms.items()})
        return _Val(prodv=(coeff, factors))

    # -- node rules -----------------------------------------------------------------
    def steal(self, node: Expr, index: int) -> bool:
        return self.uses[id(node.args[index])] == 1

    def visit(self, node: Expr, vals: list[_Val]) -> _Val:
        if isinstance(node, (Const, Var)):
            return self.val_of(node)
        if isinstance(node, (Add, Sub)):
            return self.visit_sum(node, vals, -1.0 if isinstance(node, Sub) else 1.0)
        if isinstance(node, Neg):
            return self.visit_neg(node, vals[0])
        if isinstance(node, (Mul, Div)):
            return self.visit_product(node, vals, -1.0 if isinstance(node, Div) else 1.0)
        if isinstance(node, Pow):
            return self.visit_pow(node, vals)
        return self.visit_func(node, vals[0])

    def visit_sum(self, node: Expr, vals: list[_Val], sign: float) -> _Val:
        c1, t1 = self.sum_view(vals[0], self.steal(node, 0))
        c2, t2 = self.sum_view(vals[1], self.steal(node, 1))
        if sign == 1.0 and len(t2) > len(t1):
            (c1, t1), (c2, t2) = (c2, t2), (c1, t1)
        for term, c in t2.items():
            new = t1.get(term, 0.0) + sign * c
            if new == 0.0:
                t1.pop(term, None)
            else:
                t1[term] = new
        return self.build_sum(c1 + sign * c2, t1)

    def visit_neg(self, node: Expr, val: _Val) -> _Val:
        if val.sumv is not None:
            const, terms = self.sum_view(val, self.steal(node, 0))
            return self.build_sum(-const, {t: -c for t, c in terms.items()})
        coeff, factors = self.prod_view(val, self.steal(node, 0))
        return self.build_product(-coeff, factors)

    def visit_product(self, node: Expr, vals: list[_Val], sign: float) -> _Val:
        c1, f1 = self.prod_view(vals[0], self.steal(node, 0))
        c2, f2 = self.prod_view(vals[1], self.steal(node, 1))
        if sign == -1.0 and c2 == 0.0:  # division by zero: keep it for evaluate to report
            return self.val_of(Div(self.materialize(vals[0]), self.materialize(vals[1])))
        coeff = c1 * c2 if sign == 1.0 else c1 / c2
        if sign == 1.0 and len(f2) > len(f1):
            f1, f2 = f2, f1
        for base, power in f2.items():
            coeff = _add_factor(coeff, f1, base, sign * power)
        return self.build_product(coeff, f1)

    def visit_pow(self, node: Expr, vals: list[_Val]) -> _Val:
        base, expo = self.materialize(vals[0]), self.materialize(vals[1])
        if isinstance(expo, Const):
            out = self.power(vals[0], expo.value, self.steal(node, 0))
            return out if out is not None else self.val_of(Pow(base, expo))
        if base is ONE:
            return self.const(1.0)
        return self.val_of(Pow(base, expo))

    def power(self, val: _Val, k: float, steal: bool) -> _Val | None:
        """``val ** k`` for a constant ``k``; None when outside the real domain."""
        coeff, factors = self.prod_view(val, steal)
        if float(k).is_integer():
            if coeff == 0.0 and k < 0:
                return None
            out: dict = {}
            new_coeff = 1.0 if k == 0 else coeff**k
            for base, power in factors.items():
                new_coeff = _add_factor(new_coeff, out, base, power * k)
            return self.build_product(new_coeff, out)
        if coeff == 1.0 and len(factors) == 1 and next(iter(factors.values())) == 1.0:
            return self.build_product(1.0, {next(iter(factors)): k})
        if not factors and coeff > 0:
            value = coeff**k
            return (
                self.const(value)
                if float(value).is_integer()
                else self.build_product(1.0, {Const(coeff): k})
            )
        if not factors and coeff == 0.0:
            return None if k < 0 else self.const(0.0)
        return self.build_product(1.0, {self.materialize(val): k})

    def visit_func(self, node: Func, val: _Val) -> _Val:
        if node.name == "sqrt":
            out = self.power(val, 0.5, self.steal(node, 0))
            return out if out is not None else self.val_of(Func("sqrt", self.materialize(val)))
        arg = self.materialize(val)
        if isinstance(arg, Const):
            folded = _fold_function(node.name, arg.value)
            if folded is not None:
                return self.const(folded)
        inverse = {"log": "exp", "exp": "log"}.get(node.name)
        if inverse and isinstance(arg, Func) and arg.name == inverse:
            return self.val_of(arg.args[0])
        return self.val_of(Func(node.name, arg))

    # -- materialization ------------------------------------------------------------
    def materialize(self, val: _Val) -> Expr:
        if val.expr is None:
            if val.sumv is not None:
                val.expr = self.sum_expr(*val.sumv)
            else:
                val.expr = self.product_expr(*val.prodv)
            val.frozen = True
            self.registry.setdefault(val.expr, val)
        return val.expr

    def degree(self, term: Expr) -> float:
        val = self.registry.get(term)
        if val is not None and val.prodv is not None:
            return float(sum(val.prodv[1].values()))
        return 1.0

    def scaled(self, term: Expr, c: float) -> Expr:
        val = self.registry.get(term)
        if val is not None and val.prodv is not None:
            return self.product_expr(c * val.prodv[0], val.prodv[1])
        if c == 1.0:
            return term
        return Neg(term) if c == -1.0 else Mul(Const(c), term)

    def sum_expr(self, const: float, terms: dict) -> Expr:
        """Terms by decreasing degree, then name; constant last. A positive term (or the
        constant) is moved to the front rather than starting with a minus: ``1 - x``."""
        ordered = sorted(terms.items(), key=lambda tc: (-self.degree(tc[0]), _order_key(tc[0])))
        first_positive = next((i for i, (_, c) in enumerate(ordered) if c > 0), None)
        if first_positive is not None:
            ordered.insert(0, ordered.pop(first_positive))
        if first_positive is None and const > 0:
            acc, rest, const = Const(const), ordered, 0.0
        else:
            acc, rest = self.scaled(*ordered[0]), ordered[1:]
        for term, c in rest:
            acc = Sub(acc, self.scaled(term, -c)) if c < 0 else Add(acc, self.scaled(term, c))
        if const > 0:
            acc = Add(acc, Const(const))
        elif const < 0:
            acc = Sub(acc, Const(-const))
        return acc

    def product_expr(self, coeff: float, factors: dict) -> Expr:
        ordered = sorted(factors.items(), key=lambda bp: _order_key(bp[0]))
        num = _chain([_power_expr(b, p) for b, p in ordered if p > 0])
        den = _chain([_power_expr(b, -p) for b, p in ordered if p < 0])
        if num is None:
            top: Expr = Const(coeff)
        elif coeff == 1.0:
            top = num
        elif coeff == -1.0:
            top = Neg(num)
        else:
            top = Mul(Const(coeff), num)
        return top if den is None else Div(top, den)


def _chain(parts: list[Expr]) -> Expr | None:
    if not parts:
        return None
    acc = parts[0]
    for part in parts[1:]:
        acc = Mul(acc, part)
    return acc


def _power_expr(base: Expr, power: float) -> Expr:
    if power == 1.0:
        return base
    if power == 0.5:
        return Func("sqrt", base)
    return Pow(base, Const(power))


def _fold_function(name: str, value: float) -> float | None:
    """Fold ``f(constant)`` only when the result is exact (an integer, or f(0))."""
    try:
        result = float(FUNCTIONS[name].value(value))
    except DiffError:
        return None
    if math.isfinite(result) and (value == 0.0 or result.is_integer()):
        return result
    return None


_RANK = {"const": 0, "var": 1, "func": 2, "^": 3}


def _order_key(node: Expr) -> tuple:
    """A deterministic sort key: (kind, bounded text signature, creation serial)."""
    stack = [node]
    while stack:  # post-order over the nodes that have no key yet
        top = stack[-1]
        if top._okey is not None:
            stack.pop()
            continue
        pending = [c for c in top.args if c._okey is None]
        if pending:
            stack.extend(pending)
        else:
            top._okey = (_RANK.get(top.op, 4), _signature(top), top._serial)
            stack.pop()
    return node._okey


def _signature(node: Expr) -> str:
    if isinstance(node, Const):
        text = format_number(node.value)
    elif isinstance(node, Var):
        text = node.name
    elif isinstance(node, Func):
        text = f"{node.name}({node.args[0]._okey[1]})"
    elif isinstance(node, Neg):
        text = "-" + node.args[0]._okey[1]
    else:
        text = f"({node.args[0]._okey[1]}{node.op}{node.args[1]._okey[1]})"
    return text[:_SIG_LEN]
