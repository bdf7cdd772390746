"""Int8 models (``chainrule.quantize``) export in the ONNX QDQ form and run in onnxruntime.

The tolerance, and why: ONNX's QuantizeLinear/DequantizeLinear round and scale exactly as
chainrule's ``fake_quantize``/``dequantize`` (round half to even, float32 scales), so a
single quantized layer agrees to float32 rounding (rtol 1e-5). In a deeper model each
layer's input is re-rounded to 8 bits; onnxruntime sums the previous layer's dot products
in another order, and where a value sits within float32 rounding of a rounding boundary
(``x / scale`` at ``k + 0.5``) the two round it to neighbouring levels: one quantization
step. The tests check exactly that: every integer code of every quantized activation is
equal, or one level apart *at* a boundary; the outputs of the examples whose codes all
agree match to rtol 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="running exported files needs onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.models import create_model  # noqa: E402
from chainrule.quant import ptq  # noqa: E402
from chainrule.quant.primitives import fake_quantize  # noqa: E402


def _floats(n, *shape, seed=19):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _session(path, *, optimize=True) -> ort.InferenceSession:
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _with_codes(path, out_path) -> int:
    """A copy of the file whose extra outputs are the integer codes of every
    QuantizeLinear (in graph order); the number of them."""
    model = onnx.load(str(path))
    names = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.UINT8, None))
    onnx.save(model, str(out_path))
    return len(names)


def _recorded_inputs(qmodel, x, monkeypatch) -> tuple[np.ndarray, list]:
    """chainrule's output on ``x`` and, per quantized activation in call order, the float
    input it rounds with its scale and zero point."""
    seen = []

    def recording(v, scale, zero_point, **kw):
        seen.append((v.numpy().copy(), np.float32(scale), zero_point))
        return fake_quantize(v, scale, zero_point, **kw)

    monkeypatch.setattr(ptq, "fake_quantize_op", recording)
    with cr.no_grad():
        y = qmodel(x).numpy()
    return y, seen


def _check_against_onnxruntime(qmodel, x, tmp_path, monkeypatch) -> np.ndarray:
    path = tmp_path / "int8.onnx"
    cr.onnx.export(qmodel, x[:3], path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    n_codes = _with_codes(path, tmp_path / "codes.onnx")
    y, seen = _recorded_inputs(qmodel, x, monkeypatch)
    assert len(seen) == n_codes == len(ptq.quantizable_layers(qmodel))
    runs = _session(tmp_path / "codes.onnx", optimize=False).run(None, {"input": x})
    got, codes = runs[0], runs[1:]
    rows_off = np.zeros(len(x), bool)  # examples where an earlier code differed
    for (inp, scale, zp), code in zip(seen, codes):
        ours = np.clip(np.rint(inp / scale) + zp, 0, 255)
        fresh = (ours != code) & ~rows_off.reshape((-1,) + (1,) * (ours.ndim - 1))
        # where all earlier codes agreed: one level apart, and only at a boundary (k.5)
        assert np.all(np.abs(ours[fresh] - code[fresh]) == 1)
        position = (inp[fresh] / scale) % 1.0
        assert np.all(np.abs(position - 0.5) < 1e-3), position
        rows_off |= (ours != code).reshape(len(x), -1).any(axis=1)
    assert rows_off.mean() < 0.5  # boundary cases are rare: most examples see none
    np.testing.assert_allclose(got[~rows_off], y[~rows_off], rtol=1e-5,
                               atol=1e-5 * np.abs(y).max())
    optimized = _session(path).run(None, {"input": x})[0]  # ORT's own graph rewrites on
    assert (optimized.argmax(1) == y.argmax(1)).mean() >= 0.99
    return got


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_int8_model_exports_in_qdq_form_and_matches_onnxruntime(name, tmp_path,
                                                                   monkeypatch):
    cr.manual_seed(3)
    model = create_model(name, (1, 28, 28), 10, dropout=0.0)
    x = _floats(300, 1, 28, 28)
    qmodel = cr.quantize(model, x[:100])
    _check_against_onnxruntime(qmodel, x, tmp_path, monkeypatch)
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    ops = [n.op_type for n in graph.node]
    layers = ptq.quantizable_layers(model)
    assert ops.count("QuantizeLinear") == len(layers)  # one per quantized layer's input
    assert ops.count("DequantizeLinear") == 2 * len(layers)  # its input and its weights
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    by_input = {n.input[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    weights = [(n, inits[name]) for name, n in by_input.items() if name in inits]
    assert len(weights) == len(layers)
    for node, w in weights:  # int8 weights, one float32 scale per output channel
        assert w.dtype == np.int8 and np.abs(w).max() <= 127
        scale = inits[node.input[1]]
        assert scale.dtype == np.float32 and scale.shape == (w.shape[0],)
        assert [a.i for a in node.attribute if a.name == "axis"] == [0]
    float_path = tmp_path / "float.onnx"
    cr.onnx.export(model, x[:3], float_path)
    floats = {i.name: i for i in onnx.load(str(float_path)).graph.initializer}
    float_weights = sum(onnx.numpy_helper.to_array(floats[f"{layer}.weight"]).nbytes
                        for layer in layers)
    assert 4 * sum(w.nbytes for _, w in weights) == float_weights  # int8: 4x smaller
    # biases and scales stay float32: the whole file is smaller by less than 4x (3.9x
    # for the MNIST models, docs/deploy.md)
    assert float_path.stat().st_size > (tmp_path / "int8.onnx").stat().st_size


def test_one_quantized_layer_matches_to_float_rounding(tmp_path):
    """No rounding after a sum: QuantizeLinear/DequantizeLinear equal chainrule's forward."""
    cr.manual_seed(4)
    model = nn.Sequential(nn.Linear(20, 7))
    x = np.random.default_rng(5).normal(size=(64, 20)).astype(np.float32) * 3
    qmodel = cr.quantize(model, x[:16])  # values beyond the calibrated range saturate
    cr.onnx.export(qmodel, x[:2], tmp_path / "one.onnx")
    got = _session(tmp_path / "one.onnx").run(None, {"input": x})[0]
    with cr.no_grad():
        np.testing.assert_allclose(got, qmodel(x).numpy(), rtol=1e-5, atol=1e-5)


def test_fake_quantize_exports_per_channel_and_narrow_ranges(tmp_path):
    """Signed per-channel fake quantization with the symmetric -127..127 range (int8 in
    ONNX, clamped first); values far outside the range saturate alike."""
    scale = np.array([0.02, 0.05, 0.1], np.float32)

    def f(x):
        return fake_quantize(x, scale, 0, qmin=-127, qmax=127, axis=1) * 2.0

    x = np.random.default_rng(6).normal(size=(5, 3, 4)).astype(np.float32) * 8
    x[0, 0, 0] = -0.02 * 127.6  # would round to -128 without the clamp
    cr.onnx.export(f, x, tmp_path / "fq.onnx")
    nodes = [n.op_type for n in onnx.load(str(tmp_path / "fq.onnx")).graph.node]
    assert {"Max", "Min", "QuantizeLinear", "DequantizeLinear"} <= set(nodes)
    got = _session(tmp_path / "fq.onnx").run(None, {"input": x})[0]
    np.testing.assert_array_equal(got, f(x).numpy())


def test_an_integer_range_beyond_8_bits_is_an_export_error(tmp_path):
    def f(x):
        return fake_quantize(x, 0.1, 0, qmin=0, qmax=1023)

    with pytest.raises(cr.errors.ExportError, match="8 bits"):
        cr.onnx.export(f, np.ones((2, 3), np.float32), tmp_path / "bad.onnx")


def test_a_qat_model_exports_with_fake_quantized_float_weights(tmp_path):
    """prepare_qat's layers use the same primitive: the float weights go through
    QuantizeLinear (int8, per output channel, clamped to -127..127) and back."""
    from chainrule.quant import prepare_qat

    cr.manual_seed(7)
    x = np.random.default_rng(8).normal(size=(32, 10)).astype(np.float32)
    qat = prepare_qat(nn.Sequential(nn.Linear(10, 6), nn.ReLU()), momentum=0.0)
    qat.train()
    qat(x)  # the input range of this batch
    cr.onnx.export(qat, x[:2], tmp_path / "qat.onnx")
    graph = onnx.load(str(tmp_path / "qat.onnx")).graph
    quantize = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    assert len(quantize) == 2  # the input (uint8) and the weights (int8, axis 0)
    assert [a.i for n in quantize for a in n.attribute if a.name == "axis"] == [0]
    got = _session(tmp_path / "qat.onnx").run(None, {"input": x})[0]
    qat.eval()
    with cr.no_grad():
        np.testing.assert_allclose(got, qat(x).numpy(), rtol=1e-5, atol=1e-5)
