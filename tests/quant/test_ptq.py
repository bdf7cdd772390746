"""Post-training int8 quantization (issue 19): per-channel symmetric weights, calibrated
input ranges, saved models ~4x smaller that load and serve again."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import CheckpointError
from chainrule.models import create_model, load_model, save_model
from chainrule.quant import QuantizedLayer, quantizable_layers, quantize
from chainrule.quant.ptq import activation_params, fake_quantize, quantize_weight
from chainrule.random import manual_seed


def _cnn():
    manual_seed(0)
    return create_model("cnn", input_shape=(1, 12, 12), num_classes=4, channels=(8, 16),
                        hidden=32).eval()


def _run(model, x):
    with cr.no_grad():
        return model(x).numpy()


def test_weights_are_int8_per_output_channel_and_symmetric():
    w = np.random.default_rng(0).normal(size=(5, 3, 2, 2)).astype(np.float32)
    w[2] *= 100  # one large channel must not coarsen the others
    w[4] = 0
    q, scale = quantize_weight(w)
    assert q.dtype == np.int8 and scale.shape == (5,) and np.abs(q).max() == 127
    np.testing.assert_allclose(scale[:4], np.abs(w[:4]).reshape(4, -1).max(1) / 127)
    error = np.abs(q * scale[:, None, None, None] - w)
    assert (error <= scale[:, None, None, None] / 2 + 1e-6).all()  # rounding, no clipping
    assert (q[4] == 0).all() and np.isfinite(scale).all()
    assert (quantize_weight(-w)[0] == -q).all()  # symmetric


def test_activation_ranges_keep_zero_exact_and_round_within_half_a_step():
    scale, zero = activation_params(-1.0, 3.0)
    x = np.linspace(-1, 3, 101, dtype=np.float32)
    y = fake_quantize(x, scale, zero)
    assert np.abs(y - x).max() <= scale / 2 + 1e-6 and len(np.unique(y)) <= 256
    assert fake_quantize(np.zeros(3, np.float32), scale, zero).tolist() == [0, 0, 0]
    assert fake_quantize(np.array([9.0], np.float32), scale, zero)[0] == pytest.approx(
        3.0, abs=scale)  # out of range: clipped to the calibrated maximum


def test_quantize_calibrates_a_copy_and_stays_close_to_the_float_model():
    model = _cnn()
    x = np.random.default_rng(1).random((64, 1, 12, 12), dtype=np.float32)
    before = _run(model, x)
    qmodel = quantize(model, x[:32])
    np.testing.assert_array_equal(_run(model, x), before)  # the original is untouched
    assert quantizable_layers(model) == ["0", "3", "7", "10"]
    layers = [m for m in qmodel.modules() if isinstance(m, QuantizedLayer)]
    assert len(layers) == 4 and all(np.isfinite(m.input_range).all() for m in layers)
    assert layers[0].input_range[0] >= 0 and layers[0].input_range[1] <= 1
    after = _run(qmodel, x)
    assert not np.array_equal(after, before)  # it really is quantized
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()
    assert (after.argmax(1) == before.argmax(1)).mean() >= 0.9
    assert [q.shape for q in (layers[2].weight_q,)] == [(32, 16 * 3 * 3)]
    with pytest.raises(ValueError, match="calibration data is empty"):
        quantize(model, np.zeros((0, 1, 12, 12), np.float32))
    with pytest.raises(ValueError, match="no Linear or Conv"):
        quantize(cr.nn.ReLU(), x)


def test_saved_int8_models_are_about_4x_smaller_and_load_with_identical_outputs(tmp_path):
    manual_seed(0)
    model = create_model("mlp", input_shape=(28, 28), num_classes=10, hidden=(256,)).eval()
    x = np.random.default_rng(2).random((300, 28, 28), dtype=np.float32)
    qmodel = cr.quantize(model, x)
    save_model(model, tmp_path / "float" / "1")
    save_model(qmodel, tmp_path / "int8" / "1")
    size = {k: (tmp_path / k / "1" / "model.npz").stat().st_size for k in ("float", "int8")}
    assert 3.5 < size["float"] / size["int8"] < 4.1
    loaded = load_model(tmp_path / "int8" / "1")
    np.testing.assert_array_equal(_run(loaded, x), _run(qmodel, x))
    save_model(qmodel, tmp_path / "q.npz")  # a checkpoint file too
    np.testing.assert_array_equal(_run(load_model(tmp_path / "q.npz"), x), _run(qmodel, x))


def test_a_bad_quantization_entry_is_a_checkpoint_error(tmp_path):
    from chainrule import io

    qmodel = quantize(_cnn(), np.ones((4, 1, 12, 12), np.float32))
    save_model(qmodel, tmp_path / "q.npz")
    ckpt = io.read_checkpoint(tmp_path / "q.npz")
    ckpt["quantization"]["layers"] = ["99"]
    io.save(ckpt, tmp_path / "bad.npz")
    with pytest.raises(CheckpointError, match=r"bad\.npz: the model has no quantizable"):
        load_model(tmp_path / "bad.npz")


def test_an_int8_model_directory_is_served(tmp_path):
    pytest.importorskip("starlette", reason="chainrule serve needs the [serve] extra")
    pytest.importorskip("uvicorn", reason="chainrule serve needs the [serve] extra")
    import json
    import urllib.request

    from chainrule.serve import ModelRepository, start_server

    x = np.random.default_rng(3).random((3, 1, 12, 12), dtype=np.float32)
    qmodel = quantize(_cnn(), x)
    save_model(qmodel, tmp_path / "small" / "1")
    with start_server(ModelRepository(tmp_path)) as server:
        req = urllib.request.Request(f"{server.url}/v1/models/small:predict",
                                     data=json.dumps({"instances": x.tolist()}).encode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
    np.testing.assert_allclose(answer["predictions"], _run(qmodel, x), rtol=1e-5, atol=1e-6)
