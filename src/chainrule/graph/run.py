"""The executor: a graph becomes one generated Python function over NumPy arrays.

``build(graph)`` writes the source of ``run(x0, x1, ...)`` — one line per node, calling
the primitive's NumPy forward (or the rule of a rule node) on local variables — compiles
it once and returns it. No Tensor is made, no graph is recorded, no dictionary is looked
up per op: what remains per node is one Python call of the NumPy function. A value is
deleted right after its last reader (``del``), so memory is released as early as eager
mode releases it. ``graph.code`` shows the source:

    def run(x0, x1):
        p2 = P[0].data
        v3 = f3(x0, p2)
        ...
        return [v9, v12]

Nodes may carry a plan made by ``passes.py``: ``node.params`` stay the primitive's
keywords; the planned extras live in ``PLAN`` (``out`` buffers, fused chains) keyed by
the node, so a graph without passes runs exactly the recorded calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # ir.py imports this module to run a graph
    from .ir import Graph, Node, Var


def _last_use(graph: Graph) -> dict[int, int]:
    """id(Var) -> index of the last node that reads it."""
    last: dict[int, int] = {}
    plan = getattr(graph, "plan", {})
    for k, node in enumerate(graph.nodes):
        for v in node.inputs:
            last[id(v)] = k
        out = plan.get(id(node), {}).get("out")
        if out is not None:  # the array written into is read (and so kept) until here
            last[id(out)] = k
    return last


def _lines(graph: Graph) -> tuple[list[str], dict[str, Any]]:
    env: dict[str, Any] = {"asarray": np.asarray}
    params_read: list[Var] = []
    names: dict[int, str] = {}
    for v in graph.inputs:
        names[id(v)] = v.name
    body: list[str] = []
    for v in graph.consts:
        names[id(v)] = v.name
        if v.kind == "param":  # read by reference at every call: updates are seen
            body.append(f"    {v.name} = P[{len(params_read)}].data")
            params_read.append(v)
        else:
            env[v.name] = v.value()
    env["P"] = [v.tensor for v in params_read]
    outputs = {id(v) for v in graph.outputs if v is not None}
    last = _last_use(graph)
    plan = getattr(graph, "plan", {})
    for k, node in enumerate(graph.nodes):
        fname = f"f{k}"
        extra = plan.get(id(node), {})
        env[fname] = _callable(node, extra)
        args = ", ".join(names[id(v)] for v in node.inputs)
        outs = [f"v{v.id}" for v in node.outputs]
        for v, n in zip(node.outputs, outs):
            names[id(v)] = n
        target = ", ".join(outs) + ("," if len(outs) == 1 and node.is_rule and
                                    getattr(node.fn, "joint", False) else "")
        call = f"{fname}({args})"
        if "out" in extra:
            call = f"{fname}({args}, out={names[id(extra['out'])]})"
        if node.op is not None and len(node.outputs[0].shape) == 0:
            call = f"asarray({call})"  # a reduction to a NumPy scalar
        body.append(f"    {target} = {call}")
        read = node.inputs + ((extra["out"],) if "out" in extra else ())
        dead = [names[id(v)] for v in _unique(read)
                if last.get(id(v)) == k and id(v) not in outputs and v.kind == "value"]
        dead += [n for v, n in zip(node.outputs, outs)
                 if id(v) not in last and id(v) not in outputs]
        if dead:
            body.append(f"    del {', '.join(dead)}")
    rets = ", ".join(names[id(v)] for v in graph.outputs if v is not None)
    ins = ", ".join(v.name for v in graph.inputs)
    return [f"def run({ins}):", *body, f"    return [{rets}]"], env


def _unique(vs: tuple) -> list[Var]:
    seen: dict[int, Var] = {}
    for v in vs:
        seen.setdefault(id(v), v)
    return list(seen.values())


def _callable(node: Node, extra: dict[str, Any]) -> Callable:
    fn = extra.get("fn", node.fn)
    if node.params and not getattr(fn, "ignores_params", False):  # specialize.py
        return functools.partial(fn, **node.params)
    return fn


def source(graph: Graph) -> str:
    """The Python source of the graph's runner."""
    return "\n".join(_lines(graph)[0]) + "\n"


def build(graph: Graph) -> Callable[..., list[np.ndarray]]:
    """Compile the graph's runner: ``run(*input_arrays) -> [output arrays]``."""
    lines, env = _lines(graph)
    code = compile("\n".join(lines) + "\n", f"<chainrule graph {graph.name}>", "exec")
    exec(code, env)  # noqa: S102 - our own generated source, shown by graph.code
    return env["run"]
