"""The operator table: one :class:`Rule` row per operator and elementary function.

Everything the package does with an operation is read from its row: evaluation
(:mod:`.evaluate`), numeric partials and reverse mode (the row's ``partials``), forward mode
(its ``jvp``), plain text and LaTeX (its precedence and templates) and compiled NumPy code.

Rules are written once against an *algebra* ``A``: an object with ``add sub mul div pow neg``,
``func(name, x)`` and ``c(number)``. The symbolic builders of :mod:`.builders` make
expressions from them; :class:`.evaluate.Numbers` makes numbers (floats, arrays or Duals). So
``partials[i](A, s, args, v)`` -- the seed ``s`` times ``d v / d args[i]`` where ``v`` is the
node's value -- is the reverse-mode rule when ``A`` builds expressions and ``s`` is the
adjoint, and the numeric partial when ``A`` computes numbers and ``s`` is 1.

Adding an elementary function is one row, e.g. (with ``dual.sinh``/``dual.cosh`` defined)::

    function("sinh", _dual.sinh, np.sinh, lambda A, x, y: A.func("cosh", x)),
    function("cosh", _dual.cosh, np.cosh, lambda A, x, y: A.func("sinh", x)),

The derivative ``f'(x)`` (given ``x`` and ``y = f(x)``) yields the reverse rule ``g*f'(x)``, the
forward rule ``f'(x)*t`` and the numeric slope; parsing, printing, LaTeX (``\\sinh``) and
:meth:`~.nodes.Expr.compile` pick the row up by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.diff import dual as _dual

__all__ = ["FUNCTIONS", "OPERATORS", "Rule", "function", "operator"]

Partial = Callable[[Any, Any, tuple, Any], Any]
"""``(A, seed, inputs, value) -> seed * d value / d inputs[i]`` in the algebra ``A``."""
Jvp = Callable[[Any, tuple, tuple, Any, tuple], Any]
"""``(A, tangents, inputs, value, varying) -> tangent of value``; ``varying[i]`` says whether
input ``i`` depends on the variable being differentiated."""


@dataclass(frozen=True)
class Rule:
    """One operation: how to build, differentiate and print it.

    ``build(A, *inputs)`` is the operation in algebra ``A``. ``partials`` has one
    :data:`Partial` per input, ``jvp`` is the forward rule. ``prec`` is the printing precedence
    (1 ``+ -``, 2 ``* /``, 3 unary minus, 4 ``^``, 5 atoms and calls); input ``i`` is wrapped in
    parentheses when its precedence is in ``parens[i]``. Templates take the inputs'
    (parenthesized) text as ``{0}``, ``{1}`` and the bare text as ``{r0}``, ``{r1}``;
    ``code`` is a Python expression over the inputs' variable names. Functions also carry their
    checked, Dual-aware ``value`` and the ``numpy`` function used by compiled code.
    """

    name: str
    arity: int
    build: Callable[..., Any]
    partials: tuple[Partial, ...]
    jvp: Jvp
    prec: int
    parens: tuple[frozenset[int], ...]
    text: str
    latex: str
    code: str
    value: Callable[[Any], Any] | None = None
    numpy: Callable[[Any], Any] | None = None


def operator(
    name: str,
    method: str,
    partials: tuple[Partial, ...],
    jvp: str | Jvp,
    prec: int,
    parens: tuple[tuple[int, ...], ...],
    text: str,
    latex: str,
    code: str,
) -> Rule:
    """A row for an operator built by algebra method ``method``. ``jvp`` is a forward rule, or
    ``"linear"`` (the operator applied to the tangents, as for ``+``) or ``"bilinear"`` (the
    product rule: each input in turn replaced by its tangent, summed)."""

    def build(A: Any, *inputs: Any) -> Any:
        return getattr(A, method)(*inputs)

    if jvp == "linear":
        jvp = lambda A, d, x, v, varying: build(A, *d)
    elif jvp == "bilinear":
        jvp = lambda A, d, x, v, varying: A.add(build(A, d[0], x[1]), build(A, x[0], d[1]))
    sets = tuple(frozenset(p) for p in parens)
    return Rule(name, len(partials), build, partials, jvp, prec, sets, text, latex, code)


def function(
    name: str,
    value: Callable[[Any], Any],
    numpy: Callable[[Any], Any],
    derivative: Callable[[Any, Any, Any], Any],
    latex: str | None = None,
) -> Rule:
    """A row for an elementary function ``y = f(x)`` from its derivative
    ``derivative(A, x, y) = f'(x)``: reverse rule ``g*f'(x)``, forward rule ``f'(x)*t``.
    ``value`` is the checked (Dual-aware) function, ``numpy`` the unchecked NumPy one; LaTeX
    defaults to ``\\name\\left(x\\right)``."""

    def partial(A: Any, s: Any, x: tuple, y: Any) -> Any:
        return A.mul(s, derivative(A, x[0], y))

    def jvp(A: Any, d: tuple, x: tuple, y: Any, varying: tuple) -> Any:
        return A.mul(derivative(A, x[0], y), d[0])

    return Rule(
        name=name,
        arity=1,
        build=lambda A, x: A.func(name, x),
        partials=(partial,),
        jvp=jvp,
        prec=5,
        parens=(frozenset(),),
        text=name + "({0})",
        latex=latex or "\\" + name + r"\left({0}\right)",
        code=f"_{name}({{0}})",
        value=value,
        numpy=numpy,
    )


# ------------------------------------------------------------------ forward rules


def _power_slope(A: Any, x: tuple) -> Any:
    """``d (a^b) / d a = b * a^(b - 1)``."""
    return A.mul(x[1], A.pow(x[0], A.sub(x[1], A.c(1))))


def _power_rule(A: Any, d: tuple, x: tuple, v: Any, varying: tuple) -> Any:
    """``(a^b)' = b a^(b-1) a'`` for a constant exponent, else ``a^b (b' log a + b a'/a)``."""
    if not varying[1]:
        return A.mul(_power_slope(A, x), d[0])
    inner = A.add(A.mul(d[1], A.func("log", x[0])), A.div(A.mul(x[1], d[0]), x[0]))
    return A.mul(v, inner)


def _quotient_rule(A: Any, d: tuple, x: tuple, v: Any, varying: tuple) -> Any:
    """``(a/b)' = (a' b - a b') / b^2``."""
    top = A.sub(A.mul(d[0], x[1]), A.mul(x[0], d[1]))
    return A.div(top, A.pow(x[1], A.c(2)))


def _seed(A: Any, s: Any, x: tuple, v: Any) -> Any:
    return s


def _minus_seed(A: Any, s: Any, x: tuple, v: Any) -> Any:
    return A.neg(s)


def _table(*rules: Rule) -> dict[str, Rule]:
    return {rule.name: rule for rule in rules}


OPERATORS: dict[str, Rule] = _table(
    operator("+", "add", (_seed, _seed), "linear",
             1, ((), ()), "{0} + {1}", "{0} + {1}", "{0} + {1}"),
    operator("-", "sub", (_seed, _minus_seed), "linear",
             1, ((), (1,)), "{0} - {1}", "{0} - {1}", "{0} - {1}"),
    operator("*", "mul", (lambda A, s, x, v: A.mul(s, x[1]), lambda A, s, x, v: A.mul(s, x[0])),
             "bilinear", 2, ((1,), (1,)), "{0}*{1}", r"{0} \cdot {1}", "{0} * {1}"),
    operator("/", "div", (lambda A, s, x, v: A.div(s, x[1]),
                          lambda A, s, x, v: A.neg(A.div(A.mul(s, v), x[1]))),
             _quotient_rule, 2, ((1,), (1, 2)), "{0}/{1}", r"\frac{{{r0}}}{{{r1}}}", "{0} / {1}"),
    operator("^", "pow", (lambda A, s, x, v: A.mul(s, _power_slope(A, x)),
                          lambda A, s, x, v: A.mul(s, A.mul(v, A.func("log", x[0])))),
             _power_rule, 4, ((1, 2, 3, 4), (1, 2, 3)), "{0}^{1}", "{{{0}}}^{{{r1}}}",
             "{0} ** {1}"),
    operator("neg", "neg", (_minus_seed,), "linear",
             3, ((1, 3),), "-{0}", "-{0}", "-{0}"),
)
"""The operators, by node ``op``: ``+ - * / ^`` and unary minus ``neg``."""


def _np_sigmoid(a: Any) -> Any:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


FUNCTIONS: dict[str, Rule] = _table(
    function("exp", _dual.exp, np.exp, lambda A, x, y: y),
    function("log", _dual.log, np.log, lambda A, x, y: A.div(A.c(1), x)),
    function("sin", _dual.sin, np.sin, lambda A, x, y: A.func("cos", x)),
    function("cos", _dual.cos, np.cos, lambda A, x, y: A.neg(A.func("sin", x))),
    function("tan", _dual.tan, np.tan, lambda A, x, y: A.add(A.c(1), A.pow(y, A.c(2)))),
    function("tanh", _dual.tanh, np.tanh, lambda A, x, y: A.sub(A.c(1), A.pow(y, A.c(2)))),
    function("sqrt", _dual.sqrt, np.sqrt, lambda A, x, y: A.div(A.c(0.5), y), r"\sqrt{{{0}}}"),
    function("sigmoid", _dual.sigmoid, _np_sigmoid, lambda A, x, y: A.mul(y, A.sub(A.c(1), y)),
             r"\sigma\left({0}\right)"),
)
"""Known elementary functions, by name: each a :class:`Rule` whose ``value`` is the checked
function, ``numpy`` the NumPy one and ``latex`` the LaTeX template."""
