"""THE table: each chainrule primitive -> the ONNX nodes that compute it.

``OPS[name](b, node, ins) -> output name(s)``: ``b`` is the ``build.Builder``, ``node``
the traced ``Node`` (its ``params`` are the primitive's keywords, its ``inputs`` and
``outputs`` the ``Var``s with shapes and dtypes), ``ins`` the ONNX names of its inputs.
Adding a primitive to the export is one entry here; a primitive missing from the table
is an ``ExportError`` naming it and its node. Where an ONNX operator differs from NumPy
at a corner, the entry matches NumPy (``sdpa``: fully masked rows are 0, as chainrule's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ExportError
from .build import Builder, affine_dims, onnx_type

Entry = Callable[[Builder, Any, list], Any]
_BIG = np.iinfo(np.int64).max


def unary(op_type: str, **attrs: Any) -> Entry:
    return lambda b, node, ins: b.op(op_type, ins[:1], **attrs)


def binary(op_type: str) -> Entry:
    return lambda b, node, ins: b.op(op_type, ins[:2])


def _x(node: Any) -> Any:
    return node.inputs[0]


def _axes(axis: Any, ndim: int) -> list[int] | None:
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return [int(a) % max(ndim, 1) for a in axes]


def reduce(op_type: str) -> Entry:
    def entry(b: Builder, node: Any, ins: list) -> str:
        axes = _axes(node.params.get("axis"), _x(node).ndim if hasattr(_x(node), "ndim")
                     else len(_x(node).shape))
        keep = int(bool(node.params.get("keepdims", False)))
        inputs = ins[:1] + ([] if axes is None else [b.ints(axes)])
        return b.op(op_type, inputs, keepdims=keep)

    return entry


def arg(op_type: str) -> Entry:
    def entry(b: Builder, node: Any, ins: list) -> str:
        axis, keep = node.params.get("axis"), bool(node.params.get("keepdims", False))
        if axis is None:
            flat = b.op("Reshape", [ins[0], b.ints([-1])])
            y = b.op(op_type, [flat], axis=0, keepdims=0)
            return b.reshape(y, node.outputs[0]) if keep else y
        return b.op(op_type, ins[:1], axis=int(axis), keepdims=int(keep))

    return entry


def compare(op_type: str, negate: bool = False) -> Entry:
    def entry(b: Builder, node: Any, ins: list) -> str:
        y = b.op(op_type, ins[:2])
        return b.op("Not", [y]) if negate else y

    return entry


# --------------------------------------------------------------------------- shapes


def _reshape(b: Builder, node: Any, ins: list) -> str:
    return b.reshape(ins[0], node.outputs[0])


def _transpose(b: Builder, node: Any, ins: list) -> str:
    axes = node.params.get("axes")
    n = len(_x(node).shape)
    perm = list(range(n))[::-1] if axes is None else [int(a) % n for a in axes]
    return b.op("Transpose", ins[:1], perm=perm)


def _sum_to(b: Builder, node: Any, ins: list) -> str:
    src, dst = b.dims_of(_x(node)), b.dims_of(node.outputs[0])
    lead = len(src) - len(dst)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(dst)
                                if d == 1 and src[lead + i] != 1]
    y = b.op("ReduceSum", [ins[0], b.ints(axes)], keepdims=1) if axes else ins[0]
    return b.reshape(y, node.outputs[0])


def _pad(b: Builder, node: Any, ins: list) -> str:
    widths = node.params["widths"]
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    value = b.scalar(node.params.get("value", 0.0), _x(node))
    return b.op("Pad", [ins[0], b.ints(pads), value], mode="constant")


def _flip(b: Builder, node: Any, ins: list) -> str:
    axes = _axes(node.params.get("axis"), len(_x(node).shape))
    axes = list(range(len(_x(node).shape))) if axes is None else axes
    n = len(axes)
    return b.op("Slice", [ins[0], b.ints([-1] * n), b.ints([-_BIG - 1] * n), b.ints(axes),
                          b.ints([-1] * n)])


def _triangle(upper: int) -> Entry:
    def entry(b: Builder, node: Any, ins: list) -> str:
        k = b.const(np.int64(node.params.get("k", 0)))
        return b.op("Trilu", [ins[0], k], upper=upper)

    return entry


def _cast(b: Builder, node: Any, ins: list) -> str:
    return b.op("Cast", ins[:1], to=onnx_type(b.onnx, node.outputs[0].dtype))


# --------------------------------------------------------------------------- indexing


def _key_array(b: Builder, node: Any, ins: list, k: int, value: Any) -> tuple[str, tuple]:
    """An index of the key as an int64 ONNX value and its dims: a traced value (``Slot``)
    is an input of the node; a NumPy array a constant, made at run time when its shape
    follows the batch (``Builder.generated``)."""
    if type(value).__name__ == "Slot":
        var = node.inputs[value.index]
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
        shapes = [np.shape(v["key"][k]) for v in variants]
        dims = affine_dims(shapes, b.batches, b.where)
        if not all(isinstance(d, int) for d in dims):
            return b.generated(arr, dims, f"index {k}"), dims
    return b.const(arr), arr.shape


def _getitem(b: Builder, node: Any, ins: list) -> str:
    x = _x(node)
    key = node.params["key"]
    key = key if isinstance(key, tuple) else (key,)
    advanced = [type(k).__name__ == "Slot" or isinstance(k, (np.ndarray, list)) for k in key]
    eats = [0 if k is None else 1 for k in key]
    if any(k is Ellipsis for k in key):
        at = key.index(Ellipsis)
        fill = len(x.shape) - (sum(eats) - 1)
        key = key[:at] + (slice(None),) * fill + key[at + 1:]
        advanced = advanced[:at] + [False] * fill + advanced[at + 1:]
    if any(advanced) and any(k is None for k in key):
        raise ExportError(f"{b.where}: indexing that mixes None with index arrays is not "
                          f"mapped to ONNX")
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
            arrays.append((axis, pos, k))
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
    idx = [_key_array(b, node, ins, pos, k) for _, pos, k in arrays]
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


def _gather(b: Builder, node: Any, ins: list) -> str:
    index, _ = _key_array(b, node, ins, 0, node.params["index"]) \
        if type(node.params["index"]).__name__ == "Slot" else \
        (b.const(np.asarray(node.params["index"], np.int64)), None)
    return b.op("GatherElements", [ins[0], index], axis=int(node.params["axis"]))


# --------------------------------------------------------------------------- linear algebra


def _linear(b: Builder, node: Any, ins: list) -> str:
    x = node.inputs[0]
    if len(x.shape) == 2:
        return b.op("Gemm", ins[:3], transB=1)
    y = b.op("MatMul", [ins[0], b.op("Transpose", [ins[1]], perm=[1, 0])])
    return b.op("Add", [y, ins[2]]) if len(ins) > 2 else y


def _einsum(b: Builder, node: Any, ins: list) -> str:
    return b.op("Einsum", ins, equation=",".join(node.params["ins"]) + "->" +
                node.params["out"])


# --------------------------------------------------------------------------- nn kernels


def _pads(padding: tuple) -> list[int]:
    (pt, pb), (pl, pr) = padding
    return [int(pt), int(pl), int(pb), int(pr)]


def _conv(b: Builder, node: Any, ins: list) -> str:
    p = node.params
    return b.op("Conv", ins, strides=list(p["stride"]), dilations=list(p["dilation"]),
                pads=_pads(p["padding"]), group=int(p["groups"]))


def _one_hot_kernels(c: int, kh: int, kw: int, dtype: Any) -> np.ndarray:
    """(C*kh*kw, 1, kh, kw) kernels, each picking one window offset (im2col as a conv)."""
    w = np.zeros((c, kh * kw, 1, kh * kw), dtype=dtype)
    w[:, np.arange(kh * kw), 0, np.arange(kh * kw)] = 1
    return w.reshape(c * kh * kw, 1, kh, kw)


def _unfold(b: Builder, node: Any, ins: list) -> str:
    p, x = node.params, _x(node)
    (kh, kw), c = p["kernel"], x.shape[1]
    y = b.op("Conv", [ins[0], b.const(_one_hot_kernels(c, kh, kw, x.dtype))], group=c,
             kernel_shape=[kh, kw], strides=list(p["stride"]),
             dilations=list(p["dilation"]), pads=_pads(p["padding"]))
    return b.reshape(y, node.outputs[0])


def _fold(b: Builder, node: Any, ins: list) -> str:
    p, cols = node.params, _x(node)
    n, c, kh, kw, ho, wo = b.dims_of(cols)
    (pt, _), (pl, _) = p["padding"]
    h, w = node.outputs[0].shape[2:]
    flat = b.reshape(ins[0], _Shaped(b, (n, c * kh * kw, ho, wo)))
    y = b.op("ConvTranspose", [flat, b.const(_one_hot_kernels(c, kh, kw, cols.dtype))],
             group=c, kernel_shape=[kh, kw], strides=list(p["stride"]),
             dilations=list(p["dilation"]), pads=[int(pt), int(pl), 0, 0])
    (sh, sw), (dh, dw) = p["stride"], p["dilation"]
    full = (sh * (ho - 1) + dh * (kh - 1) + 1 - pt, sw * (wo - 1) + dw * (kw - 1) + 1 - pl)
    if full[0] > h or full[1] > w:
        y = b.op("Slice", [y, b.ints([0, 0]), b.ints([h, w]), b.ints([2, 3])])
    if full[0] < h or full[1] < w:
        extra = [0, 0, 0, 0, 0, 0, max(h - full[0], 0), max(w - full[1], 0)]
        y = b.op("Pad", [y, b.ints(extra)], mode="constant")
    return y


class _Shaped:
    """A stand-in Var of the given dims (for ``Builder.reshape``)."""

    def __init__(self, b: Builder, dims: tuple) -> None:
        self.shape = dims
        b.dims[id(self)] = dims
        b.keep.append(self)


def _max_pool(b: Builder, node: Any, ins: list) -> str:
    return b.op("MaxPool", ins[:1], kernel_shape=list(node.params["kernel"]),
                strides=list(node.params["stride"]))


def _layer_norm(b: Builder, node: Any, ins: list) -> str:
    return b.op("LayerNormalization", ins[:3], axis=-1, epsilon=float(node.params["eps"]))


def _sdpa(b: Builder, node: Any, ins: list) -> str:
    if node.params.get("drop") is not None:
        raise ExportError(f"{b.where}: attention dropout is on (trace in eval mode)")
    q, k = node.inputs[0], node.inputs[1]
    n = len(k.shape)
    kt = b.op("Transpose", [ins[1]], perm=list(range(n - 2)) + [n - 1, n - 2])
    s = b.op("MatMul", [b.op("Mul", [ins[0], b.scalar(node.params["scale"], q)]), kt])
    if len(ins) > 3:
        s = b.op("Add", [s, ins[3]])
    p = b.op("Softmax", [s], axis=-1)
    p = b.op("Where", [b.op("IsNaN", [p]), b.scalar(0.0, q), p])  # fully masked rows: 0
    return b.op("MatMul", [p, ins[2]])


def _gates(b: Builder, z: str) -> str:
    """sigmoid, sigmoid, tanh, sigmoid on the quarters of the last axis (i, f, g, o)."""
    i, f, g, o = b.op("Split", [z], n_out=4, axis=-1, num_outputs=4)
    return [b.op("Sigmoid", [i]), b.op("Sigmoid", [f]), b.op("Tanh", [g]),
            b.op("Sigmoid", [o])]


def _lstm_gates(b: Builder, node: Any, ins: list) -> str:
    return b.op("Concat", _gates(b, ins[0]), axis=-1)


def _lstm_scan(b: Builder, node: Any, ins: list) -> str:
    """The fused LSTM loop as an ONNX ``Scan`` over time: (xw, h0, c0, W_hh) -> the
    stacked (2, B, T, H) sequences of h and c."""
    if node.params.get("mask") is not None:
        raise ExportError(f"{b.where}: a masked (padded) LSTM sequence is not mapped to ONNX")
    xw, h0 = node.inputs[0], node.inputs[1]
    hid = h0.shape[-1]
    onnx = b.onnx
    wt = b.op("Transpose", [ins[3]], perm=[1, 0])
    body = b.child()
    a = body.op("Add", ["x_t", body.op("MatMul", ["h_in", wt])])
    i, f, g, o = _gates(body, a)
    c = body.op("Add", [body.op("Mul", [f, "c_in"]), body.op("Mul", [i, g])])
    h = body.op("Mul", [o, body.op("Tanh", [c])])
    body.nodes += [onnx.helper.make_node("Identity", [h], ["h_out"]),
                   onnx.helper.make_node("Identity", [c], ["c_out"]),
                   onnx.helper.make_node("Identity", [h], ["h_seq"]),
                   onnx.helper.make_node("Identity", [c], ["c_seq"])]
    t = onnx_type(onnx, xw.dtype)

    def info(name: str, width: int) -> Any:
        return onnx.helper.make_tensor_value_info(name, t, [None, width])

    graph = onnx.helper.make_graph(
        body.nodes, "lstm_step", [info("h_in", hid), info("c_in", hid), info("x_t", 4 * hid)],
        [info("h_out", hid), info("c_out", hid), info("h_seq", hid), info("c_seq", hid)])
    _, _, hs, cs = b.op("Scan", [ins[1], ins[2], ins[0]], n_out=4, body=graph,
                        num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1, 1])
    zero = b.ints([0])
    return b.op("Concat", [b.op("Unsqueeze", [hs, zero]), b.op("Unsqueeze", [cs, zero])],
                axis=0)


# --------------------------------------------------------------------------- elementwise


def _clip(b: Builder, node: Any, ins: list) -> str:
    lo, hi = node.params.get("lo"), node.params.get("hi")
    x = _x(node)
    return b.op("Clip", [ins[0], "" if lo is None else b.scalar(lo, x),
                         "" if hi is None else b.scalar(hi, x)])


def _scaled(op_type: str, factor: float) -> Entry:
    def entry(b: Builder, node: Any, ins: list) -> str:
        return b.op("Div", [b.op(op_type, ins[:1]), b.scalar(factor, _x(node))])

    return entry


def _shifted(op_type: str, shift: float, before: bool) -> Entry:
    """log1p = Log(x + 1), expm1 = Exp(x) - 1."""
    def entry(b: Builder, node: Any, ins: list) -> str:
        one = b.scalar(shift, _x(node))
        if before:
            return b.op(op_type, [b.op("Add", [ins[0], one])])
        return b.op("Sub", [b.op(op_type, ins[:1]), one])

    return entry


def _logaddexp(b: Builder, node: Any, ins: list) -> str:
    m = b.op("Max", ins[:2])
    s = b.op("Add", [b.op("Exp", [b.op("Sub", [ins[0], m])]),
                     b.op("Exp", [b.op("Sub", [ins[1], m])])])
    return b.op("Add", [m, b.op("Log", [s])])


def _where(b: Builder, node: Any, ins: list) -> str:
    cond = ins[0]
    if node.inputs[0].dtype != bool:
        cond = b.op("Cast", [cond], to=onnx_type(b.onnx, bool))
    return b.op("Where", [cond, ins[1], ins[2]])


def _mod(b: Builder, node: Any, ins: list) -> str:
    if node.outputs[0].dtype.kind in "iu":
        return b.op("Mod", ins[:2], fmod=0)
    q = b.op("Floor", [b.op("Div", ins[:2])])  # NumPy's: the sign of the divisor
    return b.op("Sub", [ins[0], b.op("Mul", [q, ins[1]])])


def _round(b: Builder, node: Any, ins: list) -> str:
    d = int(node.params.get("decimals", 0))
    if not d:
        return b.op("Round", ins[:1])
    f = b.scalar(10.0 ** d, _x(node))
    return b.op("Div", [b.op("Round", [b.op("Mul", [ins[0], f])]), f])


def _isfinite(b: Builder, node: Any, ins: list) -> str:
    return b.op("Not", [b.op("Or", [b.op("IsNaN", ins[:1]), b.op("IsInf", ins[:1])])])


OPS: dict[str, Entry] = {
    # arithmetic and elementwise
    "add": binary("Add"), "sub": binary("Sub"), "mul": binary("Mul"), "div": binary("Div"),
    "pow": binary("Pow"), "maximum": binary("Max"), "minimum": binary("Min"),
    "neg": unary("Neg"), "alias": unary("Identity"), "first_order_only": unary("Identity"),
    "abs": unary("Abs"), "sign": unary("Sign"), "exp": unary("Exp"), "log": unary("Log"),
    "sqrt": unary("Sqrt"), "safe_sqrt": unary("Sqrt"), "reciprocal": unary("Reciprocal"),
    "sin": unary("Sin"), "cos": unary("Cos"), "tan": unary("Tan"), "sinh": unary("Sinh"),
    "cosh": unary("Cosh"), "tanh": unary("Tanh"), "asin": unary("Asin"),
    "acos": unary("Acos"), "atan": unary("Atan"), "asinh": unary("Asinh"),
    "acosh": unary("Acosh"), "atanh": unary("Atanh"), "erf": unary("Erf"),
    "floor": unary("Floor"), "ceil": unary("Ceil"), "round": _round,
    "sigmoid": unary("Sigmoid"), "relu": unary("Relu"), "softplus": unary("Softplus"),
    "hardswish": unary("HardSwish"),
    "hardsigmoid": unary("HardSigmoid", alpha=1 / 6, beta=0.5),
    "leaky_relu": lambda b, node, ins: b.op("PRelu", ins[:2]) if len(ins) > 1 else b.op(
        "LeakyRelu", ins[:1], alpha=float(node.params.get("slope", 0.01))),
    "elu": lambda b, node, ins: b.op("Elu", ins[:1], alpha=float(node.params.get("alpha",
                                                                                1.0))),
    "rsqrt": lambda b, node, ins: b.op("Reciprocal", [b.op("Sqrt", ins[:1])]),
    "log2": _scaled("Log", float(np.log(2))), "log10": _scaled("Log", float(np.log(10))),
    "log1p": _shifted("Log", 1.0, True), "expm1": _shifted("Exp", 1.0, False),
    "exp2": lambda b, node, ins: b.op("Pow", [b.scalar(2.0, _x(node)), ins[0]]),
    "logaddexp": _logaddexp, "clip": _clip, "where": _where, "mod": _mod,
    "fmod": lambda b, node, ins: b.op("Mod", ins[:2], fmod=1),
    "cast": _cast,
    # comparisons
    "equal": compare("Equal"), "not_equal": compare("Equal", negate=True),
    "less": compare("Less"), "less_equal": compare("LessOrEqual"),
    "greater": compare("Greater"), "greater_equal": compare("GreaterOrEqual"),
    "isnan": unary("IsNaN"), "isinf": unary("IsInf"), "isfinite": _isfinite,
    # reductions and softmax
    "sum": reduce("ReduceSum"), "mean": reduce("ReduceMean"), "max": reduce("ReduceMax"),
    "min": reduce("ReduceMin"), "prod": reduce("ReduceProd"),
    "logsumexp": reduce("ReduceLogSumExp"), "argmax": arg("ArgMax"), "argmin": arg("ArgMin"),
    "softmax": lambda b, node, ins: b.op("Softmax", ins[:1], axis=int(node.params["axis"])),
    "log_softmax": lambda b, node, ins: b.op("LogSoftmax", ins[:1],
                                             axis=int(node.params["axis"])),
    "cumsum": lambda b, node, ins: b.op("CumSum", [ins[0], b.const(np.int64(
        node.params["axis"]))]),
    # shapes and indexing
    "reshape": _reshape, "transpose": _transpose, "sum_to": _sum_to, "pad": _pad,
    "broadcast_to": lambda b, node, ins: b.op("Expand", [ins[0], b.shape(node.outputs[0])]),
    "concatenate": lambda b, node, ins: b.op("Concat", ins, axis=int(node.params["axis"])),
    "flip": _flip, "tril": _triangle(0), "triu": _triangle(1),
    "getitem": _getitem, "gather": _gather,
    # linear algebra
    "matmul": binary("MatMul"), "linear": _linear, "linear_nobias": _linear,
    "einsum": _einsum,
    # nn kernels
    "conv2d": _conv, "conv2d_bias": _conv, "max_pool2d": _max_pool, "unfold": _unfold,
    "fold": _fold, "layer_norm_last": _layer_norm, "scaled_dot_product_attention": _sdpa,
    "lstm_gates": _lstm_gates, "lstm_scan": _lstm_scan,
}
