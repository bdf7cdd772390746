"""The ONNX graph under construction: names, initializers, nodes, and batch-sized shapes.

A ``Builder`` is what every entry of the table in ``table.py`` writes to. It hands out
unique value names, turns NumPy arrays into initializers, appends nodes
(``b.op("Add", [x, y])`` returns the output's name), and knows each traced value's
shape as *dims*: per axis an ``int`` (fixed) or ``Dim(a, c)``, the size ``a * N + c`` for
a batch of ``N`` (``convert.py`` finds them by tracing at several batch sizes). So an
entry that needs a shape at run time (``Reshape``, ``Expand``) asks ``b.shape(var)`` and
gets a constant when the shape is fixed, or a small ``Shape``/``Mul``/``Concat``
computation from the batch axis of the first input when it is not.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np

from ..errors import ExportError


class Dim(NamedTuple):
    """An axis of size ``a * N + c`` for a batch of ``N``."""

    a: int
    c: int

    def __str__(self) -> str:
        return f"{self.a}N" + (f"{self.c:+d}" if self.c else "")


class Builder:
    """The nodes, initializers and names of one ONNX graph (see the module docstring)."""

    def __init__(self, onnx: Any, opset: int, dims: dict[int, tuple],
                 batch_input: str | None) -> None:
        self.onnx = onnx  # the onnx module, imported lazily by convert.py
        self.opset = opset
        self.dims = dims  # id(Var) -> dims of the value (see Dim)
        self.batch_input = batch_input  # name of the input whose axis 0 is the batch
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[int, str] = {}  # id(Var) -> ONNX value name
        self.counter = itertools.count(1)  # shared with child() builders
        self.batches: list[int] = []  # the batch sizes traced (convert.py)
        self.keep: list[Any] = []  # stand-ins whose ids are keys of dims
        self.where = ""  # the chainrule node being mapped, for error messages
        self._batch: str | None = None
        self._consts: dict[tuple, str] = {}
        self.used_names: set[str] = set()
        self.variants: dict[int, list[dict]] = {}  # id(Node) -> its params in each trace
        self.readers: dict[int, list[Any]] = {}  # id(Var) -> nodes reading it (not outputs)

    # ------------------------------------------------------------------ names
    def fresh(self, hint: str = "t") -> str:
        return f"{hint}_{next(self.counter)}"

    def child(self) -> Builder:
        """A builder for a subgraph (a ``Scan`` body): its own nodes, the same names,
        initializers and dims (a subgraph may read the outer graph's values)."""
        sub = Builder.__new__(Builder)
        sub.__dict__.update(self.__dict__)
        sub.nodes = []
        sub._batch = None
        return sub

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> Any:
        """Append a node; its output name (a list of them when ``n_out > 1``)."""
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outs,
                                                     name=self.fresh("n"), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value: Any, dtype: Any = None, hint: str = "c") -> str:
        """An initializer holding ``value`` (arrays and numbers; equal small ones shared)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        small = arr.size <= 16
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if small else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(
            np.ascontiguousarray(arr), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values: Any) -> str:
        """A 1-D int64 initializer (axes, shapes, starts, ...)."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1))

    def scalar(self, value: float, like: Any) -> str:
        """A 0-D initializer of ``like``'s dtype (a Var or a NumPy dtype)."""
        return self.const(np.asarray(value, dtype=getattr(like, "dtype", like)))

    # ------------------------------------------------------------------ shapes
    def dims_of(self, var: Any) -> tuple:
        return self.dims.get(id(var), var.shape)

    def static(self, var: Any) -> bool:
        return all(isinstance(d, int) for d in self.dims_of(var))

    def batch(self) -> str:
        """The batch size N as a 1-element int64 tensor (from the first input's axis 0)."""
        if self._batch is None:
            if self.batch_input is None:
                raise ExportError(f"{self.where}: a shape depends on the batch size, but no "
                                  f"input has a batch axis")
            self._batch = self.op("Shape", [self.batch_input], start=0, end=1)
        return self._batch

    def dim(self, d: Any) -> str:
        """One axis size as a 1-element int64 tensor."""
        if isinstance(d, int):
            return self.ints([d])
        size = self.batch()
        if d.a != 1:
            size = self.op("Mul", [size, self.ints([d.a])])
        if d.c:
            size = self.op("Add", [size, self.ints([d.c])])
        return size

    def shape(self, dims: Any) -> str:
        """A 1-D int64 shape tensor for ``dims`` (a Var or a tuple of ints and Dims)."""
        if not isinstance(dims, tuple):
            dims = self.dims_of(dims)
        if all(isinstance(d, int) for d in dims):
            return self.ints(dims)
        return self.op("Concat", [self.dim(d) for d in dims], axis=0)

    def reshape(self, x: str, out: Any) -> str:
        """``x`` reshaped to the dims of the Var ``out``: fixed sizes, with ``-1`` where
        the one batch-sized axis is (a computed shape when there are several)."""
        dims = self.dims_of(out)
        dynamic = [i for i, d in enumerate(dims) if not isinstance(d, int)]
        if len(dynamic) <= 1:
            target = [-1 if i in dynamic else d for i, d in enumerate(dims)]
            return self.op("Reshape", [x, self.ints(target)])
        return self.op("Reshape", [x, self.shape(dims)])

    def generated(self, value: np.ndarray, dims: tuple, hint: str) -> str:
        """A constant whose shape follows the batch: a filled array (``Expand`` of its one
        value) or ``arange`` along its only axis (``Range``); anything else is an error."""
        flat = value.reshape(-1)
        if flat.size and (flat == flat[0]).all():
            return self.op("Expand", [self.const(flat[0]), self.shape(dims)])
        if value.ndim == 1 and np.array_equal(value, np.arange(value.size)):
            stop = self.op("Squeeze", [self.dim(dims[0]), self.ints([0])])
            return self.op("Range", [self.const(np.zeros((), value.dtype)),
                                     self.op("Cast", [stop], to=onnx_type(self.onnx, value.dtype)),
                                     self.const(np.ones((), value.dtype))])
        raise ExportError(
            f"{self.where}: the constant {hint} has a batch-sized shape ({_dims_text(dims)}) "
            f"and values that are neither all equal nor 0, 1, 2, ...; the exporter cannot "
            f"make it for another batch size. Export with dynamic_batch=False")


def affine_dims(shapes: list[tuple], batches: list[int], where: str) -> tuple:
    """Per axis of a value seen with ``shapes`` at ``batches``: its size, or ``Dim(a, c)``
    when it changes with the batch (checked on every trace)."""
    if len({len(s) for s in shapes}) != 1:
        raise ExportError(f"{where}: the rank of a value changes with the batch size")
    out: list[Any] = []
    for axis, sizes in enumerate(zip(*shapes)):
        if len(set(sizes)) == 1:
            out.append(int(sizes[0]))
            continue
        a = (sizes[1] - sizes[0]) // (batches[1] - batches[0])
        c = sizes[0] - a * batches[0]
        if any(s != a * n + c for s, n in zip(sizes, batches)):
            raise ExportError(f"{where}: axis {axis} has sizes {sizes} at batch sizes "
                              f"{batches}, not a * batch + c; export with dynamic_batch=False")
        out.append(Dim(int(a), int(c)))
    return tuple(out)


def _dims_text(dims: tuple) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def onnx_type(onnx: Any, dtype: Any) -> int:
    """The ONNX element type of a NumPy dtype."""
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
