"""``export``: trace a model or function, map each node through ``table.py``, write ONNX.

The steps, each visible in the code below:

1. **Trace in eval mode.** A ``Module`` is put in eval mode for the trace (dropout is
   the identity, batch norm uses its running statistics) and its own mode is restored
   afterwards; ``chainrule.trace`` records the primitives.
2. **Find the batch axis.** With ``dynamic_batch=True`` the function is traced again at
   two other batch sizes (the example inputs' rows repeated); the three graphs must have
   the same nodes. An axis whose size changes is batch-sized: its size is ``a * N + c``
   (``build.Dim``), checked on the third trace. Constants whose values change with the
   batch size are refused, since one file must serve every batch.
3. **Map.** Inputs and outputs get their names and a symbolic ``"batch"`` axis 0; the
   model's parameters become initializers under their ``state_dict`` names; every node
   goes through its entry in ``table.OPS``. A primitive without an entry is an
   ``ExportError`` naming the primitive and the node.
4. **Check and write.** ``onnx.checker.check_model`` checks the model; it is written
   atomically (``io.atomic_write``): on any error nothing is left at ``path``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import ExportError
from ..graph import Graph, trace
from ..io import atomic_write
from ..nn.module import Module, evaluating
from .build import Builder, affine_dims, onnx_type
from .table import BATCH_PARAMS, OPS

DEFAULT_OPSET = 18
MIN_OPSET = 18  # LayerNormalization (17), Reduce* with axes as an input (18)


def require_onnx() -> Any:
    """The ``onnx`` module, or an ImportError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install "chainrule[onnx]" '
                          '(onnx, and onnxruntime to run the file)') from None
    return onnx


def export(model_or_fn: Module | Callable, example_inputs: Any, path: str | os.PathLike,
           dynamic_batch: bool = True, opset: int | None = None,
           input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None) -> Any:
    """Write ``model_or_fn`` as an ONNX file at ``path``; returns the ``ModelProto``.

    Args:
        model_or_fn: a ``Module`` (traced in eval mode) or a function of arrays/tensors.
        example_inputs: one array (or tensor) or a tuple of them, batch axis first.
        dynamic_batch: axis 0 of every input and output is a symbolic ``"batch"`` axis,
            so the file runs on any batch size; False fixes the example's shapes.
        opset: the ONNX opset (default 18, at least 18).
        input_names, output_names: default ``input``/``output`` (``input_0``, ... when
            there are several).

    Raises:
        ExportError: a primitive with no ONNX mapping (named, with its node), a graph or a
            constant that changes with the batch size, bad names or opset.
        ImportError: onnx is not installed (``pip install "chainrule[onnx]"``).
    """
    onnx = require_onnx()
    opset = DEFAULT_OPSET if opset is None else int(opset)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ExportError(f"opset must lie in [{MIN_OPSET}, {newest}] (the installed onnx's "
                          f"newest), got {opset}")
    examples = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) \
        else (example_inputs,)
    arrays = [np.asarray(x.data if isinstance(x, Tensor) else x) for x in examples]
    if not arrays or any(a.ndim == 0 for a in arrays):
        raise ExportError("example_inputs must be one or more arrays with a batch axis first")
    graphs, batches = _traces(model_or_fn, arrays, dynamic_batch)
    graph = graphs[0]
    if any(v is None for v in graph.outputs):
        raise ExportError(f"{graph.name}: every output must be a tensor computed from the "
                          f"inputs (a Python value cannot be exported)")
    dims, variants = _batch_dims(graphs, batches) if dynamic_batch else ({}, {})
    in_names = _names(input_names, len(graph.inputs), "input")
    out_names = _names(output_names, len(graph.outputs), "output")
    model = _model(onnx, graph, dims, variants, batches, in_names, out_names, opset,
                   _param_names(model_or_fn), dynamic_batch)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # noqa: BLE001 - onnx raises its own types
        raise ExportError(f"the ONNX model does not pass onnx.checker: {e}") from e
    with atomic_write(path) as f:
        f.write(model.SerializeToString())
    return model


# --------------------------------------------------------------------------- tracing


def _traces(model_or_fn: Any, arrays: list[np.ndarray], dynamic: bool
            ) -> tuple[list[Graph], list[int]]:
    batch = arrays[0].shape[0]
    if any(a.shape[0] != batch for a in arrays):
        raise ExportError(f"the example inputs have different batch sizes (axis 0): "
                          f"{[a.shape[0] for a in arrays]}")
    if batch < 1:
        raise ExportError("the example inputs need at least one row (axis 0)")
    batches = [batch, batch + 1, batch + 2] if dynamic else [batch]
    name = type(model_or_fn).__name__ if isinstance(model_or_fn, Module) else None
    graphs = []
    for n in batches:
        rows = np.arange(n) % batch  # the example's rows, repeated
        args = [a if n == batch else np.take(a, rows, axis=0) for a in arrays]
        if isinstance(model_or_fn, Module):
            with evaluating(model_or_fn):
                graphs.append(trace(model_or_fn, *args, name=name))
        else:
            graphs.append(trace(model_or_fn, *args))
    return graphs, batches


def _batch_dims(graphs: list[Graph], batches: list[int]) -> tuple[dict, dict]:
    """``id(Var) -> dims`` of every value of ``graphs[0]`` (``build.Dim`` on batch-sized
    axes), and ``id(Node) -> [its params in each trace]`` where they differ."""
    g0 = graphs[0]
    seen: dict[int, tuple[Any, list]] = {}  # id(Var) -> (node text, [Var of each graph])

    def pair(where: str, vs: list) -> None:
        entry = seen.setdefault(id(vs[0]), (where, vs))
        if [v.kind for v in entry[1]] != [v.kind for v in vs]:
            raise ExportError(f"{where}: the traced graph changes with the batch size")

    for g in graphs[1:]:
        if [n.name for n in g.nodes] != [n.name for n in g0.nodes]:
            raise ExportError(f"{g0.name}: the traced graph changes with the batch size "
                              f"({len(g0.nodes)} nodes at batch {batches[0]}, {len(g.nodes)} "
                              f"at another); export with dynamic_batch=False")
    for i in range(len(g0.inputs)):
        pair(f"input {i}", [g.inputs[i] for g in graphs])
    variants: dict[int, list[dict]] = {}
    for j, node in enumerate(g0.nodes):
        others = [g.nodes[j] for g in graphs]
        where = f"node {j} ({node})"
        if any(len(o.inputs) != len(node.inputs) for o in others):
            raise ExportError(f"{where}: the traced graph changes with the batch size")
        for i in range(len(node.inputs)):
            pair(where, [o.inputs[i] for o in others])
        for i in range(len(node.outputs)):
            pair(where, [o.outputs[i] for o in others])
        if not all(_same(o.params, node.params) for o in others):
            variants[id(node)] = [o.params for o in others]
    for i, v in enumerate(g0.outputs):
        if v is not None:
            pair(f"output {i}", [g.outputs[i] for g in graphs])
    dims: dict[int, tuple] = {}
    for where, vs in seen.values():
        dims[id(vs[0])] = affine_dims([v.shape for v in vs], batches, where)
        if vs[0].kind == "const" and all(isinstance(d, int) for d in dims[id(vs[0])]):
            if not all(np.array_equal(v.value(), vs[0].value()) for v in vs):
                raise ExportError(f"{where}: the constant {vs[0].name} changes with the batch "
                                  f"size (a value computed from x.shape[0]?); one ONNX file "
                                  f"cannot hold it. Export with dynamic_batch=False")
    return dims, variants


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(
            _same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an object without a truthful ==
        return a is b


# --------------------------------------------------------------------------- the model


def _names(names: Sequence[str] | None, n: int, default: str) -> list[str]:
    if names is None:
        return [default] if n == 1 else [f"{default}_{i}" for i in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n or not all(
            isinstance(s, str) and s for s in names):
        raise ExportError(f"{default}_names must be {n} distinct non-empty strings, got "
                          f"{names!r}")
    return names


def _param_names(model_or_fn: Any) -> dict[int, str]:
    if not isinstance(model_or_fn, Module):
        return {}
    return {id(p): name for name, p in model_or_fn.named_parameters()}


def _value_info(onnx: Any, name: str, var: Any, dims: tuple) -> Any:
    shape = [d if isinstance(d, int) else "batch" if d == (1, 0) else None for d in dims]
    return onnx.helper.make_tensor_value_info(name, onnx_type(onnx, var.dtype), shape)


def _model(onnx: Any, graph: Graph, dims: dict, variants: dict, batches: list[int],
           in_names: list[str],
           out_names: list[str], opset: int, param_names: dict[int, str],
           dynamic: bool) -> Any:
    b = Builder(onnx, opset, dims, in_names[0] if dynamic else None)
    b.variants, b.batches = variants, batches
    b.used_names.update(in_names + out_names)
    for node in graph.nodes:
        for v in node.inputs:
            b.readers.setdefault(id(v), []).append(node)
    for v in graph.outputs:
        b.readers[id(v)] = None  # type: ignore[assignment]  # read outside the graph
    for v, name in zip(graph.inputs, in_names):
        b.names[id(v)] = name
    for k, v in enumerate(graph.consts):
        b.where = f"{v.kind} {v.name}"
        if v.kind == "param":
            label = param_names.get(id(v.tensor), f"param_{k}")
            b.names[id(v)] = _initializer(b, v.value(), label)
        elif b.static(v):
            b.names[id(v)] = b.const(v.value(), hint="const")
        else:
            b.names[id(v)] = b.generated(v.value(), b.dims_of(v), v.name)
    for j, node in enumerate(graph.nodes):
        b.where = f"node {j} `{node}`"
        entry = OPS.get(node.name)
        if entry is None:
            what = "a vector-Jacobian rule recorded whole" if node.is_rule else "the primitive"
            raise ExportError(f"{what} {node.name!r} has no ONNX mapping (used by node {j}: "
                              f"{node}); add one to chainrule/onnx/table.py")
        _check_batch_params(b, node)
        outs = entry(b, node, [b.names[id(v)] for v in node.inputs])
        outs = [outs] if isinstance(outs, str) else list(outs)
        for v, name in zip(node.outputs, outs):
            b.names[id(v)] = name
    outputs = []
    for v, name in zip(graph.outputs, out_names):
        b.nodes.append(onnx.helper.make_node("Identity", [b.names[id(v)]], [name],
                                             name=b.fresh("out")))
        outputs.append(_value_info(onnx, name, v, b.dims_of(v)))
    inputs = [_value_info(onnx, name, v, b.dims_of(v))
              for v, name in zip(graph.inputs, in_names)]
    g = onnx.helper.make_graph(b.nodes, graph.name, inputs, outputs, b.initializers)
    model = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="chainrule")
    model.ir_version = min(model.ir_version, 10)  # what current onnxruntime reads
    return model


def _check_batch_params(b: Builder, node: Any) -> None:
    """Refuse a parameter that changes with the batch size where the entry would bake it
    in (``table.BATCH_PARAMS`` names those the entries handle)."""
    variants = b.variants.get(id(node))
    if variants is None:
        return
    changed = [k for k in node.params if not all(_same(v[k], node.params[k]) for v in variants)]
    bad = [k for k in changed if k not in BATCH_PARAMS.get(node.name, ())]
    if bad:
        raise ExportError(f"{b.where}: its parameter {bad[0]!r} changes with the batch size "
                          f"(computed from x.shape[0]?); one ONNX file cannot hold it. Export "
                          f"with dynamic_batch=False")


def _initializer(b: Builder, value: np.ndarray, name: str) -> str:
    if name in b.used_names:
        name = b.fresh(name)
    b.used_names.add(name)
    b.initializers.append(b.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
    return name
