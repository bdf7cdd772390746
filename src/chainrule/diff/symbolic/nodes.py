"""Expression nodes: immutable, hash-consed, built with ordinary Python operators.

``Const``, ``Var``, the operators ``Add Sub Mul Div Pow Neg`` and ``Func`` (an elementary
function of :data:`~.table.FUNCTIONS`). Building the same operation on the same operands twice
returns the same object, so an expression is a DAG. Each operation node carries its row of the
operator table as ``node.rule``. :func:`topo` is the package's one graph walk (iterative).

The algorithms behind :class:`Expr`'s methods live in sibling modules that build expressions
themselves; the methods reach them through the package at call time (see :func:`_package`).
"""

from __future__ import annotations

import itertools
import keyword
import math
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from chainrule.diff.errors import DiffError
from chainrule.diff.symbolic.table import FUNCTIONS, OPERATORS, Rule

_TABLE: weakref.WeakValueDictionary[tuple, Expr] = weakref.WeakValueDictionary()
_SERIAL = itertools.count()


def _package() -> Any:
    """The ``chainrule.diff.symbolic`` package, whose submodules hold the algorithms (they
    import this module, so it reaches them at call time rather than importing them)."""
    from chainrule.diff import symbolic

    return symbolic


def _operator_pair(make: Callable[[Any, Any], Expr]) -> tuple[Callable, Callable]:
    """``__op__`` and ``__rop__`` building ``make(a, b)`` from an expression and an expression
    or a number (other types get NotImplemented)."""

    def forward(self: Expr, other: Any) -> Expr:
        return make(self, other) if _is_operand(other) else NotImplemented

    def reflected(self: Expr, other: Any) -> Expr:
        return make(other, self) if _is_operand(other) else NotImplemented

    return forward, reflected


class Expr:
    """Base class of expression nodes. Use :class:`Const`, :class:`Var`, operators and the
    module-level functions to build expressions; see the module docstring for conventions."""

    __slots__ = ("args", "_serial", "_okey", "__weakref__")
    op: ClassVar[str] = "?"
    rule: Rule | None = None  # the operator-table row (None for Const and Var)
    args: tuple[Expr, ...]
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (and refuse)

    # -- operators ----------------------------------------------------------------
    __add__, __radd__ = _operator_pair(lambda a, b: Add(a, b))
    __sub__, __rsub__ = _operator_pair(lambda a, b: Sub(a, b))
    __mul__, __rmul__ = _operator_pair(lambda a, b: Mul(a, b))
    __truediv__, __rtruediv__ = _operator_pair(lambda a, b: Div(a, b))
    __pow__, __rpow__ = _operator_pair(lambda a, b: Pow(a, b))

    def __neg__(self) -> Expr:
        return Neg(self)

    def __pos__(self) -> Expr:
        return self

    # -- immutability helpers ----------------------------------------------------------
    def __copy__(self) -> Expr:
        return self

    def __deepcopy__(self, memo: dict) -> Expr:
        return self

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.to_postfix(),))

    # -- display ------------------------------------------------------------------
    def __str__(self) -> str:
        return _package().printing.to_text(self)

    def __repr__(self) -> str:
        if self.count_nodes(tree=True) > 200:
            return f"<Expr {self.op} with {self.count_nodes()} distinct nodes>"
        return f"Expr({str(self)!r})"

    def to_latex(self) -> str:
        """LaTeX source, e.g. ``\\frac{x}{y}``, ``x^{2} \\cdot y``, ``\\sigma\\left(x\\right)``."""
        return _package().printing.to_latex(self)

    # -- inspection ---------------------------------------------------------------
    def variables(self) -> tuple[str, ...]:
        """Names of the variables in the expression, sorted (the positional order of
        :meth:`compile`)."""
        return tuple(sorted({n.name for n in topo([self]) if isinstance(n, Var)}))

    def count_nodes(self, tree: bool = False) -> int:
        """Number of distinct nodes in the DAG (default), or of nodes in the fully expanded
        tree when ``tree=True`` (shared subexpressions counted every time they occur)."""
        order = topo([self])
        if not tree:
            return len(order)
        size: dict[int, int] = {}
        for node in order:
            size[id(node)] = 1 + sum(size[id(c)] for c in node.args)
        return size[id(self)]

    def to_postfix(self) -> list[tuple]:
        """The DAG as a list of ``(op, payload, input indices)`` in topological order."""
        order = topo([self])
        index = {id(n): i for i, n in enumerate(order)}
        return [(n.op, _payload(n), tuple(index[id(c)] for c in n.args)) for n in order]

    # -- computation --------------------------------------------------------------
    def evaluate(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Value of the expression; variables given by keyword (or a mapping).

        Values may be numbers, NumPy arrays (broadcast elementwise) or Dual numbers. Names
        the expression does not use are ignored (as SymPy's ``subs``), so one environment
        evaluates a function and its derivatives. A missing variable raises
        :class:`DiffError`, as do domain errors (division by zero, ``log`` of a
        non-positive number, ...).
        """
        return _package().evaluate.evaluate(self, {**(values or {}), **kwargs})

    def derive(self, var: str | Var, simplify: bool = True) -> Expr:
        """d(self)/d(var) by forward-mode symbolic differentiation (one sweep over the DAG)."""
        return _package().derive.derive(self, var_name(var), simplify)

    def gradient(self, *variables: str | Var, simplify: bool = True) -> list[Expr]:
        """Partial derivatives w.r.t. ``variables`` (default: all, sorted) in ONE reverse sweep.

        Adjoints are accumulated in reverse topological order over the DAG, so shared
        subexpressions are visited once. The results are expressions and can be
        differentiated again.
        """
        names = [var_name(v) for v in variables] or list(self.variables())
        return _package().derive.gradient(self, names, simplify)

    def hessian(self, *variables: str | Var) -> list[list[Expr]]:
        """Matrix of second derivatives as nested lists of expressions (exactly symmetric)."""
        names = [var_name(v) for v in variables] or list(self.variables())
        return _package().derive.hessian(self, names)

    def simplify(self) -> Expr:
        """An equivalent, simplified expression (see the module docstring for the rules)."""
        return _package().simplify.simplify([self])[0]

    def compile(self) -> Any:
        """A fast NumPy function of the variables (keywords, or positional in sorted order):
        a :class:`~.compiled.CompiledExpr`."""
        return _package().compiled.CompiledExpr(self)


def _rebuild(postfix: list[tuple]) -> Expr:
    nodes: list[Expr] = []
    for op, payload, inputs in postfix:
        nodes.append(_from_parts(op, payload, [nodes[i] for i in inputs]))
    return nodes[-1]


def _from_parts(op: str, payload: Any, args: list[Expr]) -> Expr:
    if op == "const":
        return Const(payload)
    if op == "var":
        return Var(payload)
    rule = FUNCTIONS[payload] if op == "func" else OPERATORS[op]
    return rule.build(RAW, *args)


def _payload(node: Expr) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, (Var, Func)):
        return node.name
    return None


def _intern(cls: type, key: tuple, args: tuple, **attrs: Any) -> Any:
    node = _TABLE.get(key)
    if node is None:
        node = object.__new__(cls)
        node.args = args
        node._serial = next(_SERIAL)
        node._okey = None
        for name, value in attrs.items():
            object.__setattr__(node, name, value)
        _TABLE[key] = node
    return node


def _is_operand(value: Any) -> bool:
    return isinstance(value, Expr) or _is_number(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _lift(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if _is_number(value):
        return Const(value)
    raise DiffError(f"cannot use {type(value).__name__} in a symbolic expression")


class Const(Expr):
    """A finite real constant (stored as a float)."""

    __slots__ = ("value",)
    op = "const"
    value: float

    def __new__(cls, value: Any) -> Const:
        if isinstance(value, Const):
            return value
        if not _is_number(value):
            raise DiffError(f"Const needs a real number, got {type(value).__name__}")
        v = float(value)
        if not math.isfinite(v):
            raise DiffError(f"Const must be finite, got {v}")
        v = v + 0.0  # turn -0.0 into 0.0
        return _intern(cls, (cls, v), (), value=v)


class Var(Expr):
    """A named variable; the name must be a Python identifier (and not a keyword)."""

    __slots__ = ("name",)
    op = "var"
    name: str

    def __new__(cls, name: Any) -> Var:
        if isinstance(name, Var):
            return name
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise DiffError(f"variable name must be an identifier, got {name!r}")
        return _intern(cls, (cls, name), (), name=name)


class _Binary(Expr):
    __slots__ = ()

    def __new__(cls, a: Any, b: Any) -> Expr:
        left, right = _lift(a), _lift(b)
        return _intern(cls, (cls, id(left), id(right)), (left, right))


def _operator(name: str, op: str, doc: str) -> type[_Binary]:
    """The node class of binary operator ``op`` (its row in :data:`~.table.OPERATORS`)."""
    namespace = {"__slots__": (), "__doc__": doc, "__module__": __name__, "__qualname__": name}
    return type(name, (_Binary,), {**namespace, "op": op, "rule": OPERATORS[op]})


Add = _operator("Add", "+", "``a + b``.")
Sub = _operator("Sub", "-", "``a - b``.")
Mul = _operator("Mul", "*", "``a * b``.")
Div = _operator("Div", "/", "``a / b``.")
Pow = _operator("Pow", "^", "``a ^ b`` (printed with ``^``).")


class Neg(Expr):
    """``-a``."""

    __slots__ = ()
    op = "neg"
    rule = OPERATORS["neg"]

    def __new__(cls, a: Any) -> Expr:
        arg = _lift(a)
        return _intern(cls, (cls, id(arg)), (arg,))


class Func(Expr):
    """An elementary function applied to one argument, e.g. ``Func("exp", x)``;
    ``name`` is a key of :data:`FUNCTIONS`."""

    __slots__ = ("name", "rule")
    op = "func"
    name: str

    def __new__(cls, name: str, a: Any) -> Expr:
        if name not in FUNCTIONS:
            raise DiffError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        arg = _lift(a)
        return _intern(cls, (cls, name, id(arg)), (arg,), name=name, rule=FUNCTIONS[name])


ZERO, ONE, TWO = Const(0.0), Const(1.0), Const(2.0)


class _RawBuilder:
    """The node constructors as an algebra (see :mod:`.table`): the textbook rules as written,
    zeros and ones included."""

    add, sub, mul, div, pow = Add, Sub, Mul, Div, Pow
    neg, func, c = Neg, Func, Const


RAW = _RawBuilder()


def _function(name: str) -> Any:
    def fn(x: Any) -> Expr:
        return Func(name, x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Symbolic ``{name}(x)``; ``x`` may be an expression or a number."
    return fn


exp = _function("exp")
log = _function("log")
sin = _function("sin")
cos = _function("cos")
tan = _function("tan")
tanh = _function("tanh")
sqrt = _function("sqrt")
sigmoid = _function("sigmoid")


# ================================================================= graph utilities


def topo(roots: Iterable[Expr]) -> list[Expr]:
    """All nodes reachable from ``roots``, children before parents (iterative DFS)."""
    order: list[Expr] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.args) if id(c) not in seen)
    return order


def depending_on(order: Sequence[Expr], names: set[str] | None = None) -> set[int]:
    """Ids of the nodes (in topological ``order``) that contain one of the variables
    ``names`` (any variable when None)."""
    found: set[int] = set()
    for node in order:
        if isinstance(node, Var):
            if names is None or node.name in names:
                found.add(id(node))
        elif any(id(c) in found for c in node.args):
            found.add(id(node))
    return found


def var_name(var: Any) -> str:
    """The name of ``var`` (a :class:`Var` or a string), validated."""
    if isinstance(var, Var):
        return var.name
    return Var(var).name  # validates
