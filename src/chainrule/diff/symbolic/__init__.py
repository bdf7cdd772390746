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

Layout
------
One operator table (:mod:`.table`: a row per operator and function, with its value, partials,
forward rule, precedence and text/LaTeX/code templates) drives :mod:`.nodes` (expression nodes
and the one graph walk), :mod:`.evaluate` (numbers, numeric reverse mode), :mod:`.derive`
(symbolic forward and reverse mode, Hessians; :mod:`.builders` holds the smart builder),
:mod:`.simplify`, :mod:`.printing` (text and LaTeX), :mod:`.parser` and :mod:`.compiled`.
"""

from . import builders, compiled, derive, evaluate, nodes, parser, printing, simplify, table
from .compiled import CompiledExpr
from .derive import hessian
from .evaluate import backward_adjoints, forward_values
from .nodes import (
    ONE,
    TWO,
    ZERO,
    Add,
    Const,
    Div,
    Expr,
    Func,
    Mul,
    Neg,
    Pow,
    Sub,
    Var,
    _rebuild,  # noqa: F401  (pickles of expressions name it here)
    cos,
    exp,
    log,
    sigmoid,
    sin,
    sqrt,
    tan,
    tanh,
)
from .nodes import topo as _topo  # noqa: F401  (used by chainrule.viz.graph)
from .parser import parse
from .printing import PRINT_LIMIT
from .printing import format_number as _format_number  # noqa: F401  (chainrule.viz.graph)
from .table import FUNCTIONS, OPERATORS, Rule

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
    "OPERATORS",
    "Pow",
    "Rule",
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
