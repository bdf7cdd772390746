"""The data structure of a traced function: ``Var``, ``Node``, ``Graph`` (see ``trace.py``
for what each field means and how a graph is recorded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.primitive import Primitive
from ..autograd.pytree import TreeDef, tree_flatten
from ..autograd.tensor import Tensor, _make


class TraceError(RuntimeError):
    """A function cannot be traced as written (data-dependent Python, side effects the
    graph cannot record), or a graph was called with arguments it was not traced for."""


class Var:
    """One value of a graph (see the module docstring)."""

    __slots__ = ("id", "kind", "shape", "dtype", "tensor", "buffer", "__weakref__")

    def __init__(self, id: int, kind: str, shape: tuple, dtype: np.dtype,
                 tensor: Tensor | None = None) -> None:
        self.id = id
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.tensor = tensor
        # For a value: the id of the node-made array it lives in (its own id when the node
        # made a fresh array, the viewed value's buffer for a view), None when it may share
        # memory with an input, param or const (never written in place). Seen at trace time.
        self.buffer: int | None = None

    @property
    def name(self) -> str:
        prefix = {"input": "x", "param": "p", "const": "c", "value": "v"}[self.kind]
        return f"{prefix}{self.id}"

    @property
    def type(self) -> str:
        """``f32[128,784]``: dtype and shape, as in a listing."""
        short = {"float32": "f32", "float64": "f64", "int64": "i64", "int32": "i32",
                 "bool": "bool", "float16": "f16", "complex128": "c128",
                 "complex64": "c64"}.get(self.dtype.name, self.dtype.name)
        return f"{short}[{','.join(str(d) for d in self.shape)}]"

    def value(self) -> np.ndarray:
        """A param's or const's array now."""
        if self.tensor is None:
            raise ValueError(f"{self.name} is not a param or const")
        return self.tensor.data

    def __repr__(self) -> str:
        return f"{self.name}:{self.type}"


class Node:
    """One primitive call (or one rule call) of a graph."""

    __slots__ = ("op", "name", "fn", "inputs", "outputs", "params")

    def __init__(self, op: Primitive | None, name: str, fn: Callable, inputs: tuple,
                 outputs: tuple, params: dict) -> None:
        self.op = op
        self.name = name
        self.fn = fn
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.params = dict(params)

    @property
    def is_rule(self) -> bool:
        """Whether the node runs a vector-Jacobian rule (a call of tensor ops) as a whole."""
        return self.op is None

    def __str__(self) -> str:
        outs = " ".join(repr(v) for v in self.outputs)
        ins = " ".join(v.name for v in self.inputs)
        params = "".join(f" {k}={_short(v)}" for k, v in self.params.items())
        return f"{outs} = {self.name}{params} {ins}".rstrip()

    __repr__ = __str__


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


class Graph:
    """A traced function: ``inputs`` -> ``nodes`` -> ``outputs`` (see the module docstring).

    ``graph(*args)`` runs it on new arguments of the same structure, shapes and dtypes
    (static arguments must be equal to the traced ones) and returns what ``fn`` returned,
    tensors computed anew.
    """

    def __init__(self, inputs: list[Var], outputs: list[Var | None], nodes: list[Node],
                 in_tree: TreeDef, in_static: list[Any], out_tree: TreeDef,
                 out_static: list[Any], name: str = "fn") -> None:
        self.inputs = inputs
        self.outputs = outputs  # None where the output leaf is static (returned as is)
        self.nodes = nodes
        self.in_tree = in_tree
        self.in_static = in_static  # per argument leaf: None (an input) or its static value
        self.out_tree = out_tree
        self.out_static = out_static
        self.name = name
        self._runner: Callable | None = None

    # ------------------------------------------------------------------ structure
    @property
    def consts(self) -> list[Var]:
        """Params and consts read by the nodes (or returned), in order of first use."""
        seen: dict[int, Var] = {}
        for node in self.nodes:
            for v in node.inputs:
                if v.kind in ("param", "const"):
                    seen.setdefault(id(v), v)
        for v in self.outputs:
            if v is not None and v.kind in ("param", "const"):
                seen.setdefault(id(v), v)
        return list(seen.values())

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.name] = counts.get(node.name, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        ins = ", ".join(repr(v) for v in self.inputs)
        lines = [f"graph {self.name}({ins}) {{"]
        for v in self.consts:
            lines.append(f"  {v!r} = {v.kind}")
        lines.extend(f"  {node}" for node in self.nodes)
        outs = ", ".join("<static>" if v is None else v.name for v in self.outputs)
        lines.append(f"  return {outs}")
        lines.append("}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Graph {self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes, "
                f"{len(self.outputs)} outputs>")

    # ------------------------------------------------------------------ running
    def flat_arrays(self, args: tuple) -> list[np.ndarray]:
        """The input arrays of ``args``, checked against the traced signature."""
        leaves, tree = tree_flatten(args)
        if tree != self.in_tree:
            raise TraceError(f"{self.name}: arguments of another structure than the traced "
                             f"ones ({tree} vs {self.in_tree}); trace again")
        arrays = []
        for leaf, static in zip(leaves, self.in_static):
            if static is None:
                arrays.append(np.ascontiguousarray(leaf.data if isinstance(leaf, Tensor)
                                                   else leaf))
            elif not _same_static(leaf, static):
                raise TraceError(f"{self.name}: static argument {leaf!r} differs from the "
                                 f"traced {static!r}; trace again (cr.compile does)")
        for a, v in zip(arrays, self.inputs):
            if a.shape != v.shape or a.dtype != v.dtype:
                raise TraceError(f"{self.name}: input {v.name} was traced as {v.type}, got "
                                 f"{Var(0, 'input', a.shape, a.dtype).type}; trace again")
        return arrays

    def run_arrays(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """The output arrays (one per non-static output) for input arrays, unchecked."""
        if self._runner is None:
            from .run import build

            self._runner = build(self)
        return self._runner(*arrays)

    def __call__(self, *args: Any) -> Any:
        outs = iter(self.run_arrays(*self.flat_arrays(args)))
        leaves = [static if v is None else _make(next(outs))
                  for v, static in zip(self.outputs, self.out_static)]
        return self.out_tree.unflatten(leaves)

    def invalidate(self) -> None:
        """Forget the generated runner (after the nodes were changed by hand or a pass)."""
        self._runner = None

    @property
    def code(self) -> str:
        """The Python source of the runner (``run.py``)."""
        from .run import source

        return source(self)


def _same_static(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - an object without a truthful ==
        return a is b


def is_dynamic(leaf: Any) -> bool:
    """Whether an argument leaf becomes a graph input (arrays and tensors) or stays static."""
    return isinstance(leaf, (Tensor, np.ndarray))


class Slot:
    """In a node's params: "the node's input number ``index``" (an index array that was
    read from a traced tensor, such as an embedding's indices)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Slot) and other.index == self.index

    def __hash__(self) -> int:
        return hash(("slot", self.index))

    def __repr__(self) -> str:
        return f"<input {self.index}>"


class WithSlots:
    """A forward whose params hold ``Slot``s: called with all the node's inputs, it passes
    the first ``n`` as arguments and puts the others in the params."""

    __slots__ = ("forward", "n")

    def __init__(self, forward: Callable, n: int) -> None:
        self.forward = forward
        self.n = n

    @property
    def joint(self) -> bool:  # as the rule call it wraps (run.py)
        return getattr(self.forward, "joint", False)

    @property
    def rule(self) -> Callable:  # what makes two nodes equal (passes.py)
        return getattr(self.forward, "rule", self.forward)

    def __call__(self, *arrays: Any, **params: Any) -> Any:
        return self.forward(*arrays[:self.n],
                            **{k: _filled(v, arrays) for k, v in params.items()})


def _filled(value: Any, arrays: tuple) -> Any:
    if isinstance(value, Slot):
        return arrays[value.index]
    if isinstance(value, tuple):
        return tuple(_filled(v, arrays) for v in value)
    return value
