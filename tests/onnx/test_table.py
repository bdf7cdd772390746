"""The entries of ``chainrule/onnx/table.py``, one small function each: exported, checked
and run in onnxruntime at two batch sizes, equal to chainrule within rtol 1e-4, atol 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="running exported files needs onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.autograd.ops import gather  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.onnx import OPS  # noqa: E402

_IDX = np.array([2, 0, 1, 1])


def _f(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return np.random.default_rng(sum(shape)).uniform(lo, hi, shape).astype(np.float32)


CASES = {
    "unary": (lambda x: cr.exp(x) + cr.sin(x) * cr.cos(x) - cr.tanh(x) + cr.abs(x)
              + cr.sigmoid(x) + cr.relu(x) + cr.sign(x) + cr.floor(x) + cr.ceil(x)
              + cr.erf(x) + cr.atan(x) + cr.sinh(x) - cr.cosh(x) + cr.asinh(x), _f(3, 5)),
    "positive": (lambda x: cr.log(x) + cr.sqrt(x) + cr.log1p(x) + cr.expm1(x) + 1 / x
                 + cr.log2(x) + cr.log10(x) + x ** 1.5 + cr.rsqrt(x),
                 _f(3, 4, lo=0.1, hi=3.0)),
    "activations": (lambda x: F.elu(x) + F.leaky_relu(x, 0.1) + F.softplus(x) + F.gelu(x)
                    + F.selu(x) + F.silu(x) + F.hardsigmoid(x) + F.gelu(x, approximate="tanh"),
                    _f(2, 6)),
    "compare": (lambda x: cr.where(x > 0.5, x, -x) + cr.where(x <= -1, 1.0, 0.0)
                + cr.maximum(x, 0.2) - cr.minimum(x, -0.3) + cr.clip(x, -1.0, 1.5), _f(4, 3)),
    "mod": (lambda x: cr.mod(x, 0.7) + cr.round(x * 3), _f(3, 3)),
    "rounding": (lambda x: (cr.floor_divide(x, 0.3), cr.trunc(x * 2), cr.fmax(x, 0.1),
                            cr.fmin(x, -0.1), cr.lerp(x, 2 * x + 1, x), cr.sinc(x),
                            cr.deg2rad(x) + cr.rad2deg(x), cr.hypot(x, x + 1)), _f(3, 4)),
    "reductions": (lambda x: (x.sum(axis=1), x.mean(axis=(1, 2), keepdims=True),
                              x.max(axis=-1), x.min(axis=1), cr.logsumexp(x, axis=2),
                              x.prod(axis=2), cr.argmax(x, axis=1), x.sum()), _f(2, 3, 4)),
    "softmax": (lambda x: (F.softmax(x, axis=-1), F.log_softmax(x, axis=1)), _f(3, 7)),
    "shapes": (lambda x: (cr.transpose(x, (0, 2, 1)).reshape(x.shape[0], -1),
                          cr.flip(x, axis=1), cr.concatenate([x, 2 * x], axis=2),
                          cr.stack([x, x], axis=1), cr.broadcast_to(x[:, :1], x.shape),
                          cr.pad(x, ((0, 0), (1, 2), (0, 1))), cr.tril(x), cr.triu(x, 1),
                          cr.cumsum(x, 2), cr.squeeze(x[:, :1], 1)), _f(2, 3, 4)),
    "basic indexing": (lambda x: (x[:, 1], x[:, ::-1, 1:], x[..., -1], x[:, None, 2],
                                  x[:, -2:, 1:3]), _f(3, 4, 5)),
    "array indexing": (lambda x: (x[:, _IDX], x[:, _IDX, 1:], x[:, _IDX[:3], _IDX[1:]],
                                  x[..., [0, 2]], gather(x, 2, np.zeros(
                                      (1, 4, 2), np.int64) + np.array([1, 0])[None, None])),
                       _f(2, 4, 3)),
    "linear algebra": (lambda x: (x @ cr.transpose(x, (0, 2, 1)),
                                  cr.einsum("bij,bkj->bik", x, x), x @ _f(4, 2)), _f(2, 3, 4)),
}


def _layers(x):
    lin, ln = LAYERS["linear"], LAYERS["norm"]
    return lin(x), ln(x), lin(ln(x)).sum(axis=1)


def _pooling(x):
    return (F.avg_pool2d(x, 2), F.max_pool2d(x, 3, 2), LAYERS["deconv"](x),
            LAYERS["conv"](x))


LAYERS: dict = {}
CASES["layers"] = (_layers, _f(2, 3, 4))
CASES["pooling"] = (_pooling, _f(2, 2, 8, 8))


@pytest.fixture(autouse=True, scope="module")
def _build_layers():
    cr.manual_seed(0)
    LAYERS.update(linear=nn.Linear(4, 3), norm=nn.LayerNorm(4),
                  deconv=nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                  conv=nn.Conv2d(2, 4, 3, dilation=2, groups=2))
    for m in LAYERS.values():
        for p in m.parameters():
            p.data[...] = np.random.default_rng(p.data.size).standard_normal(p.shape)


@pytest.mark.parametrize("name", list(CASES))
def test_entry(name, tmp_path):
    fn, x = CASES[name]
    path = tmp_path / "f.onnx"
    cr.onnx.export(fn, x, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for arr in (x, np.concatenate([x, x[:2][::-1] * 0.9, x[:1] * 1.1])):  # batch + 3
        want = fn(arr)
        want = want if isinstance(want, tuple) else (want,)
        got = session.run(None, {"input": arr})
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w.data, rtol=1e-4, atol=1e-5)


def test_every_mapped_name_is_a_registered_primitive():
    from chainrule.autograd.primitive import PRIMITIVES

    assert set(OPS) <= set(PRIMITIVES)


def test_integer_division_rounds_as_numpy(tmp_path):
    from chainrule.autograd.ops.rounding import trunc_divide

    a = np.array([[7, -7, 5, -5, 0, 9]])
    b = np.array([[2, 2, -3, -3, 4, -9]])

    def f(a, b):
        return cr.floor_divide(a, b), trunc_divide(a, b), cr.mod(a, b)

    cr.onnx.export(f, (a, b), tmp_path / "f.onnx")
    session = ort.InferenceSession(str(tmp_path / "f.onnx"))
    a, b = np.repeat(a, 3, 0), np.repeat(b, 3, 0)
    for got, want in zip(session.run(None, {"input_0": a, "input_1": b}), f(a, b), strict=True):
        np.testing.assert_array_equal(got, want.data)


def test_batch_sized_index_arrays_are_made_at_run_time(tmp_path):
    def f(x):
        n = x.shape[0]
        return (x[np.arange(n), ..., np.full(n, 2)],  # row i: x[i, :, 2]
                gather(x, 1, np.zeros((n, 1, 4), np.int64)))

    x = _f(3, 2, 4)
    cr.onnx.export(f, x, tmp_path / "f.onnx")
    session = ort.InferenceSession(str(tmp_path / "f.onnx"))
    x = _f(7, 2, 4)
    for got, want in zip(session.run(None, {"input": x}), f(x), strict=True):
        np.testing.assert_allclose(got, want.data, rtol=1e-6)


def test_boolean_mask_indexing_is_refused(tmp_path):
    from chainrule.errors import ExportError

    with pytest.raises(ExportError, match="boolean"):
        cr.onnx.export(lambda x: x[x > 0.5] * 2, _f(2, 3), tmp_path / "f.onnx",
                       dynamic_batch=False)
    assert not (tmp_path / "f.onnx").exists()


def test_lstm_scan_is_onnx_lstm_when_only_the_final_c_is_read_else_a_scan(tmp_path):
    from chainrule.nn.kernels import lstm_scan

    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 4)).astype(np.float32)
    h0, c0 = _f(3, 4), _f(3, 4)
    layer = nn.LSTM(6, 4)

    def whole(xw):  # every step of c is read: Scan
        return lstm_scan(xw, h0, c0, w, mask=None)

    def final(xw):  # as nn.LSTM reads it: h at every step, c at the last
        y = lstm_scan(xw, h0, c0, w, mask=None)
        return y[0], y[1, :, -1]

    for fn, op in ((whole, "Scan"), (final, "LSTM")):
        xw = _f(3, 5, 16)
        proto = cr.onnx.export(fn, xw, tmp_path / "f.onnx", dynamic_batch=False)
        assert op in {n.op_type for n in proto.graph.node}
        got = ort.InferenceSession(str(tmp_path / "f.onnx")).run(None, {"input": xw})
        want = fn(xw)
        for g, v in zip(got, want if isinstance(want, tuple) else (want,), strict=True):
            np.testing.assert_allclose(g, v.data, rtol=1e-4, atol=1e-5)
    proto = cr.onnx.export(layer, _f(2, 5, 6), tmp_path / "layer.onnx")
    assert "LSTM" in {n.op_type for n in proto.graph.node}
