"""``chainrule.onnx.export``'s contract: names, the batch axis, errors, atomic writing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="running exported files needs onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.errors import ExportError  # noqa: E402


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(3).random(shape, dtype=np.float32)


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_names_and_the_dynamic_batch_axis(tmp_path):
    path = tmp_path / "f.onnx"
    model = cr.onnx.export(lambda a, b: (a @ b.T, (a * 2).sum(axis=1)), (_x(3, 4), _x(3, 4)),
                           path, input_names=["a", "b"], output_names=["gram", "total"])
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["a", "b"]
    assert [o.name for o in graph.output] == ["gram", "total"]
    assert _dims(graph.input[0]) == ["batch", 4]
    assert _dims(graph.output[1]) == ["batch"]
    assert model.graph.input[0].name == "a"  # the ModelProto is returned
    a, b = _x(6, 4), _x(6, 4)
    gram, total = ort.InferenceSession(str(path)).run(None, {"a": a, "b": b})
    # a @ b.T is (batch, batch): both axes follow the batch
    np.testing.assert_allclose(gram, a @ b.T, rtol=1e-5)
    np.testing.assert_allclose(total, (a * 2).sum(axis=1), rtol=1e-5)


def test_dynamic_batch_false_fixes_the_shapes(tmp_path):
    path = tmp_path / "f.onnx"
    cr.onnx.export(nn.Dense(4, 2), _x(3, 4), path, dynamic_batch=False)
    graph = onnx.load(str(path)).graph
    assert _dims(graph.input[0]) == [3, 4] and _dims(graph.output[0]) == [3, 2]
    assert [i.name for i in graph.input] == ["input"]
    assert [o.name for o in graph.output] == ["output"]


def test_parameters_are_initializers_under_their_state_dict_names(tmp_path):
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2))
    proto = cr.onnx.export(model, _x(2, 4), tmp_path / "m.onnx")
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) <= names


def test_a_primitive_without_mapping_names_it_and_its_node_and_writes_nothing(tmp_path):
    path = tmp_path / "f.onnx"
    with pytest.raises(ExportError, match=r"'linalg_inv' has no ONNX mapping.*node 1"):
        cr.onnx.export(lambda x: cr.linalg.inv(x * 2), _x(2, 3, 3), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left either


def test_a_failed_export_leaves_an_existing_file_as_it_was(tmp_path):
    path = tmp_path / "f.onnx"
    path.write_bytes(b"the old model")
    with pytest.raises(ExportError):
        cr.onnx.export(lambda x: cr.linalg.inv(x), _x(2, 3, 3), path)
    assert path.read_bytes() == b"the old model"
    assert list(tmp_path.iterdir()) == [path]


def test_a_constant_computed_from_the_batch_size_is_refused(tmp_path):
    with pytest.raises(ExportError, match="changes with the batch size"):
        cr.onnx.export(lambda x: x / x.shape[0], _x(3, 2), tmp_path / "f.onnx")
    cr.onnx.export(lambda x: x / x.shape[0], _x(3, 2), tmp_path / "f.onnx",
                   dynamic_batch=False)  # fine for one batch size


def test_a_graph_that_changes_with_the_batch_size_is_refused(tmp_path):
    def f(x):
        for _ in range(x.shape[0]):
            x = x * 2
        return x

    with pytest.raises(ExportError, match="changes with the batch size"):
        cr.onnx.export(f, _x(2, 3), tmp_path / "f.onnx")


def test_bad_arguments(tmp_path):
    path = tmp_path / "f.onnx"
    with pytest.raises(ExportError, match="opset"):
        cr.onnx.export(nn.ReLU(), _x(2, 3), path, opset=9)
    with pytest.raises(ExportError, match="input_names"):
        cr.onnx.export(nn.ReLU(), _x(2, 3), path, input_names=["a", "b"])
    with pytest.raises(ExportError, match="batch sizes"):
        cr.onnx.export(lambda a, b: a + b, (_x(2, 3), _x(3, 3)), path)
    assert not path.exists()


def test_random_draws_in_training_mode_are_not_traced_because_eval_mode_is_used(tmp_path):
    model = nn.Sequential(nn.Dense(3, 3), nn.Dropout(0.9))
    model.train()
    proto = cr.onnx.export(model, _x(2, 3), tmp_path / "m.onnx")
    assert "Dropout" not in {n.op_type for n in proto.graph.node}
    assert model.training


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"chainrule\[onnx\]"):
        cr.onnx.export(nn.ReLU(), _x(2, 3), tmp_path / "f.onnx")


def test_tensor_inputs_a_newer_opset_and_nested_outputs(tmp_path):
    path = tmp_path / "f.onnx"

    def f(x):
        return {"a": x * 2, "b": [x.sum(axis=1), cr.exp(x)]}

    proto = cr.onnx.export(f, cr.Tensor(_x(2, 3)), path, opset=21)
    assert proto.opset_import[0].version == 21
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]
    x = _x(5, 3)
    a, total, e = ort.InferenceSession(str(path)).run(None, {"input": x})
    np.testing.assert_allclose(a, 2 * x, rtol=1e-6)
    np.testing.assert_allclose(total, x.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(e, np.exp(x), rtol=1e-5)


@pytest.mark.parametrize("fn", [
    lambda x: x[: x.shape[0] - 1] * 2,  # a slice bound from the batch size
    lambda x: cr.pad(x, ((0, x.shape[0]), (0, 0))),  # pad widths from the batch size
    lambda x: x[:, np.array([x.shape[0] % 2])],  # index values from the batch size
], ids=["slice", "pad", "index values"])
def test_parameters_computed_from_the_batch_size_are_refused(fn, tmp_path):
    with pytest.raises(ExportError, match="changes? with the batch size"):
        cr.onnx.export(fn, _x(2, 3), tmp_path / "f.onnx")
    assert not (tmp_path / "f.onnx").exists()
    cr.onnx.export(fn, _x(2, 3), tmp_path / "f.onnx", dynamic_batch=False)
