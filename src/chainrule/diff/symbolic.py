"""Symbolic differentiation on expression graphs (*Hands-On ML*, appendix D).

Build expressions with ordinary Python operators::

    >>> x, y = Var("x"), Var("y")
    >>> f = x * x * y + y + 2
    >>> str(f)
    'x*x*y + y + 2'
    >>> str(f.derive("x"))             # forward mode, one sweep per variable
    '2*x*y'
    >>> [str(g) for g in f.gradient("x", "y")]   # reverse mode, ONE sweep for all
    ['2*x*y', 'x^2 + 1']
    >>> f.evaluate(x=3, y=4)
    42.0

Conventions
-----------
* Expressions are immutable and **hash-consed**: building the same operation on the same
  operands twice returns the same object, so ``a is b`` is structural equality, an expression
  is a DAG with shared subexpressions, and :meth:`Expr.count_nodes` counts distinct nodes.
* Printing uses ``^`` for powers and the fewest parentheses that keep the mathematical meaning
  (``+`` and ``*`` are treated as associative). :func:`parse` reads ``^`` and ``**``.
* :meth:`Expr.derive` and :meth:`Expr.gradient` simplify their result unless
  ``simplify=False`` (which shows the raw textbook rules, zeros and ones included).
* :meth:`Expr.simplify` folds constants, applies ``0*x -> 0``, ``1*x -> x``, ``x + 0 -> x``,
  ``x - x -> 0``, ``x*x -> x^2``, ``x/1``, ``x^1``, ``x^0 -> 1``, ``--x -> x``, collects like
  terms and powers, and distributes numeric factors over sums. Like most computer-algebra
  systems it treats ``x/x`` as 1 and ``0*x`` as 0 even where ``x`` would be undefined. It does
  not expand products of sums.
* Every graph walk is iterative: expressions thousands of levels deep are fine.
* :meth:`Expr.evaluate` accepts floats, NumPy arrays and :class:`~chainrule.diff.dual.Dual`
  numbers, and raises :class:`~chainrule.diff.errors.DiffError` on domain errors.
  :meth:`Expr.compile` builds a fast NumPy function with NumPy semantics (no domain checks).
"""

from __future__ import annotations

import ast
import itertools
import keyword
import math
import sys
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from chainrule.diff import dual as _dual
from chainrule.diff.errors import DiffError

__all__ = [
    "Add",
    "CompiledExpr",
    "Const",
    "Div",
    "Expr",
    "Func",
    "FUNCTIONS",
    "Mul",
    "Neg",
    "Pow",
    "Sub",
    "Var",
    "backward_adjoints",
    "cos",
    "exp",
    "forward_values",
    "hessian",
    "log",
    "parse",
    "sigmoid",
    "sin",
    "sqrt",
    "tan",
    "tanh",
]

_TABLE: weakref.WeakValueDictionary[tuple, Expr] = weakref.WeakValueDictionary()
_SERIAL = itertools.count()
_SIG_LEN = 40
_SHARED_LIMIT = 16  # a shared sum/product larger than this stays one node when simplified


# ============================================================================ nodes


class Expr:
    """Base class of expression nodes. Use :class:`Const`, :class:`Var`, operators and the
    module-level functions to build expressions; see the module docstring for conventions."""

    __slots__ = ("args", "_serial", "_okey", "__weakref__")
    op: ClassVar[str] = "?"
    args: tuple[Expr, ...]
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (and refuse)

    # -- operators ----------------------------------------------------------------
    def __add__(self, other: Any) -> Expr:
        return Add(self, other) if _is_operand(other) else NotImplemented

    def __radd__(self, other: Any) -> Expr:
        return Add(other, self) if _is_operand(other) else NotImplemented

    def __sub__(self, other: Any) -> Expr:
        return Sub(self, other) if _is_operand(other) else NotImplemented

    def __rsub__(self, other: Any) -> Expr:
        return Sub(other, self) if _is_operand(other) else NotImplemented

    def __mul__(self, other: Any) -> Expr:
        return Mul(self, other) if _is_operand(other) else NotImplemented

    def __rmul__(self, other: Any) -> Expr:
        return Mul(other, self) if _is_operand(other) else NotImplemented

    def __truediv__(self, other: Any) -> Expr:
        return Div(self, other) if _is_operand(other) else NotImplemented

    def __rtruediv__(self, other: Any) -> Expr:
        return Div(other, self) if _is_operand(other) else NotImplemented

    def __pow__(self, other: Any) -> Expr:
        return Pow(self, other) if _is_operand(other) else NotImplemented

    def __rpow__(self, other: Any) -> Expr:
        return Pow(other, self) if _is_operand(other) else NotImplemented

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
        return _to_text(self)

    def __repr__(self) -> str:
        if self.count_nodes(tree=True) > 200:
            return f"<Expr {self.op} with {self.count_nodes()} distinct nodes>"
        return f"Expr({_to_text(self)!r})"

    def to_latex(self) -> str:
        """LaTeX source, e.g. ``\\frac{x}{y}``, ``x^{2} \\cdot y``, ``\\sigma\\left(x\\right)``."""
        return _to_latex(self)

    # -- inspection ---------------------------------------------------------------
    def variables(self) -> tuple[str, ...]:
        """Names of the variables in the expression, sorted (the positional order of
        :meth:`compile`)."""
        return tuple(sorted({n.name for n in _topo([self]) if isinstance(n, Var)}))

    def count_nodes(self, tree: bool = False) -> int:
        """Number of distinct nodes in the DAG (default), or of nodes in the fully expanded
        tree when ``tree=True`` (shared subexpressions counted every time they occur)."""
        order = _topo([self])
        if not tree:
            return len(order)
        size: dict[int, int] = {}
        for node in order:
            size[id(node)] = 1 + sum(size[id(c)] for c in node.args)
        return size[id(self)]

    def to_postfix(self) -> list[tuple]:
        """The DAG as a list of ``(op, payload, input indices)`` in topological order."""
        order = _topo([self])
        index = {id(n): i for i, n in enumerate(order)}
        return [(n.op, _payload(n), tuple(index[id(c)] for c in n.args)) for n in order]

    # -- computation --------------------------------------------------------------
    def evaluate(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Value of the expression; variables given by keyword (or a mapping).

        Values may be numbers, NumPy arrays (broadcast elementwise) or Dual numbers. Missing
        or unknown variable names raise :class:`DiffError`, as do domain errors (division by
        zero, ``log`` of a non-positive number, ...).
        """
        env = _check_env(self, {**(values or {}), **kwargs}, strict=True)
        return _evaluate(self, env)

    def derive(self, var: str | Var, simplify: bool = True) -> Expr:
        """d(self)/d(var) by forward-mode symbolic differentiation (one sweep over the DAG)."""
        name = _var_name(var)
        build = _SMART if simplify else _RAW
        order = _topo([self])
        varying = _depending_on(order, {name})
        tangent: dict[int, Expr] = {}
        for node in order:
            tangent[id(node)] = _jvp(node, tangent, name, build, varying)
        out = tangent[id(self)]
        return _Simplifier().run([out])[0] if simplify else out

    def gradient(self, *variables: str | Var, simplify: bool = True) -> list[Expr]:
        """Partial derivatives w.r.t. ``variables`` (default: all, sorted) in ONE reverse sweep.

        Adjoints are accumulated in reverse topological order over the DAG, so shared
        subexpressions are visited once. The results are expressions and can be
        differentiated again.
        """
        names = [_var_name(v) for v in variables] or list(self.variables())
        adjoints = _reverse_sweep(self, names, _SMART if simplify else _RAW)
        results = [adjoints.get(id(Var(n)), ZERO) for n in names]
        return _Simplifier().run(results) if simplify else results

    def hessian(self, *variables: str | Var) -> list[list[Expr]]:
        """Matrix of second derivatives as nested lists of expressions (exactly symmetric)."""
        return hessian(self, [_var_name(v) for v in variables] or list(self.variables()))

    def simplify(self) -> Expr:
        """An equivalent, simplified expression (see the module docstring for the rules)."""
        return _Simplifier().run([self])[0]

    def compile(self) -> CompiledExpr:
        """A fast NumPy function of the variables (keywords, or positional in sorted order)."""
        return CompiledExpr(self)


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
    if op == "func":
        return Func(payload, args[0])
    if op == "neg":
        return Neg(args[0])
    return _BINARY[op](*args)


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


class Add(_Binary):
    """``a + b``."""

    __slots__ = ()
    op = "+"


class Sub(_Binary):
    """``a - b``."""

    __slots__ = ()
    op = "-"


class Mul(_Binary):
    """``a * b``."""

    __slots__ = ()
    op = "*"


class Div(_Binary):
    """``a / b``."""

    __slots__ = ()
    op = "/"


class Pow(_Binary):
    """``a ^ b`` (printed with ``^``)."""

    __slots__ = ()
    op = "^"


class Neg(Expr):
    """``-a``."""

    __slots__ = ()
    op = "neg"

    def __new__(cls, a: Any) -> Expr:
        arg = _lift(a)
        return _intern(cls, (cls, id(arg)), (arg,))


class Func(Expr):
    """An elementary function applied to one argument, e.g. ``Func("exp", x)``;
    ``name`` is a key of :data:`FUNCTIONS`."""

    __slots__ = ("name",)
    op = "func"
    name: str

    def __new__(cls, name: str, a: Any) -> Expr:
        if name not in FUNCTIONS:
            raise DiffError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        arg = _lift(a)
        return _intern(cls, (cls, name, id(arg)), (arg,), name=name)


_BINARY: dict[str, type[_Binary]] = {"+": Add, "-": Sub, "*": Mul, "/": Div, "^": Pow}
ZERO, ONE, TWO = Const(0.0), Const(1.0), Const(2.0)


# ================================================================= graph utilities


def _topo(roots: Iterable[Expr]) -> list[Expr]:
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


def _var_name(var: Any) -> str:
    if isinstance(var, Var):
        return var.name
    return Var(var).name  # validates


def _short(node: Expr, limit: int = 60) -> str:
    text = _to_text(node) if node.count_nodes(tree=True) < 200 else f"<{node.op} node>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ==================================================================== functions


@dataclass(frozen=True)
class _FuncRule:
    """One elementary function: checked value (Dual-aware), NumPy value, symbolic derivative,
    numeric derivative, LaTeX command."""

    value: Callable[[Any], Any]
    numpy: Callable[[Any], Any]
    slope: Callable[[Expr, Expr, Any], Expr]  # (node, arg, builder) -> d node / d arg
    latex: str
    dvalue: Callable[[Any, Any], Any]  # (arg value, node value) -> numeric derivative


def _np_sigmoid(a: Any) -> Any:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


FUNCTIONS: dict[str, _FuncRule] = {
    "exp": _FuncRule(_dual.exp, np.exp, lambda n, a, b: n, r"\exp", lambda a, v: v),
    "log": _FuncRule(
        _dual.log, np.log, lambda n, a, b: b.div(ONE, a), r"\log", lambda a, v: 1.0 / a
    ),
    "sin": _FuncRule(
        _dual.sin, np.sin, lambda n, a, b: Func("cos", a), r"\sin", lambda a, v: _dual.cos(a)
    ),
    "cos": _FuncRule(
        _dual.cos,
        np.cos,
        lambda n, a, b: b.neg(Func("sin", a)),
        r"\cos",
        lambda a, v: -_dual.sin(a),
    ),
    "tan": _FuncRule(
        _dual.tan,
        np.tan,
        lambda n, a, b: b.add(ONE, b.pow(n, TWO)),
        r"\tan",
        lambda a, v: 1 + v * v,
    ),
    "tanh": _FuncRule(
        _dual.tanh,
        np.tanh,
        lambda n, a, b: b.sub(ONE, b.pow(n, TWO)),
        r"\tanh",
        lambda a, v: 1 - v * v,
    ),
    "sqrt": _FuncRule(
        _dual.sqrt,
        np.sqrt,
        lambda n, a, b: b.div(Const(0.5), n),
        r"\sqrt",
        lambda a, v: _checked_div("the derivative of sqrt", 0.5, v),
    ),
    "sigmoid": _FuncRule(
        _dual.sigmoid,
        _np_sigmoid,
        lambda n, a, b: b.mul(n, b.sub(ONE, n)),
        r"\sigma",
        lambda a, v: v * (1 - v),
    ),
}
"""Known elementary functions: name -> rule (value, NumPy value, derivative, LaTeX)."""


def _function(name: str) -> Callable[[Any], Expr]:
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


# ==================================================================== evaluation


def _check_env(expr: Expr, values: Mapping[str, Any], strict: bool) -> dict[str, Any]:
    needed = set(expr.variables())
    missing = sorted(needed - set(values))
    if missing:
        raise DiffError(f"missing value for variable(s): {', '.join(missing)}")
    unknown = sorted(set(values) - needed)
    if strict and unknown:
        raise DiffError(
            f"unknown variable(s) {', '.join(unknown)}; the expression uses: "
            f"{', '.join(sorted(needed)) or '(none)'}"
        )
    return {k: _as_value(k, v) for k, v in values.items() if k in needed}


def _as_value(name: str, value: Any) -> Any:
    if isinstance(value, _dual.Dual):
        return value
    try:
        return _dual._as_real(value, f"value of {name}")
    except DiffError as err:
        raise DiffError(f"bad value for variable {name}: {err}") from None


def _evaluate(root: Expr, env: Mapping[str, Any]) -> Any:
    results: dict[int, Any] = {}
    for node in _topo([root]):
        results[id(node)] = _eval_node(node, [results[id(c)] for c in node.args], env)
    return results[id(root)]


def _eval_node(node: Expr, a: list[Any], env: Mapping[str, Any]) -> Any:
    op = node.op
    if op == "const":
        return node.value
    if op == "var":
        return env[node.name]
    if op == "+":
        return a[0] + a[1]
    if op == "-":
        return a[0] - a[1]
    if op == "*":
        return a[0] * a[1]
    if op == "/":
        return _checked_div(node, a[0], a[1])
    if op == "^":
        return _dual.pow(a[0], a[1])
    if op == "neg":
        return -a[0]
    return FUNCTIONS[node.name].value(a[0])


def _checked_div(where: Expr | str, num: Any, den: Any) -> Any:
    """``num / den``, raising DiffError (naming ``where``) for a zero plain denominator; Dual
    denominators check themselves."""
    if not isinstance(num, _dual.Dual) and not isinstance(den, _dual.Dual):
        if np.any(np.asarray(den) == 0):
            place = where if isinstance(where, str) else _short(where)
            raise DiffError(f"division by zero in {place}")
    return num / den


def forward_values(expr: Expr, values: Mapping[str, Any]) -> dict[Expr, Any]:
    """The value of every node of ``expr`` (a dict keyed by node), as :meth:`Expr.evaluate`
    computes them; ``values`` must give every variable (extra names are ignored)."""
    env = _check_env(expr, values, strict=False)
    results: dict[Expr, Any] = {}
    for node in _topo([expr]):
        results[node] = _eval_node(node, [results[c] for c in node.args], env)
    return results


def backward_adjoints(expr: Expr, values: Mapping[str, Any]) -> dict[Expr, Any]:
    """Numeric reverse mode on the expression graph: for every non-constant node ``n``, the
    adjoint ``d expr / d n`` at ``values`` (seed 1, or ones for an array output).

    Local partial derivatives are evaluated numerically from the forward values and
    accumulated in reverse topological order -- the picture of reverse-mode autodiff in
    *Hands-On ML* appendix D. Array adjoints are summed back to each node's shape.
    """
    forward = forward_values(expr, values)
    order = _topo([expr])
    live = _depending_on(order)
    out = forward[expr]
    adjoint: dict[Expr, Any] = {expr: np.ones_like(out) if isinstance(out, np.ndarray) else 1.0}
    for node in reversed(order):
        g = adjoint.get(node)
        if g is None or not node.args:
            continue
        wanted = [id(c) in live for c in node.args]
        partials = _local_partials(node, [forward[c] for c in node.args], forward[node], wanted)
        for child, partial in zip(node.args, partials, strict=True):
            if partial is None:
                continue
            contribution = _unbroadcast(g * partial, np.shape(forward[child]))
            previous = adjoint.get(child)
            adjoint[child] = contribution if previous is None else previous + contribution
    return {node: g for node, g in adjoint.items() if id(node) in live}


def _local_partials(node: Expr, a: list[Any], v: Any, wanted: list[bool]) -> list[Any]:
    """Numeric ``d node / d input`` for each input (None where not ``wanted``), from the
    input values ``a`` and the node's value ``v``."""
    partials = _all_partials(node, a, v, wanted)
    return [p if w else None for p, w in zip(partials, wanted, strict=True)]


def _all_partials(node: Expr, a: list[Any], v: Any, wanted: list[bool]) -> list[Any]:
    if isinstance(node, Add):
        return [1.0, 1.0]
    if isinstance(node, Sub):
        return [1.0, -1.0]
    if isinstance(node, Neg):
        return [-1.0]
    if isinstance(node, Mul):
        return [a[1], a[0]]
    if isinstance(node, Div):
        return [_checked_div(node, 1.0, a[1]), -_checked_div(node, v, a[1])]
    if isinstance(node, Pow):
        base = a[1] * _dual.pow(a[0], a[1] - 1) if wanted[0] else None
        return [base, v * _dual.log(a[0]) if wanted[1] else None]
    return [FUNCTIONS[node.name].dvalue(a[0], v)]


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(g, np.ndarray) or g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    keep = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    g = g.sum(axis=keep, keepdims=True) if keep else g
    return float(g) if shape == () else g


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
            if key not in names:
                raise DiffError(f"unknown variable {key!r}; expected {names}")
            if key in bound:
                raise DiffError(f"variable {key!r} given twice")
            bound[key] = value
        missing = [n for n in names if n not in bound]
        if missing:
            raise DiffError(f"missing value for variable(s): {', '.join(missing)}")
        return [np.asarray(bound[n], dtype=np.float64) for n in names]

    def __repr__(self) -> str:
        return f"CompiledExpr({', '.join(self.variables)}) of {_short(self.expr)}"


def _generate_source(expr: Expr, names: Sequence[str]) -> str:
    """Straight-line Python from the trusted DAG. Every identifier is generated here
    (``a0..`` for inputs, ``t0..`` for intermediates, ``_exp``.. for functions); constants are
    float literals; no user text reaches the source."""
    arg_of = {name: f"a{i}" for i, name in enumerate(names)}
    operand: dict[int, str] = {}
    lines = [f"def _compiled({', '.join(arg_of.values())}):"]
    for node in _topo([expr]):
        if isinstance(node, Const):
            operand[id(node)] = repr(node.value) if node.value >= 0 else f"({node.value!r})"
            continue
        if isinstance(node, Var):
            operand[id(node)] = arg_of[node.name]
            continue
        ins = [operand[id(c)] for c in node.args]
        if isinstance(node, Func):
            code = f"_{node.name}({ins[0]})"
        elif isinstance(node, Neg):
            code = f"-{ins[0]}"
        else:
            code = f"{ins[0]} {'**' if node.op == '^' else node.op} {ins[1]}"
        name = f"t{len(lines)}"
        lines.append(f"    {name} = {code}")
        operand[id(node)] = name
    lines.append(f"    return {operand[id(expr)]}")
    return "\n".join(lines) + "\n"


# ============================================================ differentiation rules


class _RawBuilder:
    """Plain constructors: the textbook rules as written, zeros and ones included."""

    add, sub, mul, div, pow = Add, Sub, Mul, Div, Pow
    neg = Neg


def _const_value(e: Expr) -> float | None:
    return e.value if isinstance(e, Const) else None


def _fold(fn: Callable[[float, float], float], a: Expr, b: Expr) -> Expr | None:
    va, vb = _const_value(a), _const_value(b)
    if va is None or vb is None:
        return None
    try:
        value = fn(va, vb)
    except (ArithmeticError, ValueError):
        return None
    return Const(value) if isinstance(value, float) and math.isfinite(value) else None


class _SmartBuilder:
    """Constructors with cheap local rules (constant folding, 0 and 1 identities)."""

    @staticmethod
    def add(a: Expr, b: Expr) -> Expr:
        if a is ZERO:
            return b
        if b is ZERO:
            return a
        return _fold(lambda u, v: u + v, a, b) or Add(a, b)

    @staticmethod
    def sub(a: Expr, b: Expr) -> Expr:
        if b is ZERO:
            return a
        if a is ZERO:
            return _SmartBuilder.neg(b)
        if a is b:
            return ZERO
        return _fold(lambda u, v: u - v, a, b) or Sub(a, b)

    @staticmethod
    def mul(a: Expr, b: Expr) -> Expr:
        if a is ZERO or b is ZERO:
            return ZERO
        if a is ONE:
            return b
        if b is ONE:
            return a
        if _const_value(a) == -1.0:
            return _SmartBuilder.neg(b)
        if _const_value(b) == -1.0:
            return _SmartBuilder.neg(a)
        return _fold(lambda u, v: u * v, a, b) or Mul(a, b)

    @staticmethod
    def div(a: Expr, b: Expr) -> Expr:
        if b is ONE:
            return a
        if a is ZERO and b is not ZERO:
            return ZERO
        return _fold(lambda u, v: u / v, a, b) or Div(a, b)

    @staticmethod
    def pow(a: Expr, b: Expr) -> Expr:
        if b is ZERO:
            return ONE
        if b is ONE:
            return a
        return _fold(_real_pow, a, b) or Pow(a, b)

    @staticmethod
    def neg(a: Expr) -> Expr:
        if isinstance(a, Const):
            return Const(-a.value)
        if isinstance(a, Neg):
            return a.args[0]
        return Neg(a)


def _real_pow(u: float, v: float) -> float:
    if (u < 0 and not float(v).is_integer()) or (u == 0 and v < 0):
        raise ValueError("outside the real domain")
    return float(u**v)


_RAW, _SMART = _RawBuilder(), _SmartBuilder()


def _depending_on(order: Sequence[Expr], names: set[str] | None = None) -> set[int]:
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


def _jvp(node: Expr, tangent: Mapping[int, Expr], name: str, b: Any, varying: set[int]) -> Expr:
    """Forward rule: the derivative of ``node`` from its inputs' derivatives."""
    if isinstance(node, Const):
        return ZERO
    if isinstance(node, Var):
        return ONE if node.name == name else ZERO
    d = [tangent[id(c)] for c in node.args]
    x = node.args
    if isinstance(node, Add):
        return b.add(d[0], d[1])
    if isinstance(node, Sub):
        return b.sub(d[0], d[1])
    if isinstance(node, Neg):
        return b.neg(d[0])
    if isinstance(node, Mul):
        return b.add(b.mul(d[0], x[1]), b.mul(x[0], d[1]))
    if isinstance(node, Div):
        top = b.sub(b.mul(d[0], x[1]), b.mul(x[0], d[1]))
        return b.div(top, b.pow(x[1], TWO))
    if isinstance(node, Pow):
        if id(x[1]) not in varying:  # constant exponent: the power rule
            return b.mul(b.mul(x[1], b.pow(x[0], b.sub(x[1], ONE))), d[0])
        inner = b.add(b.mul(d[1], Func("log", x[0])), b.div(b.mul(x[1], d[0]), x[0]))
        return b.mul(node, inner)
    rule = FUNCTIONS[node.name]
    return b.mul(rule.slope(node, x[0], b), d[0])


def _vjp(node: Expr, g: Expr, b: Any) -> list[tuple[Expr, Expr]]:
    """Reverse rule: ``(input, contribution to its adjoint)`` for each input of ``node``."""
    x = node.args
    if isinstance(node, Add):
        return [(x[0], g), (x[1], g)]
    if isinstance(node, Sub):
        return [(x[0], g), (x[1], b.neg(g))]
    if isinstance(node, Neg):
        return [(x[0], b.neg(g))]
    if isinstance(node, Mul):
        return [(x[0], b.mul(g, x[1])), (x[1], b.mul(g, x[0]))]
    if isinstance(node, Div):
        return [(x[0], b.div(g, x[1])), (x[1], b.neg(b.div(b.mul(g, node), x[1])))]
    if isinstance(node, Pow):
        base = b.mul(g, b.mul(x[1], b.pow(x[0], b.sub(x[1], ONE))))
        if isinstance(x[1], Const):
            return [(x[0], base)]
        return [(x[0], base), (x[1], b.mul(g, b.mul(node, Func("log", x[0]))))]
    return [(x[0], b.mul(g, FUNCTIONS[node.name].slope(node, x[0], b)))]


def _reverse_sweep(root: Expr, names: Sequence[str], b: Any) -> dict[int, Expr]:
    """Adjoints d root / d node for every node that depends on a requested variable."""
    order = _topo([root])
    needed = _depending_on(order, set(names))
    adjoint: dict[int, Expr] = {id(root): ONE}
    for node in reversed(order):
        g = adjoint.get(id(node))
        if g is None or id(node) not in needed or not node.args:
            continue
        for child, contribution in _vjp(node, g, b):
            if id(child) not in needed:
                continue
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
    names = [_var_name(v) for v in variables]
    first = expr.gradient(*names)
    rows: list[list[Expr]] = [[ZERO] * len(names) for _ in names]
    for i, gi in enumerate(first):
        for j, hij in enumerate(gi.gradient(*names[i:]), start=i):
            rows[i][j] = rows[j][i] = hij
    if values is None:
        return rows
    _check_env(expr, values, strict=True)
    return np.array(
        [[_evaluate(h, _check_env(h, values, strict=False)) for h in row] for row in rows],
        dtype=np.float64,
    )


# ==================================================================== simplifier


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
        order = _topo(roots)
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
        text = _format_number(node.value)
    elif isinstance(node, Var):
        text = node.name
    elif isinstance(node, Func):
        text = f"{node.name}({node.args[0]._okey[1]})"
    elif isinstance(node, Neg):
        text = "-" + node.args[0]._okey[1]
    else:
        text = f"({node.args[0]._okey[1]}{node.op}{node.args[1]._okey[1]})"
    return text[:_SIG_LEN]


# ====================================================================== printing


def _format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _precedence(node: Expr) -> int:
    if isinstance(node, (Add, Sub)):
        return 1
    if isinstance(node, (Mul, Div)):
        return 2
    if isinstance(node, Neg) or (isinstance(node, Const) and node.value < 0):
        return 3
    if isinstance(node, Pow):
        return 4
    return 5


def _needs_parens(parent: Expr, index: int) -> bool:
    """Whether input ``index`` of ``parent`` must be parenthesized when printed."""
    child = _precedence(parent.args[index])
    if isinstance(parent, Add):
        return False
    if isinstance(parent, Sub):
        return index == 1 and child <= 1
    if isinstance(parent, Mul):
        return child < 2
    if isinstance(parent, Div):
        return child < 2 if index == 0 else child <= 2
    if isinstance(parent, Pow):
        return child <= 4 if index == 0 else child < 4
    if isinstance(parent, Neg):
        return child <= 1 or child == 3
    return False


PRINT_LIMIT = 2_000_000
"""Largest expanded-tree size (nodes) that ``str`` and ``to_latex`` will write out. A DAG that
reuses subexpressions can have an exponentially large tree; it prints as a summary instead."""


def _too_big_to_print(root: Expr) -> str | None:
    size = root.count_nodes(tree=True)
    if size <= PRINT_LIMIT:
        return None
    digits = str(size)
    approx = f"{digits[0]}.{digits[1:3]}e{len(digits) - 1}"
    return f"<expression of {root.count_nodes()} distinct nodes, {approx} as a tree: too large>"


def _to_text(root: Expr) -> str:
    summary = _too_big_to_print(root)
    if summary is not None:
        return summary
    text: dict[int, str] = {}
    for node in _topo([root]):
        text[id(node)] = _format_node(node, text)
    return text[id(root)]


def _format_node(node: Expr, text: Mapping[int, str]) -> str:
    if isinstance(node, Const):
        return _format_number(node.value)
    if isinstance(node, Var):
        return node.name
    parts = [
        f"({text[id(c)]})" if _needs_parens(node, i) else text[id(c)]
        for i, c in enumerate(node.args)
    ]
    if isinstance(node, Func):
        return f"{node.name}({parts[0]})"
    if isinstance(node, Neg):
        return f"-{parts[0]}"
    if isinstance(node, (Add, Sub)):
        return f"{parts[0]} {node.op} {parts[1]}"
    return f"{parts[0]}{node.op}{parts[1]}"


def _latex_name(name: str) -> str:
    head, _, tail = name.partition("_")
    head = head if len(head) == 1 else rf"\mathit{{{head}}}"
    return f"{head}_{{{tail}}}" if tail else head


def _to_latex(root: Expr) -> str:
    summary = _too_big_to_print(root)
    if summary is not None:
        return rf"\text{{{summary[1:-1]}}}"
    text: dict[int, str] = {}
    for node in _topo([root]):
        text[id(node)] = _latex_node(node, text)
    return text[id(root)]


def _latex_node(node: Expr, text: Mapping[int, str]) -> str:
    if isinstance(node, Const):
        return _format_number(node.value)
    if isinstance(node, Var):
        return _latex_name(node.name)
    raw = [text[id(c)] for c in node.args]
    if isinstance(node, Func):
        if node.name == "sqrt":
            return rf"\sqrt{{{raw[0]}}}"
        return rf"{FUNCTIONS[node.name].latex}\left({raw[0]}\right)"
    if isinstance(node, Div):
        return rf"\frac{{{raw[0]}}}{{{raw[1]}}}"
    parts = [rf"\left({r}\right)" if _needs_parens(node, i) else r for i, r in enumerate(raw)]
    if isinstance(node, Pow):
        return f"{{{parts[0]}}}^{{{raw[1]}}}"
    if isinstance(node, Neg):
        return f"-{parts[0]}"
    symbol = {"+": " + ", "-": " - ", "*": r" \cdot "}[node.op]
    return f"{parts[0]}{symbol}{parts[1]}"


# ======================================================================= parsing

_MAX_PARSE_CHARS = 1_000_000
_PARSE_RECURSION_LIMIT = 20_000


def parse(text: str) -> Expr:
    """Parse a formula such as ``"x*x*y + y + 2"``, ``"exp(-x**2)/2"``, ``"sin(x)^2"``.

    Grammar: numbers, variable names, ``+ - * / ** ^`` (``^`` means power), unary ``+``/``-``,
    parentheses, and calls of the functions in :data:`FUNCTIONS` with one argument. The text
    goes through :func:`ast.parse` and a strict whitelist; nothing is ever evaluated. Problems
    raise :class:`DiffError` with a one-line message naming the column.
    """
    if not isinstance(text, str):
        raise DiffError(f"parse needs a string, got {type(text).__name__}")
    if len(text) > _MAX_PARSE_CHARS:
        raise DiffError(f"parse: text too long ({len(text)} characters)")
    if not text.strip():
        raise DiffError("parse: empty expression")
    source = text.replace("^", "**")
    try:
        tree = _ast_parse(source.strip())
    except SyntaxError as err:
        column = _original_column(text, (err.offset or 1) - 1 + _leading(source))
        raise DiffError(
            f"parse: {err.msg} at column {column + 1}: {_snippet(text, column)}"
        ) from None
    except (RecursionError, MemoryError):
        raise DiffError("parse: expression nested too deeply for Python's parser") from None
    return _convert(tree.body, text, _leading(source))


def _ast_parse(source: str) -> ast.Expression:
    """``ast.parse`` in eval mode, with room for long flat chains such as 5000-term sums
    (CPython limits AST construction depth by the recursion limit, raised here for the call)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _PARSE_RECURSION_LIMIT))
    try:
        return ast.parse(source, mode="eval")
    finally:
        sys.setrecursionlimit(old)


def _snippet(text: str, column: int, width: int = 30) -> str:
    """The text around ``column`` with a caret-like marker: ``'x +* 2' (here: '* 2')``."""
    if len(text) <= 2 * width:
        return f"{text!r} (here: {text[column : column + 10]!r})"
    start = max(column - width, 0)
    return f"...{text[start : column + width]!r}... (here: {text[column : column + 10]!r})"


def _leading(source: str) -> int:
    return len(source) - len(source.lstrip())


def _original_column(text: str, column: int) -> int:
    """Map a column of the ``^``-expanded text back to ``text``."""
    expanded = 0
    for i, ch in enumerate(text):
        if expanded >= column:
            return i
        expanded += 2 if ch == "^" else 1
    return len(text)


def _convert(root: ast.AST, text: str, shift: int) -> Expr:
    """Whitelisted AST -> Expr, iteratively (post-order with an explicit stack)."""
    done: dict[int, Expr] = {}
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        children = _ast_children(node, text, shift)
        if not ready and children:
            stack.append((node, True))
            stack.extend((c, False) for c in children)
            continue
        done[id(node)] = _ast_to_expr(node, [done[id(c)] for c in children], text, shift)
    return done[id(root)]


def _fail(node: ast.AST, message: str, text: str, shift: int) -> DiffError:
    column = _original_column(text, getattr(node, "col_offset", 0) + shift)
    return DiffError(f"parse: {message} at column {column + 1}: {_snippet(text, column)}")


_AST_BINOPS = {ast.Add: Add, ast.Sub: Sub, ast.Mult: Mul, ast.Div: Div, ast.Pow: Pow}


def _ast_children(node: ast.AST, text: str, shift: int) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and type(node.op) in _AST_BINOPS:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return [node.operand]
    if isinstance(node, ast.Call):
        _check_call(node, text, shift)
        return [node.args[0]]
    if isinstance(node, (ast.Constant, ast.Name)):
        return []
    raise _fail(node, f"unsupported syntax ({_describe(node)})", text, shift)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.BinOp):
        return f"operator {type(node.op).__name__}"
    return type(node).__name__


def _check_call(node: ast.Call, text: str, shift: int) -> None:
    if not isinstance(node.func, ast.Name):
        raise _fail(node, "only plain function names can be called", text, shift)
    name = node.func.id
    if name not in FUNCTIONS:
        known = ", ".join(sorted(FUNCTIONS))
        raise _fail(node, f"unknown function {name!r} (known: {known})", text, shift)
    if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
        raise _fail(node, f"{name}() takes exactly one argument", text, shift)


def _ast_to_expr(node: ast.AST, args: list[Expr], text: str, shift: int) -> Expr:
    if isinstance(node, ast.BinOp):
        return _AST_BINOPS[type(node.op)](args[0], args[1])
    if isinstance(node, ast.UnaryOp):
        return Neg(args[0]) if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.Call):
        return Func(node.func.id, args[0])
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _fail(node, f"function {node.id!r} used without an argument", text, shift)
        return Var(node.id)
    value = node.value
    if not _is_number(value):
        raise _fail(node, f"unsupported constant {value!r}", text, shift)
    if not math.isfinite(float(value)):
        raise _fail(node, f"constant {value!r} is not finite", text, shift)
    return Const(value)
