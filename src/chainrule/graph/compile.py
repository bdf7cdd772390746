"""``@compile``: trace on the first call, cache one graph per signature, run the graph.

The signature of a call is the structure of its (pytree) arguments, the shape and dtype of
every array or tensor in them, and the value of every other leaf (static arguments: they
must be hashable). A call with a new signature traces again; the ``retrace_warning``-th
trace of one function (default 5) and every later one warn with ``RetraceWarning``,
naming what changed, as TF functions do: a Python number that changes every call (pass
it as an array instead), or shapes that change every batch (pad or drop the last batch).
"""

from __future__ import annotations

import builtins
import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.pytree import tree_flatten
from ..autograd.tensor import Tensor, _make
from .ir import Graph, TraceError
from .trace import trace


class RetraceWarning(UserWarning):
    """A compiled function traced again and again: its signature keeps changing."""


def signature(args: tuple) -> tuple:
    """The cache key of a call: structure, shapes and dtypes of arrays, static values."""
    return _key_and_arrays(args)[0]


def _key_and_arrays(args: tuple) -> tuple[tuple, list[np.ndarray]]:
    leaves, tree = tree_flatten(args)
    key: list[Any] = [tree]
    arrays: list[np.ndarray] = []
    for leaf in leaves:
        if isinstance(leaf, (np.ndarray, Tensor)):
            arr = leaf.data if isinstance(leaf, Tensor) else leaf
            key.append((arr.shape, arr.dtype.str))
            arrays.append(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
        else:
            try:
                hash(leaf)
            except TypeError:
                raise TypeError(f"a static argument of a compiled function must be hashable "
                                f"(it is part of the cache key), got {type(leaf).__name__}; "
                                f"pass arrays for values that change") from None
            key.append(("static", type(leaf), leaf))
    return tuple(key), arrays


class Compiled:
    """A compiled function (see the module docstring). ``graphs`` holds the traced graphs
    by signature; ``graph_for(*args)`` returns (tracing if needed) the one for ``args``."""

    def __init__(self, fn: Callable, optimize: bool = True, retrace_warning: int = 5,
                 fast_math: bool = False) -> None:
        self.fn = fn
        self.optimize = optimize
        self.fast_math = fast_math
        self.retrace_warning = retrace_warning
        self.graphs: dict[tuple, Graph] = {}
        # calls whose arguments are all C-contiguous arrays: (shape, dtype) per argument ->
        # (the graph's runner, its output builder), skipping the pytree walk of the key
        self._quick: dict[tuple, tuple[Callable, Callable]] = {}
        self.traces = 0
        functools.update_wrapper(self, fn)

    def graph_for(self, *args: Any) -> Graph:
        key = signature(args)
        graph = self.graphs.get(key)
        if graph is None:
            graph = self._trace(key, args)
        return graph

    def forget(self, key: tuple) -> None:
        """Drop the graph of signature ``key`` (the next such call traces again)."""
        self.graphs.pop(key, None)
        self._quick.clear()

    def _trace(self, key: tuple, args: tuple) -> Graph:
        self.traces += 1
        if self.traces >= self.retrace_warning:
            old = next(reversed(self.graphs), None) if self.graphs else None
            warnings.warn(
                f"{getattr(self.fn, '__name__', 'fn')} was traced {self.traces} times (one "
                f"graph per signature: shapes, dtypes and static arguments). "
                f"{_difference(old, key)} Pass values that change as arrays, keep shapes "
                f"fixed (drop or pad the last batch).", RetraceWarning, stacklevel=4)
        graph = trace(self.fn, *args)
        if self.optimize:
            from .passes import optimize

            optimize(graph, fast_math=self.fast_math)
        self.graphs[key] = graph
        return graph

    def __call__(self, *args: Any) -> Any:
        try:
            quick = tuple([(a.shape, a.dtype) for a in args
                           if type(a) is np.ndarray and a.flags.c_contiguous])
        except AttributeError:
            quick = ()
        if args and len(quick) == len(args):
            entry = self._quick.get(quick)
            if entry is not None:
                return entry[1](entry[0](*args))
        key, arrays = _key_and_arrays(args)
        graph = self.graphs.get(key)
        if graph is None:
            graph = self._trace(key, args)
        build = _builder(graph)
        if args and len(quick) == len(args):
            self._quick[quick] = (graph.run_arrays, build)
        return build(graph.run_arrays(*arrays))


def _builder(graph: Graph) -> Callable[[list[np.ndarray]], Any]:
    """A function of the runner's output arrays that returns what the traced function
    returned (tensors made anew, static leaves as traced): generated once per graph for
    tuples, lists, dicts and None, else the pytree's own ``unflatten``."""
    env: dict[str, Any] = {"make": _make}
    leaves = iter(range(len(graph.outputs)))
    arrays = iter(range(sum(v is not None for v in graph.outputs)))

    def expr(tree: Any) -> str | None:
        if tree.kind is None:
            k = next(leaves)
            if graph.outputs[k] is None:
                env[f"s{k}"] = graph.out_static[k]
                return f"s{k}"
            return f"make(o[{next(arrays)}])"
        if tree.kind == "none":
            return "None"
        parts = [expr(c) for c in tree.children]
        if any(p is None for p in parts) or tree.kind not in (tuple, list, dict):
            return None
        if tree.kind is dict:
            return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(tree.meta, parts)) + "}"
        inner = ", ".join(parts) + ("," if tree.kind is tuple and len(parts) == 1 else "")
        return f"[{inner}]" if tree.kind is list else f"({inner})"

    try:
        body = expr(graph.out_tree)
    except StopIteration:
        body = None
    if body is None or any(not isinstance(k, (str, int)) for k in _dict_keys(graph.out_tree)):
        def build(outs: list[np.ndarray]) -> Any:
            it = iter(outs)
            return graph.out_tree.unflatten(
                [static if v is None else _make(next(it))
                 for v, static in zip(graph.outputs, graph.out_static)])
        return build
    code = builtins.compile(f"def build(o):\n    return {body}\n", "<chainrule outputs>", "exec")
    exec(code, env)  # noqa: S102 - our own generated source
    return env["build"]


def _dict_keys(tree: Any) -> list[Any]:
    keys = list(tree.meta) if tree.kind is dict else []
    for c in tree.children:
        keys += _dict_keys(c)
    return keys


def _difference(old: tuple | None, new: tuple) -> str:
    if old is None:
        return ""
    if old[0] != new[0]:
        return "The structure of the arguments changed."
    for k, (a, b) in enumerate(zip(old[1:], new[1:])):
        if a != b:
            what = "static value" if a[0] == "static" else "shape/dtype"
            return f"Argument leaf {k} changed {what}: {_show(a)} -> {_show(b)}."
    return ""


def _show(entry: tuple) -> str:
    return repr(entry[2]) if entry[0] == "static" else f"{entry[0]} {np.dtype(entry[1])}"


def compile(fn: Callable | None = None, *, optimize: bool = True,  # noqa: A001
            retrace_warning: int = 5, fast_math: bool = False) -> Any:
    """Compile ``fn`` (decorator, with or without arguments), like ``jax.jit``.

    ``optimize=False`` runs the graph as recorded (no passes). ``fast_math=True`` lets
    the fused kernels differ from eager mode in the last bits (``fuse.py``; today no
    kernel does); by default a compiled function computes what eager mode computes, bit
    for bit. See the module docstring for the cache and ``trace.py`` for the rules of
    tracing.
    """
    if fn is None:
        return lambda f: Compiled(f, optimize, retrace_warning, fast_math)
    if not callable(fn):
        raise TypeError(f"compile needs a function, got {type(fn).__name__}")
    return Compiled(fn, optimize, retrace_warning, fast_math)


__all__ = ["Compiled", "RetraceWarning", "TraceError", "compile", "signature"]
