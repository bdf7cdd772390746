"""Computation-graph drawings in Graphviz DOT, with forward values and gradients.

One node per operation, each labelled with its operation and, when known, its forward value
and its gradient (the adjoint ``d output / d node``), in the spirit of the computation-graph
figures of *Hands-On ML* appendix D. Inputs sit at the bottom and the output at the top.

Layers
------
* :class:`GraphNode` -- a generic node description: ``id``, ``op`` label, optional ``value``
  and ``grad``, and the ids of its ``inputs``.
* :func:`to_dot` -- ``list[GraphNode]`` -> DOT text. Needs nothing but the standard library.
* adapters -- turn an object into ``list[GraphNode]``: :func:`graph_of_expr` for symbolic
  expressions (and formula strings). Other engines plug in with :func:`register_adapter`
  (``register_adapter(Tensor, graph_of_tensor)``); this module imports none of them.
* :func:`draw_graph` -> :class:`GraphDrawing`: ``.dot`` always; ``.save("g.svg")`` and
  Jupyter display render through Graphviz when it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.diff import symbolic
from chainrule.diff.dual import Dual
from chainrule.errors import GraphvizNotFoundError

__all__ = [
    "GraphDrawing",
    "GraphNode",
    "GraphvizNotFoundError",
    "draw_graph",
    "format_value",
    "graph_of_expr",
    "register_adapter",
    "rendering_available",
    "to_dot",
]

FORMATS = ("svg", "png", "dot")
_INSTALL_HINT = (
    "rendering {fmt} needs Graphviz's `dot` program: install it with your package manager "
    "(apt install graphviz, brew install graphviz, conda install graphviz, or "
    "https://graphviz.org/download/), optionally with `pip install graphviz`. "
    "DOT text (.dot, GraphDrawing.dot) works without it."
)


@dataclass
class GraphNode:
    """One node of a drawn graph.

    Attributes:
        id: unique identifier (any string; quoted in the DOT output).
        op: the operation or name shown, e.g. ``"+"``, ``"exp"``, ``"x"``, ``"3"``.
        inputs: ids of the nodes this one consumes, in argument order.
        value: forward value (number, array, Dual) or None.
        grad: gradient of the output w.r.t. this node, or None.
        kind: ``"input"``, ``"const"``, ``"op"`` or ``"output"`` (controls the shape).
    """

    id: str
    op: str
    inputs: list[str] = field(default_factory=list)
    value: Any = None
    grad: Any = None
    kind: str = "op"


# =========================================================================== DOT


_STYLE = {
    "input": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
    "const": 'shape=box, style=filled, fillcolor="#eeeeee"',
    "op": "shape=ellipse",
    "output": 'shape=ellipse, peripheries=2, style=filled, fillcolor="#fde9c9"',
}
_ORDERED_OPS = {"−", "-", "÷", "/", "^"}  # operand order matters: label the edges


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_value(value: Any, digits: int = 4) -> str:
    """Short text for a value: ``42``, ``0.1353``, ``[1 2 3]``, ``array 3x4``, ``6 + 4ε``."""
    if isinstance(value, Dual):
        return f"{format_value(value.real, digits)} + {format_value(value.eps, digits)}ε"
    arr = np.asarray(value)
    if arr.dtype == object:
        return str(value)[:40]
    if arr.ndim == 0:
        return format(float(arr), f".{digits}g")
    if arr.size <= 4:
        return "[" + " ".join(format(float(v), f".{digits}g") for v in arr.ravel()) + "]"
    return "array " + "x".join(str(n) for n in arr.shape)


def to_dot(
    nodes: Sequence[GraphNode],
    *,
    title: str | None = None,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "BT",
) -> str:
    """DOT text for ``nodes`` (an edge runs from each input to its consumer).

    ``rankdir="BT"`` puts inputs at the bottom and the output at the top; use ``"LR"`` for
    left to right. Values and grads are shown as extra label lines when present and enabled.
    Edges into ``-``, ``/`` and ``^`` are labelled 1 and 2 (operand order).
    """
    ids = {n.id for n in nodes}
    lines = ["digraph G {", f"  rankdir={rankdir};"]
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t;")
    lines.append('  node [fontname="Helvetica", fontsize=11];')
    lines.append('  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];')
    for node in nodes:
        label = [node.op]
        if show_values and node.value is not None:
            label.append(f"value = {format_value(node.value)}")
        if show_grads and node.grad is not None:
            label.append(f"grad = {format_value(node.grad)}")
        style = _STYLE.get(node.kind, _STYLE["op"])
        lines.append(f"  {_quote(node.id)} [label={_quote(chr(10).join(label))}, {style}];")
    for node in nodes:
        for position, source in enumerate(node.inputs, start=1):
            if source not in ids:
                raise ValueError(f"to_dot: node {node.id!r} has unknown input {source!r}")
            extra = f" [label={_quote(str(position))}]" if node.op in _ORDERED_OPS else ""
            lines.append(f"  {_quote(source)} -> {_quote(node.id)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ====================================================================== adapters

Adapter = Callable[..., list[GraphNode]]
_ADAPTERS: dict[type, Adapter] = {}


def register_adapter(cls: type, adapter: Adapter) -> None:
    """Teach :func:`draw_graph` to draw objects of type ``cls`` (and subclasses).

    ``adapter(obj, values=None, grads=None) -> list[GraphNode]``. This is where the tensor
    engine plugs in, e.g. ``register_adapter(Tensor, graph_of_tensor)``.
    """
    _ADAPTERS[cls] = adapter


_OP_LABELS = {"+": "+", "-": "−", "*": "×", "/": "÷", "^": "^", "neg": "neg"}


def _expr_label(node: symbolic.Expr) -> tuple[str, str]:
    if isinstance(node, symbolic.Const):
        return symbolic._format_number(node.value), "const"
    if isinstance(node, symbolic.Var):
        return node.name, "input"
    if isinstance(node, symbolic.Func):
        return node.name, "op"
    return _OP_LABELS[node.op], "op"


def graph_of_expr(
    expr: symbolic.Expr | str,
    values: Mapping[str, Any] | None = None,
    grads: bool | Mapping[Any, Any] | None = None,
    share_constants: bool = False,
) -> list[GraphNode]:
    """Nodes of a symbolic expression (or a formula string, parsed safely).

    Args:
        expr: the expression; one node per distinct subexpression, ids ``n0, n1, ...`` in
            topological order (inputs first, the output last). Constants get one node per
            use (ids ``n5_1`` = first input of ``n5``) unless ``share_constants``.
        values: variable values; when given, every operation and input shows its value.
        grads: ``None`` (default): with ``values``, show each node's adjoint
            ``d expr / d node`` computed by numeric reverse mode; ``False``: no grads; a
            mapping from nodes (``Expr``) to gradients: show those.
    """
    if isinstance(expr, str):
        expr = symbolic.parse(expr)
    forward = symbolic.forward_values(expr, values) if values is not None else {}
    if isinstance(grads, Mapping):
        adjoints: Mapping[Any, Any] = grads
    elif grads is False or values is None:
        adjoints = {}
    else:
        adjoints = symbolic.backward_adjoints(expr, values)
    order = [
        n
        for n in symbolic._topo([expr])
        if share_constants or not isinstance(n, symbolic.Const) or n is expr
    ]
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    nodes: list[GraphNode] = []
    for node in order:
        inputs = []
        for position, child in enumerate(node.args, start=1):
            if child not in ids:  # an unshared constant
                constant_id = f"{ids[node]}_{position}"
                nodes.append(GraphNode(constant_id, _expr_label(child)[0], kind="const"))
                child_id = constant_id
            else:
                child_id = ids[child]
            inputs.append(child_id)
        label, kind = _expr_label(node)
        nodes.append(
            GraphNode(
                id=ids[node],
                op=label,
                inputs=inputs,
                value=None if kind == "const" else forward.get(node),
                grad=adjoints.get(node),
                kind="output" if node is expr and kind == "op" else kind,
            )
        )
    return nodes


register_adapter(symbolic.Expr, graph_of_expr)
register_adapter(str, graph_of_expr)


def _nodes_of(obj: Any, values: Any, show_grads: bool) -> list[GraphNode]:
    if isinstance(obj, (list, tuple)) and all(isinstance(n, GraphNode) for n in obj):
        return list(obj)
    for cls in type(obj).__mro__:
        adapter = _ADAPTERS.get(cls)
        if adapter is not None:
            return adapter(obj, values=values, grads=None if show_grads else False)
    known = ", ".join(sorted(c.__name__ for c in _ADAPTERS)) or "none"
    raise TypeError(
        f"draw_graph cannot draw a {type(obj).__name__}; registered adapters: {known} "
        "(see chainrule.viz.graph.register_adapter)"
    )


# ===================================================================== rendering


def _render(dot: str, fmt: str) -> bytes:
    """Render DOT text with Graphviz (the ``graphviz`` package, else the ``dot`` binary)."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"cannot render format {fmt!r}; use 'svg', 'png' or 'dot'")
    try:
        import graphviz  # type: ignore[import-not-found]
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(dot).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(_INSTALL_HINT.format(fmt=fmt)) from None
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizNotFoundError(_INSTALL_HINT.format(fmt=fmt))
    done = subprocess.run(
        [binary, f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=120
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz failed: {message}")
    return done.stdout


def rendering_available() -> bool:
    """Whether SVG/PNG rendering can work here (Graphviz's ``dot`` is on the PATH)."""
    return shutil.which("dot") is not None


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class GraphDrawing:
    """A drawn graph: DOT text plus rendering helpers.

    Attributes:
        dot: the Graphviz DOT source (always available).
        nodes: the :class:`GraphNode` list it was built from.
        format: the default format for :meth:`save` without a file suffix.
    """

    def __init__(self, dot: str, nodes: Sequence[GraphNode], format: str = "svg") -> None:
        self.dot = dot
        self.nodes = list(nodes)
        self.format = format

    def render(self, format: str | None = None) -> bytes:
        """SVG or PNG bytes (needs Graphviz; raises :class:`GraphvizNotFoundError`)."""
        return _render(self.dot, format or self.format)

    def save(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the drawing; the format comes from ``format``, else the file suffix, else
        :attr:`format` (which is then appended as the suffix). ``.dot`` needs nothing else;
        ``.svg``/``.png`` need Graphviz. Returns the path written."""
        target = Path(path)
        fmt = format or target.suffix.lstrip(".").lower() or self.format
        if fmt not in FORMATS:
            raise ValueError(f"unknown graph format {fmt!r}; use one of {FORMATS}")
        if not target.suffix:
            target = target.with_suffix("." + fmt)
        data = self.dot.encode("utf-8") if fmt == "dot" else self.render(fmt)
        _write_atomic(target, data)
        return target

    def _repr_svg_(self) -> str | None:
        """Jupyter display: an SVG when Graphviz is installed, else None (text fallback)."""
        if not rendering_available():
            return None
        try:
            return self.render("svg").decode("utf-8")
        except (GraphvizNotFoundError, RuntimeError, OSError):
            return None

    def __str__(self) -> str:
        return self.dot

    def __repr__(self) -> str:
        return f"GraphDrawing({len(self.nodes)} nodes; .dot, .save(path))"


def draw_graph(
    obj: Any,
    values: Mapping[str, Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    format: str = "svg",
    show_values: bool = True,
    show_grads: bool = True,
    *,
    title: str | None = None,
    rankdir: str = "BT",
) -> GraphDrawing:
    """Draw a computation graph.

    Args:
        obj: a symbolic ``Expr``, a formula string, a list of :class:`GraphNode`, or any type
            with a registered adapter (see :func:`register_adapter`).
        values: variable values; nodes then show forward values and, with ``show_grads``,
            the gradient of the output w.r.t. each node (reverse mode).
        path: when given, the drawing is also saved there (see :meth:`GraphDrawing.save`).
        format: ``"svg"``, ``"png"`` or ``"dot"``; the default for :meth:`GraphDrawing.save`.
        show_values, show_grads: which annotations to print.
        title, rankdir: passed to :func:`to_dot`.

    Returns:
        a :class:`GraphDrawing`; its ``.dot`` text is always available.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown graph format {format!r}; use one of {FORMATS}")
    nodes = _nodes_of(obj, values, show_grads)
    dot = to_dot(
        nodes, title=title, show_values=show_values, show_grads=show_grads, rankdir=rankdir
    )
    drawing = GraphDrawing(dot, nodes, format)
    if path is not None:
        drawing.save(path)
    return drawing
