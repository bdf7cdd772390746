"""Table entries for the fused NN kernels (convolution, pooling, im2col and its
transpose, layer norm, attention, GELU, the LSTM gates and scan); ``table.py`` holds the table."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExportError
from .build import Builder, onnx_type


def _x(node: Any) -> Any:
    return node.inputs[0]


def _pads(padding: tuple) -> list[int]:
    (pt, pb), (pl, pr) = padding
    return [int(pt), int(pl), int(pb), int(pr)]


def conv(b: Builder, node: Any, ins: list) -> str:
    p = node.params
    return b.op("Conv", ins, strides=list(p["stride"]), dilations=list(p["dilation"]),
                pads=_pads(p["padding"]), group=int(p["groups"]))


def _one_hot_kernels(c: int, kh: int, kw: int, dtype: Any) -> np.ndarray:
    """(C*kh*kw, 1, kh, kw) kernels, each picking one window offset (im2col as a conv)."""
    w = np.zeros((c, kh * kw, 1, kh * kw), dtype=dtype)
    w[:, np.arange(kh * kw), 0, np.arange(kh * kw)] = 1
    return w.reshape(c * kh * kw, 1, kh, kw)


def unfold(b: Builder, node: Any, ins: list) -> str:
    p, x = node.params, _x(node)
    (kh, kw), c = p["kernel"], x.shape[1]
    y = b.op("Conv", [ins[0], b.const(_one_hot_kernels(c, kh, kw, x.dtype))], group=c,
             kernel_shape=[kh, kw], strides=list(p["stride"]),
             dilations=list(p["dilation"]), pads=_pads(p["padding"]))
    return b.reshape(y, node.outputs[0])


def fold(b: Builder, node: Any, ins: list) -> str:
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


def max_pool(b: Builder, node: Any, ins: list) -> str:
    return b.op("MaxPool", ins[:1], kernel_shape=list(node.params["kernel"]),
                strides=list(node.params["stride"]))


def layer_norm(b: Builder, node: Any, ins: list) -> str:
    return b.op("LayerNormalization", ins[:3], axis=-1, epsilon=float(node.params["eps"]))


def gelu(b: Builder, node: Any, ins: list) -> str:
    """x Phi(x) with Erf, or the tanh form (opset 18 has no Gelu; it came in 20)."""
    x = _x(node)
    if node.params.get("approximate") == "tanh":
        cube = b.op("Mul", [ins[0], b.op("Mul", [ins[0], ins[0]])])
        inner = b.op("Add", [ins[0], b.op("Mul", [cube, b.scalar(0.044715, x)])])
        t = b.op("Tanh", [b.op("Mul", [inner, b.scalar(np.sqrt(2 / np.pi), x)])])
    else:
        t = b.op("Erf", [b.op("Mul", [ins[0], b.scalar(np.sqrt(0.5), x)])])
    half = b.op("Mul", [ins[0], b.scalar(0.5, x)])
    return b.op("Mul", [half, b.op("Add", [t, b.scalar(1.0, x)])])


def sdpa(b: Builder, node: Any, ins: list) -> str:
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


def lstm_gates(b: Builder, node: Any, ins: list) -> str:
    return b.op("Concat", _gates(b, ins[0]), axis=-1)


def lstm_scan(b: Builder, node: Any, ins: list) -> str:
    """The fused LSTM loop: (xw, h0, c0, W_hh) -> the stacked (2, B, T, H) sequences of h
    and c. ONNX's ``LSTM`` operator when only the h sequence and the final c are read
    (as ``nn.LSTM`` does), else a ``Scan`` over time whose body is one step."""
    if node.params.get("mask") is not None:
        raise ExportError(f"{b.where}: a masked (padded) LSTM sequence is not mapped to ONNX")
    if _reads_final_c_only(b, node):
        return _lstm_operator(b, node, ins)
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


def _reads_final_c_only(b: Builder, node: Any) -> bool:
    """Whether every reader of the (2, B, T, H) output takes the h sequence (``y[0...]``)
    or the last step of c (``y[1, :, -1]``), so that ONNX's LSTM, which returns only the
    final c, computes all that is read."""
    out = node.outputs[0]
    steps = out.shape[2]
    readers = b.readers.get(id(out))
    if readers is None:  # a graph output
        return False
    for r in readers:
        key = r.params.get("key") if r.name == "getitem" else None
        key = key if isinstance(key, tuple) else (key,)
        if not key or isinstance(key[0], np.ndarray) or key[0] not in (0, 1):
            return False
        if key[0] == 1 and not (len(key) == 3 and key[1] == slice(None) and
                                isinstance(key[2], (int, np.integer)) and
                                key[2] in (-1, steps - 1)):
            return False
    return True


_ONNX_GATES = (0, 3, 1, 2)  # ONNX's gate order i, o, f, c in chainrule's i, f, g, o


def _lstm_operator(b: Builder, node: Any, ins: list) -> str:
    hid = node.inputs[1].shape[-1]
    dtype = node.inputs[0].dtype
    perm = np.concatenate([np.arange(k * hid, (k + 1) * hid) for k in _ONNX_GATES])
    # the input projection is already in xw: W is the permutation of its gate blocks
    w = b.const(np.eye(4 * hid, dtype=dtype)[perm][None])
    r = b.op("Unsqueeze", [b.op("Gather", [ins[3], b.const(perm)], axis=0), b.ints([0])])
    zero = b.ints([0])
    x = b.op("Transpose", [ins[0]], perm=[1, 0, 2])  # (T, B, 4H)
    y, _, c_last = b.op("LSTM", [x, w, r, "", "", b.op("Unsqueeze", [ins[1], zero]),
                                 b.op("Unsqueeze", [ins[2], zero])], n_out=3, hidden_size=hid)
    hs = b.op("Transpose", [b.op("Squeeze", [y, b.ints([1])])], perm=[1, 0, 2])  # (B, T, H)
    # c at every step is read nowhere but at the last (_reads_final_c_only): the final c
    cs = b.op("Expand", [b.op("Transpose", [c_last], perm=[1, 0, 2]), b.op("Shape", [hs])])
    return b.op("Concat", [b.op("Unsqueeze", [hs, zero]), b.op("Unsqueeze", [cs, zero])],
                axis=0)

