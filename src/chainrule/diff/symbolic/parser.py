"""The safe expression parser: text -> :class:`Expr` through :func:`ast.parse` and a strict
whitelist (operators from the operator table, functions from :data:`~.table.FUNCTIONS`);
nothing is ever evaluated."""

from __future__ import annotations

import ast
import math
import sys

from chainrule.diff.errors import DiffError
from chainrule.diff.symbolic.nodes import RAW, Const, Expr, Neg, Var, _is_number
from chainrule.diff.symbolic.table import FUNCTIONS, OPERATORS

__all__ = ["parse"]

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


_AST_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}


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
        return OPERATORS[_AST_BINOPS[type(node.op)]].build(RAW, *args)
    if isinstance(node, ast.UnaryOp):
        return Neg(args[0]) if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id].build(RAW, *args)
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
