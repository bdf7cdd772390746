"""Model directories (issue 19): every registered model round-trips through
``save_model(model, dir)`` / ``load_model(dir)`` with identical weights and outputs; the
write is atomic; ``chainrule save-model`` converts a training checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.errors import CheckpointError
from chainrule.models import create_model, list_models, load_model, save_model
from chainrule.models import model_dir as md
from chainrule.models.registry import _with_defaults
from chainrule.random import manual_seed


def _registry_tests():
    """tests/models/test_registry.py (its small arguments for every registered model)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "models" / "test_registry.py"
    spec = importlib.util.spec_from_file_location("_registry_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL, _flat = _registry_tests().SMALL, _registry_tests()._flat


def _example(name, description):
    """A batch of two inputs for the model, or None where its forward needs more."""
    rng = np.random.default_rng(0)
    spec = description["input"]
    if spec is not None:
        shape = (2, *spec["shape"])
        if spec["dtype"] == "int64":
            return rng.integers(0, 5, shape)
        return rng.random(shape, dtype=np.float32)
    if name == "char-lstm":
        return rng.integers(0, 7, (2, 5))
    return None


def _first(out):
    return (out[0] if isinstance(out, tuple) else out).numpy()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_round_trips_through_a_directory(tmp_path, name):
    manual_seed(0)
    model = create_model(name, **SMALL[name])
    target = tmp_path / "models" / name / "1"
    save_model(model, target, epoch=2)
    assert sorted(p.name for p in target.iterdir()) == ["model.json", "model.npz"]
    description = json.loads((target / "model.json").read_text())
    assert description["architecture"]["name"] == name
    assert description["metadata"] == {"epoch": 2}
    manual_seed(1)  # another initialisation: the weights must come from the directory
    loaded = cr.load_model(target)
    assert type(loaded) is type(model)
    want, got = dict(_flat(model.state_dict())), dict(_flat(loaded.state_dict()))
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    x = _example(name, description)
    if x is not None and hasattr(model, "eval"):
        model.eval()
        with cr.no_grad():
            np.testing.assert_array_equal(_first(loaded(x)), _first(model(x)))


def test_input_specs_of_servable_models():
    def spec(name, arguments):
        return md.input_spec(*_with_defaults({"name": name, "arguments": arguments}))

    assert spec("mlp", SMALL["mlp"]) == {"shape": [8, 8], "dtype": "float32"}
    assert spec("gpt", SMALL["gpt"]) == {"shape": [6], "dtype": "int64"}
    assert spec("dense-generator", {}) == {"shape": [30], "dtype": "float32"}
    assert spec("cnn", SMALL["cnn"]) == {"shape": [1, 8, 8], "dtype": "float32"}
    assert spec("char-lstm", SMALL["char-lstm"]) is None
    assert set(list_models()) == set(SMALL)


def test_writing_is_atomic_and_replaces_only_model_directories(tmp_path, monkeypatch):
    target = tmp_path / "m" / "1"
    first = create_model("mlp", **SMALL["mlp"])
    save_model(first, target)
    second = create_model("mlp", **SMALL["mlp"])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(md.io, "write_checkpoint", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(second, target)
    monkeypatch.undo()
    # the old directory is intact and no temporary is left behind
    assert sorted(p.name for p in target.parent.iterdir()) == ["1"]
    np.testing.assert_array_equal(load_model(target)[1].weight.numpy(),
                                  first[1].weight.numpy())
    save_model(second, target)  # a complete new one replaces it
    np.testing.assert_array_equal(load_model(target)[1].weight.numpy(),
                                  second[1].weight.numpy())
    assert sorted(p.name for p in target.parent.iterdir()) == ["1"]
    other = tmp_path / "data"
    other.mkdir()
    (other / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not a model directory"):
        save_model(second, other)
    assert (other / "keep.txt").read_text() == "user data"


def test_loading_what_is_not_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.json"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "chainrule-model"}))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path)  # no weights
    with pytest.raises(ValueError, match="no optimizer state"):
        save_model(create_model("mlp", **SMALL["mlp"]), tmp_path / "x", optimizer=object())


def test_cli_save_model_converts_a_checkpoint(tmp_path, capsys):
    model = create_model("mlp", **SMALL["mlp"])
    save_model(model, tmp_path / "ckpt.npz", epoch=4)
    assert main(["save-model", str(tmp_path / "ckpt.npz"), str(tmp_path / "out" / "1")]) == 0
    assert "wrote" in capsys.readouterr().out
    x = np.ones((3, 8, 8), np.float32)
    np.testing.assert_array_equal(load_model(tmp_path / "out" / "1")(x).numpy(),
                                  model.eval()(x).numpy())
    assert json.loads((tmp_path / "out" / "1" / "model.json").read_text())["metadata"] == {
        "epoch": 4}
    assert main(["save-model", str(tmp_path / "missing.npz"), str(tmp_path / "o2")]) == 2
    assert main(["save-model", str(tmp_path / "ckpt.npz"), str(tmp_path / "o.npz")]) == 2
