"""Table entries for indexing (``getitem`` with NumPy's basic and integer-array
indexing, ``gather``); ``table.py`` holds the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ExportError
from .build import Builder, affine_dims, onnx_type

_BIG = np.iinfo(np.int64).max  # "to the end" of a Slice


def _x(node: Any) -> Any:
    return node.inputs[0]


def _key_array(b: Builder, node: Any, ins: list, value: Any,
               in_params: Callable[[dict], Any]) -> tuple[str, tuple]:
    """An index array as an int64 ONNX value and its dims: a traced value (``Slot``) is
    an input of the node; a NumPy array a constant, made at run time when its shape
    follows the batch (``Builder.generated``; ``in_params`` finds the same array in the
    node's params of each trace)."""
    if type(value).__name__ == "Slot":
        var = node.inputs[value.index]
        if var.dtype == bool:
            raise ExportError(f"{b.where}: boolean-mask indexing has a data-dependent "
                              f"shape; index with integer arrays instead")
        name = ins[value.index]
        if var.dtype != np.int64:
            name = b.op("Cast", [name], to=onnx_type(b.onnx, np.int64))
        return name, b.dims_of(var)
    arr = np.asarray(value)
    if arr.dtype == bool:
        raise ExportError(f"{b.where}: boolean-mask indexing has a data-dependent shape; "
                          f"index with integer arrays (np.nonzero) instead")
    arr = arr.astype(np.int64)
    variants = b.variants.get(id(node))
    if variants is not None:
        seen = [np.asarray(in_params(v)) for v in variants]
        dims = affine_dims([a.shape for a in seen], b.batches, b.where)
        if not all(isinstance(d, int) for d in dims):
            return b.generated(arr, dims, "index array"), dims
        if not all(np.array_equal(a, arr) for a in seen):
            raise ExportError(f"{b.where}: an index array's values change with the batch "
                              f"size; one ONNX file cannot hold it. Export with "
                              f"dynamic_batch=False")
    return b.const(arr), arr.shape


def getitem(b: Builder, node: Any, ins: list) -> str:
    x = _x(node)
    key = node.params["key"]
    key = key if isinstance(key, tuple) else (key,)
    advanced = [type(k).__name__ == "Slot" or isinstance(k, (np.ndarray, list)) for k in key]
    eats = [0 if k is None else 1 for k in key]
    origin = list(range(len(key)))  # each element's place in the traced key
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = len(x.shape) - (sum(eats) - 1)
        key = key[:at] + (slice(None),) * fill + key[at + 1:]
        advanced = advanced[:at] + [False] * fill + advanced[at + 1:]
        origin = origin[:at] + [at] * fill + origin[at + 1:]
    if any(advanced) and any(k is None for k in key):
        raise ExportError(f"{b.where}: indexing that mixes None with index arrays is not "
                          f"mapped to ONNX")
    for v in b.variants.get(id(node), ()):  # only index arrays may change with the batch
        if any(not adv and not _same_part(k, o) for k, o, adv in
               zip(_key_of(node.params), _key_of(v), advanced_at(node.params))):
            raise ExportError(f"{b.where}: a slice or an index of the key changes with the "
                              f"batch size (computed from x.shape[0]?); export with "
                              f"dynamic_batch=False")
    y, axis, squeeze, unsqueeze = ins[0], 0, [], []
    starts, ends, axes, steps = [], [], [], []
    arrays: list[tuple[int, int, Any]] = []  # (axis, position in key, index)
    for pos, k in enumerate(key):
        if k is None:
            unsqueeze.append(axis + len(unsqueeze) - len(squeeze))
            continue
        if isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                starts.append(int(k.start) if k.start is not None else (0 if step > 0 else -1))
                ends.append(int(k.stop) if k.stop is not None else
                            (_BIG if step > 0 else -_BIG - 1))
                axes.append(axis)
                steps.append(step)
        elif advanced[pos] or any(advanced):
            arrays.append((axis, origin[pos], k))
        else:  # an int: a slice of one, squeezed below
            i = int(k)
            starts.append(i)
            ends.append(i + 1 if i != -1 else _BIG)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        axis += 1
    if axes:
        y = b.op("Slice", [y, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if arrays:
        y = _advanced(b, node, ins, y, arrays, len(x.shape))
    if squeeze:
        y = b.op("Squeeze", [y, b.ints(squeeze)])
    if unsqueeze:
        y = b.op("Unsqueeze", [y, b.ints(unsqueeze)])
    return y


def _advanced(b: Builder, node: Any, ins: list, y: str, arrays: list, ndim: int) -> str:
    """NumPy's integer-array indexing on the axes of ``arrays`` (after basic slicing)."""
    idx = [_key_array(b, node, ins, k, lambda params, pos=pos: _key_of(params)[pos])
           for _, pos, k in arrays]
    axes = [a for a, _, _ in arrays]
    if len(arrays) == 1:
        return b.op("Gather", [y, idx[0][0]], axis=axes[0])
    shape = _broadcast([d for _, d in idx])
    cols = [b.op("Unsqueeze", [name if dims == shape else
                               b.op("Expand", [name, b.shape(shape)]), b.ints([-1])])
            for name, dims in idx]
    rest = [a for a in range(ndim) if a not in axes]
    if axes != list(range(len(axes))):
        y = b.op("Transpose", [y], perm=axes + rest)
    y = b.op("GatherND", [y, b.op("Concat", cols, axis=-1)])
    adjacent = axes == list(range(axes[0], axes[0] + len(axes)))
    if adjacent and axes[0] > 0:  # NumPy keeps the indexed axes' place
        n = len(shape)
        before = list(range(n, n + axes[0]))
        perm = before + list(range(n)) + list(range(n + axes[0], n + len(rest)))
        y = b.op("Transpose", [y], perm=perm)
    return y


def _broadcast(shapes: list[tuple]) -> tuple:
    n = max(len(s) for s in shapes)
    out = []
    for i in range(n):
        sizes = {s[i - n + len(s)] for s in shapes if i - n + len(s) >= 0} - {1}
        if len(sizes) > 1:
            raise ExportError(f"index arrays of shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def advanced_at(params: dict) -> list[bool]:
    return [type(k).__name__ == "Slot" or isinstance(k, (np.ndarray, list))
            for k in _key_of(params)]


def _same_part(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a is b or a == b)


def _key_of(params: dict) -> tuple:
    key = params["key"]
    return key if isinstance(key, tuple) else (key,)


def gather(b: Builder, node: Any, ins: list) -> str:
    index, _ = _key_array(b, node, ins, node.params["index"], lambda p: p["index"])
    return b.op("GatherElements", [ins[0], index], axis=int(node.params["axis"]))
