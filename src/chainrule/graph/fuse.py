"""Elementwise fusion: a group of elementwise nodes becomes one generated NumPy kernel.

``fuse_elementwise(graph)`` finds groups of elementwise nodes (NumPy ufuncs such as add,
mul, tanh, and the primitives with an entry in ``RECIPES``: sigmoid, its slope, ReLU and
ReLU's lowered backward) in which every value but the last is read by exactly one node
of the group (a chain, or a tree: ``(a * b) + (c * d)``), all of one shape and float
dtype. Each group becomes one node whose function is written for it: a sequence of ufunc
calls, each writing with ``out=`` into a buffer of the group (a buffer is reused as soon
as the value in it has been read), so the group makes no temporary arrays beyond the one
or two buffers it needs, and each non-ufunc primitive (sigmoid: four ufunc calls, each
of which allocated its result) runs without allocating. A single node with a recipe is
rewritten the same way (one node, no temporaries); a single ufunc node is left to the
memory plan, which already gives it an ``out=`` buffer.

Every recipe computes what its primitive's NumPy forward computes, the same ufuncs on the
same operands in the same order, so fused results equal unfused ones bit for bit
(``tests/graph/test_fuse.py``). The fused node sits where the group's last node was:
every value it reads is computed by then, and the values inside the group were read by
nobody else. ``kernel.source`` shows the generated code; the node's name lists the
primitives it runs (``fused[6: sigmoid_slope, mul]``).

This is what NumPy allows without generating native code: the number of ufunc calls
stays the same (each costs a fixed ~0.3-0.5 us of dispatch), what goes away is the
allocation of every intermediate array and, for the recipes, the Python around them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import Graph, Node, Var

# A recipe writes lines of code: recipe(emit, ins, out) where ``ins`` are the names of the
# node's input arrays, ``out`` the name of the array to write; ``emit.const(v)`` names a
# scalar of the group's dtype, ``emit.temp(dtype)`` a fresh scratch array of the group's
# shape, ``emit(line)`` adds a line. ``safe``: whether ``out`` may be one of the inputs'
# arrays (every input is read before ``out`` is first written, or read elementwise by the
# ufunc that writes it).


class _Recipe:
    __slots__ = ("write", "safe", "applies")

    def __init__(self, write: Callable, safe: bool,
                 applies: Callable[[Node], bool] = lambda node: True) -> None:
        self.write = write
        self.safe = safe
        self.applies = applies


def _relu(emit: Any, ins: list[str], out: str) -> None:
    # forward: np.maximum(x, x.dtype.type(0))
    emit(f"maximum({ins[0]}, {emit.const(0)}, out={out})")


def _sigmoid(emit: Any, ins: list[str], out: str) -> None:
    # forward: _sigmoid_np in autograd/ops/elementwise.py, which with SciPy installed is
    # SciPy's ufunc expit (one call instead of four to eight); bit for bit the same here
    x = ins[0]
    expit = _expit() if np.dtype(emit.dtype).kind == "f" else None
    if expit is not None:
        emit.env["expit"] = expit
        emit(f"expit({x}, {out})")
        return
    if emit.size <= 256:  # exp(-logaddexp(0, -x))
        emit(f"negative({x}, {out})")
        emit(f"logaddexp({emit.const(0)}, {out}, {out})")
        emit(f"negative({out}, {out})")
        emit(f"exp({out}, {out})")
        return
    mask = emit.temp(np.bool_)  # where(x >= 0, r, e * r) with e = exp(-|x|), r = 1/(1+e)
    r = emit.temp()
    emit(f"greater_equal({x}, {emit.const(0)}, {mask})")
    emit(f"absolute({x}, {out})")
    emit(f"negative({out}, {out})")
    emit(f"exp({out}, {out})")
    emit(f"add({emit.const(1)}, {out}, {r})")
    emit(f"divide({emit.const(1)}, {r}, {r})")
    emit(f"multiply({out}, {r}, {out})")
    emit(f"copyto({out}, {r}, where={mask})")


def _expit() -> Callable | None:
    from ..autograd.ops.elementwise import _scipy_expit  # SciPy's expit, or None

    return _scipy_expit()


def _sigmoid_slope(emit: Any, ins: list[str], out: str) -> None:
    # forward: y * (1 - y); out may not be y's array (y is read after out is written)
    emit(f"subtract({emit.const(1)}, {ins[0]}, {out})")
    emit(f"multiply({ins[0]}, {out}, {out})")


def _relu_vjp(emit: Any, ins: list[str], out: str) -> None:
    # lower.py's _relu_vjp: g * (x > 0), the mask computed first
    g, _, x = ins
    mask = emit.temp(np.bool_)
    emit(f"greater({x}, {emit.const(0)}, {mask})")
    emit(f"multiply({g}, {mask}, {out})")


def _same_dtype_cotangent(node: Node) -> bool:
    from .lower import _relu_vjp as lowered

    return node.fn is lowered and node.inputs[0].dtype == node.inputs[1].dtype


RECIPES: dict[str, _Recipe] = {
    "relu": _Recipe(_relu, safe=True),
    "sigmoid": _Recipe(_sigmoid, safe=True),
    "sigmoid_slope": _Recipe(_sigmoid_slope, safe=False),
    "vjp.relu[0]": _Recipe(_relu_vjp, safe=True, applies=_same_dtype_cotangent),
}

_UFUNC = _Recipe(lambda emit, ins, out: None, safe=True)  # written by _Emitter.node


def _recipe(node: Node) -> _Recipe | None:
    """The recipe of a node that can join a group, or None."""
    if len(node.outputs) != 1 or node.params:
        return None
    out = node.outputs[0]
    if not out.shape or out.dtype not in (np.float32, np.float64):
        return None
    fn = node.fn
    if (node.op is not None and isinstance(fn, np.ufunc) and fn.nout == 1
            and fn.signature is None):  # not a generalized ufunc such as matmul
        return _UFUNC
    entry = RECIPES.get(node.name)
    if entry is None or node.fn is not _forward_of(node) or not entry.applies(node):
        return None
    if any(v.shape != out.shape for v in node.inputs):  # recipes assume one shape
        return None
    return entry


def _forward_of(node: Node) -> Callable | None:
    """The function a recipe was written for: the primitive's forward, or the lowered
    rule (a node whose function was replaced by something else is not touched)."""
    if node.op is not None:
        return node.op.forward
    from .lower import LOWERED

    entry = LOWERED.get(node.name)
    return None if entry is None else entry[1]


class _Emitter:
    """Writes the source of one group's kernel."""

    def __init__(self, shape: tuple, dtype: np.dtype, fast_math: bool = False) -> None:
        self.shape, self.dtype = shape, np.dtype(dtype)
        self.fast_math = fast_math
        self.size = int(np.prod(shape))
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"empty": np.empty, "copyto": np.copyto,
                                    "SHAPE": shape, "DTYPE": self.dtype}
        for name in ("maximum", "negative", "logaddexp", "exp", "greater_equal", "greater",
                     "absolute", "add", "divide", "multiply", "subtract"):  # the recipes'
            self.env[name] = getattr(np, name)
        self.consts: dict[Any, str] = {}
        self.n_temps = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " + line)

    def const(self, value: Any) -> str:
        key = repr(value)
        if key not in self.consts:  # a 0-d array: ufuncs take it faster than a scalar
            name = f"K{len(self.consts)}"
            self.env[name] = np.array(value, self.dtype)
            self.consts[key] = name
        return self.consts[key]

    def temp(self, dtype: Any = None) -> str:
        name = f"t{self.n_temps}"
        self.n_temps += 1
        if dtype is None:
            self(f"{name} = empty(SHAPE, DTYPE)")
        else:
            self.env[f"D{name}"] = np.dtype(dtype)
            self(f"{name} = empty(SHAPE, D{name})")
        return name

    def ufunc(self, node: Node, ins: list[str], out: str) -> None:
        name = node.fn.__name__
        if getattr(np, name, None) is not node.fn:  # another library's ufunc: its own name
            name = f"u{len(self.env)}_{name}"
        self.env[name] = node.fn
        if name in ("maximum", "minimum"):  # NumPy deprecates a positional out there
            self(f"{name}({', '.join(ins)}, out={out})")
        else:  # a positional out: NumPy parses it faster than the keyword
            self(f"{name}({', '.join(ins)}, {out})")


def _groups(graph: Graph) -> list[list[int]]:
    """Indices of the nodes of each group worth fusing (in graph order)."""
    readers: dict[int, set[int]] = {}
    for k, node in enumerate(graph.nodes):
        for v in node.inputs:
            readers.setdefault(id(v), set()).add(k)
    returned = {id(v) for v in graph.outputs if v is not None}
    producer: dict[int, int] = {id(v): k for k, n in enumerate(graph.nodes) for v in n.outputs}
    group_of: dict[int, list[int]] = {}  # node index -> its group (shared list)
    recipes = [_recipe(n) for n in graph.nodes]
    for k, node in enumerate(graph.nodes):
        if recipes[k] is None:
            continue
        out = node.outputs[0]
        joined: list[list[int]] = []
        for v in node.inputs:
            p = producer.get(id(v))
            if (p is None or p not in group_of or readers[id(v)] != {k} or id(v) in returned
                    or v.shape != out.shape or v.dtype != out.dtype):
                continue
            if all(g is not group_of[p] for g in joined):
                joined.append(group_of[p])
        group = sorted({i for g in joined for i in g} | {k})
        for i in group:
            group_of[i] = group
    seen: set[int] = set()
    result = []
    for k in sorted(group_of):
        group = group_of[k]
        if id(group) in seen:
            continue
        seen.add(id(group))
        if len(group) > 1 or recipes[group[0]] is not _UFUNC:
            result.append(group)
    return result


def _kernel(members: list[Node], ext: list[Var], fast_math: bool = False) -> Callable:
    """The function of one fused group: ``kernel(*ext_arrays, out=None)``."""
    root = members[-1]
    shape, dtype = root.outputs[0].shape, root.outputs[0].dtype
    emit = _Emitter(shape, dtype, fast_math)
    names = {id(v): f"a{i}" for i, v in enumerate(ext)}
    free: list[str] = []  # buffers of the group whose value has been read
    n_bufs = 0
    for node in members:
        recipe = _recipe(node)
        assert recipe is not None
        ins = [names[id(v)] for v in node.inputs]
        mine = [names[id(v)] for v in dict.fromkeys(node.inputs) if id(v) not in
                {id(e) for e in ext}]  # buffers of the group read here (their last read)
        if node is root and recipe.safe:  # the result goes to out (the plan's, or ours)
            own = mine[0] if mine else (free.pop() if free else "empty(SHAPE, DTYPE)")
            emit(f"if out is None: out = {own}")
            target = "out"
        elif recipe.safe and mine:
            target = mine.pop(0)
        elif free:
            target = free.pop()
        else:
            target = f"b{n_bufs}"
            n_bufs += 1
            emit(f"{target} = empty(SHAPE, DTYPE)")
        if recipe is _UFUNC:
            emit.ufunc(node, ins, target)
        else:
            recipe.write(emit, ins, target)
        free.extend(b for b in mine if b != target)
        names[id(node.outputs[0])] = target
    args = ", ".join(names[id(v)] for v in ext)
    head = f"def kernel({args}{', ' if args else ''}out=None):"
    source = "\n".join([head, *emit.lines, f"    return {names[id(root.outputs[0])]}"]) + "\n"
    env = dict(emit.env)
    exec(compile(source, "<chainrule fused kernel>", "exec"), env)  # noqa: S102 - ours
    kernel = env["kernel"]
    kernel.takes_out = _recipe(root).safe  # else it makes its own result array
    kernel.source = source
    kernel.members = tuple(n.name for n in members)
    return kernel


def fuse_elementwise(graph: Graph, fast_math: bool = False) -> int:
    """Fuse the groups of elementwise nodes (see the module docstring); returns how many
    nodes were replaced by fused ones. ``fast_math=True`` allows kernels that are not bit
    for bit equal to the primitives, as compilers' fast-math flags do (today none: sigmoid,
    its first user, is SciPy's ``expit`` in eager mode too when SciPy is installed)."""
    replaced = 0
    groups = _groups(graph)
    if not groups:
        return 0
    drop: set[int] = set()
    put: dict[int, Node] = {}
    for group in groups:
        members = [graph.nodes[i] for i in group]
        inside = {id(n.outputs[0]) for n in members[:-1]}
        ext = list({id(v): v for n in members for v in n.inputs if id(v) not in inside}
                   .values())
        kernel = _kernel(members, ext, fast_math)
        root = members[-1]
        out = root.outputs[0]
        out.buffer = out.id  # the kernel returns a fresh array (or the planned out=)
        if len(members) == 1:
            fused = Node(root.op, root.name, kernel, tuple(ext), root.outputs, {})
        else:
            kinds = ", ".join(dict.fromkeys(n.name for n in members))
            fused = Node(None, f"fused[{len(members)}: {kinds}]", kernel, tuple(ext),
                         (out,), {})
        drop.update(group[:-1])
        put[group[-1]] = fused
        replaced += len(members)
    graph.nodes = [put.get(k, n) for k, n in enumerate(graph.nodes) if k not in drop]
    graph.invalidate()
    return replaced


__all__ = ["RECIPES", "fuse_elementwise"]
