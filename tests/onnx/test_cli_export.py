"""``chainrule export CHECKPOINT --onnx PATH``."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="running exported files needs onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule.cli.main import main  # noqa: E402
from chainrule.models import create_model  # noqa: E402


def _run(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_a_cnn_checkpoint_exports_and_runs_like_the_model(tmp_path, capsys):
    cr.manual_seed(0)
    model = create_model("cnn", 64, 10, channels=(4,), hidden=16)  # 8x8 digits, flat
    cr.save_model(model, tmp_path / "model.npz")
    out = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "model.npz"), "--onnx", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "checked in onnxruntime: outputs equal" in printed
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    model.eval()
    np.testing.assert_allclose(_run(out).run(None, {"input": x})[0], model(x).data,
                               rtol=1e-4, atol=1e-5)


def test_a_language_model_takes_token_ids_of_its_context(tmp_path):
    cr.manual_seed(0)
    model = create_model("gpt", 7, context=6, layers=1, heads=2, width=8)
    cr.save_model(model, tmp_path / "gpt.npz")
    out = tmp_path / "gpt.onnx"
    assert main(["export", str(tmp_path / "gpt.npz"), "--onnx", str(out),
                 "--static-batch"]) == 0
    (inp,) = onnx.load(str(out)).graph.input
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 6]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_bad_input_is_one_line(tmp_path, capsys):
    cr.manual_seed(0)
    cr.save_model(create_model("mlp", 4, 2, hidden=(3,)), tmp_path / "m.npz")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "missing.npz"), "--onnx", str(out)]) == 2
    assert main(["export", str(tmp_path / "m.npz"), "--onnx", str(out),
                 "--input-shape", "0,3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("chainrule export: error:") for line in err)
    assert "--input-shape" in err[1]
    assert not out.exists()
