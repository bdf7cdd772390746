"""THE table: each chainrule primitive -> the ONNX nodes that compute it.

``OPS[name](b, node, ins) -> output name(s)``: ``b`` is the ``build.Builder``, ``node``
the traced ``Node`` (its ``params`` are the primitive's keywords, its ``inputs`` and
``outputs`` the ``Var``s with shapes and dtypes), ``ins`` the ONNX names of its inputs.
Adding a primitive to the export is one entry here; a primitive missing from the table
is an ``ExportError`` naming it and its node. The longer entries live by concern in
``indexing.py`` (``getitem``, ``gather``) and ``kernels.py`` (the fused NN kernels).
Where an ONNX operator differs from NumPy at a corner, the entry matches NumPy
(``sdpa``: fully masked rows are 0, as chainrule's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import indexing, kernels, qdq
from .build import Builder, onnx_type

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


def _trunc(b: Builder, x: str) -> str:
    return b.op("Mul", [b.op("Sign", [x]), b.op("Floor", [b.op("Abs", [x])])])


def _divide(rounding: str) -> Entry:
    """floor_divide, trunc_divide: integers exactly (a - a mod b is a multiple of b)."""
    def entry(b: Builder, node: Any, ins: list) -> str:
        if node.outputs[0].dtype.kind not in "iu":
            q = b.op("Div", ins[:2])
            return b.op("Floor", [q]) if rounding == "floor" else _trunc(b, q)
        exact = b.op("Div", [b.op("Sub", [ins[0], b.op("Mod", ins[:2], fmod=0)]), ins[1]])
        if rounding == "floor":
            return exact
        return b.op("Div", [b.op("Sub", [ins[0], b.op("Mod", ins[:2], fmod=1)]), ins[1]])

    return entry


def _nan_aware(op_type: str) -> Entry:
    """fmax, fmin: the other argument where one is NaN."""
    def entry(b: Builder, node: Any, ins: list) -> str:
        m = b.op(op_type, ins[:2])
        return b.op("Where", [b.op("IsNaN", [ins[0]]), ins[1],
                              b.op("Where", [b.op("IsNaN", [ins[1]]), ins[0], m])])

    return entry


def _lerp(b: Builder, node: Any, ins: list) -> str:
    a, e, w = ins[:3]  # from the nearer end, as chainrule (exact at w = 0 and 1)
    d = b.op("Sub", [e, a])
    one, half = b.scalar(1.0, node.outputs[0]), b.scalar(0.5, node.outputs[0])
    near = b.op("Less", [b.op("Abs", [w]), half])
    return b.op("Where", [near, b.op("Add", [a, b.op("Mul", [w, d])]),
                          b.op("Sub", [e, b.op("Mul", [d, b.op("Sub", [one, w])])])])


def _sinc(b: Builder, node: Any, ins: list) -> str:
    x = _x(node)
    px = b.op("Mul", [ins[0], b.scalar(np.pi, x)])
    zero = b.op("Equal", [ins[0], b.scalar(0.0, x)])
    safe = b.op("Where", [zero, b.scalar(1.0, x), px])
    return b.op("Where", [zero, b.scalar(1.0, x), b.op("Div", [b.op("Sin", [safe]), safe])])


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
    "floor_divide": _divide("floor"), "trunc_divide": _divide("trunc"),
    "trunc": lambda b, node, ins: _trunc(b, ins[0]),
    "fmax": _nan_aware("Max"), "fmin": _nan_aware("Min"), "lerp": _lerp, "sinc": _sinc,
    "deg2rad": lambda b, node, ins: b.op("Mul", [ins[0], b.scalar(np.pi / 180, _x(node))]),
    "rad2deg": lambda b, node, ins: b.op("Mul", [ins[0], b.scalar(180 / np.pi, _x(node))]),
    "hypot": lambda b, node, ins: b.op("Sqrt", [b.op("Add", [b.op("Mul", [ins[0], ins[0]]),
                                                             b.op("Mul", [ins[1], ins[1]])])]),
    "sigmoid_slope": lambda b, node, ins: b.op("Mul", [ins[0], b.op("Sub", [
        b.scalar(1.0, _x(node)), ins[0]])]),
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
    "getitem": indexing.getitem, "gather": indexing.gather,
    # linear algebra
    "matmul": binary("MatMul"), "linear": _linear, "linear_nobias": _linear,
    "einsum": _einsum,
    # nn kernels
    "conv2d": kernels.conv, "conv2d_bias": kernels.conv, "max_pool2d": kernels.max_pool,
    "unfold": kernels.unfold, "fold": kernels.fold, "layer_norm_last": kernels.layer_norm,
    "scaled_dot_product_attention": kernels.sdpa, "lstm_gates": kernels.lstm_gates,
    "lstm_scan": kernels.lstm_scan, "gelu": kernels.gelu,
    # int8 quantization (chainrule.quant, issue 19): the QDQ form
    "fake_quantize": qdq.fake_quantize, "dequantize": qdq.dequantize,
}

#: Parameters an entry may see change with the batch size (traced at several sizes): it
#: reads them from the output's dims, or makes batch-sized index arrays at run time. A
#: change of any other parameter is an ExportError (it would be baked in).
BATCH_PARAMS: dict[str, set[str]] = {
    "reshape": {"shape"}, "broadcast_to": {"shape"}, "sum_to": {"shape"}, "fold": {"shape"},
    "getitem": {"key"}, "gather": {"index"},
}

