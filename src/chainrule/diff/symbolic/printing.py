"""Plain text and LaTeX, read from the operator table's precedences and templates.

Printing uses ``^`` for powers and the fewest parentheses that keep the mathematical meaning
(``+`` and ``*`` are treated as associative). Both printers walk the DAG once, children first.
"""

from __future__ import annotations

from chainrule.diff.symbolic.nodes import Const, Expr, topo

__all__ = ["PRINT_LIMIT", "format_number", "short", "to_latex", "to_text"]

PRINT_LIMIT = 2_000_000
"""Largest expanded-tree size (nodes) that ``str`` and ``to_latex`` will write out. A DAG that
reuses subexpressions can have an exponentially large tree; it prints as a summary instead."""


def format_number(value: float) -> str:
    """``3`` for integral values below 1e16, else the float's repr."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def precedence(node: Expr) -> int:
    """1 ``+ -``, 2 ``* /``, 3 unary minus and negative constants, 4 ``^``, 5 the rest."""
    if isinstance(node, Const):
        return 3 if node.value < 0 else 5
    return 5 if node.rule is None else node.rule.prec


def needs_parens(parent: Expr, index: int) -> bool:
    """Whether input ``index`` of ``parent`` must be parenthesized when printed."""
    return precedence(parent.args[index]) in parent.rule.parens[index]


def _too_big_to_print(root: Expr) -> str | None:
    size = root.count_nodes(tree=True)
    if size <= PRINT_LIMIT:
        return None
    digits = str(size)
    approx = f"{digits[0]}.{digits[1:3]}e{len(digits) - 1}"
    return f"<expression of {root.count_nodes()} distinct nodes, {approx} as a tree: too large>"


def _render(root: Expr, leaf: dict, template: str, left: str, right: str) -> str:
    """Fill each node's ``template`` attribute of its rule, children first; an input that
    needs parentheses is wrapped in ``left ... right``; ``leaf`` formats Const and Var."""
    text: dict[int, str] = {}
    for node in topo([root]):
        if node.rule is None:
            text[id(node)] = leaf[node.op](node)
            continue
        raw = [text[id(c)] for c in node.args]
        parts = [left + r + right if needs_parens(node, i) else r for i, r in enumerate(raw)]
        named = {f"r{i}": r for i, r in enumerate(raw)}
        text[id(node)] = getattr(node.rule, template).format(*parts, **named)
    return text[id(root)]


_TEXT_LEAVES = {"const": lambda n: format_number(n.value), "var": lambda n: n.name}


def to_text(root: Expr) -> str:
    """``str(expr)``: e.g. ``x*x*y + y + 2``, ``exp(-x^2)/2``."""
    summary = _too_big_to_print(root)
    if summary is not None:
        return summary
    return _render(root, _TEXT_LEAVES, "text", "(", ")")


def latex_name(name: str) -> str:
    """A variable name in LaTeX: ``x``, ``x_{1}``, ``\\mathit{rate}``."""
    head, _, tail = name.partition("_")
    head = head if len(head) == 1 else rf"\mathit{{{head}}}"
    return f"{head}_{{{tail}}}" if tail else head


_LATEX_LEAVES = {"const": lambda n: format_number(n.value), "var": lambda n: latex_name(n.name)}


def to_latex(root: Expr) -> str:
    """LaTeX source, e.g. ``\\frac{x}{y}``, ``{x}^{2} \\cdot y``, ``\\sigma\\left(x\\right)``."""
    summary = _too_big_to_print(root)
    if summary is not None:
        return rf"\text{{{summary[1:-1]}}}"
    return _render(root, _LATEX_LEAVES, "latex", r"\left(", r"\right)")


def short(node: Expr, limit: int = 60) -> str:
    """The text of ``node`` cut to ``limit`` characters (for error messages)."""
    text = to_text(node) if node.count_nodes(tree=True) < 200 else f"<{node.op} node>"
    return text if len(text) <= limit else text[: limit - 3] + "..."

