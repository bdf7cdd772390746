"""The "cnn" model of the factory and ``chainrule train --model cnn``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule import data as cr_data
from chainrule.autograd.ops import ShapeError
from chainrule.cli import datasets
from chainrule.cli.train import add_train_parser, run_train
from chainrule.models import MODELS, Reshape, build_model, image_shape
from chainrule.random import manual_seed
from chainrule.train import load_checkpoint

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def accuracy_line(out: str, which: str) -> float:
    match = re.search(rf"^{which} accuracy: (\d+\.\d\d) %", out, re.MULTILINE)
    assert match, out
    return float(match.group(1)) / 100


# --------------------------------------------------------------------------- the model


def test_cnn_is_registered_and_lenet_shaped() -> None:
    assert "cnn" in MODELS
    model = build_model("cnn", (28, 28), 10)
    info = model.summary((28, 28), print_fn=None)
    kinds = [r.kind for r in info.rows]
    assert kinds == ["Reshape", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                     "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    shapes = {r.kind + str(i): r.output_shape[1:] for i, r in enumerate(info.rows)}
    assert shapes["Conv2d1"] == (32, 28, 28) and shapes["MaxPool2d6"] == (64, 7, 7)
    # 1*9*32+32 + 32*9*64+64 + 3136*128+128 + 128*10+10
    assert info.total_params == 320 + 18_496 + 401_536 + 1_290 == 421_642


@pytest.mark.parametrize("input_shape, expected", [((28, 28), (1, 28, 28)),
                                                   ((784,), (1, 28, 28)), (784, (1, 28, 28)),
                                                   ((1, 28, 28), (1, 28, 28)),
                                                   ((64,), (1, 8, 8)), ((3, 32, 32), (3, 32, 32))])
def test_image_shape(input_shape, expected) -> None:
    assert image_shape(input_shape) == expected


def test_flat_grey_and_channel_inputs_give_the_same_network() -> None:
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    outs = []
    for shape, batch in (((28, 28), x), ((784,), x.reshape(3, 784)),
                         ((1, 28, 28), x.reshape(3, 1, 28, 28))):
        manual_seed(0)
        model = build_model("cnn", shape, 10).eval()
        outs.append(model(batch).data)
        assert outs[-1].shape == (3, 10) and outs[-1].dtype == np.float32
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], outs[2], rtol=1e-6)
    no_reshape = build_model("cnn", (1, 28, 28), 10)
    assert not isinstance(no_reshape[0], Reshape)


def test_cnn_fits_the_8x8_digits_and_colour_images() -> None:
    digits = build_model("cnn", (64,), 10)
    assert digits(np.zeros((2, 64), np.float32)).shape == (2, 10)
    assert digits.summary((64,), print_fn=None).rows[6].output_shape == (1, 64, 2, 2)
    colour = build_model("cnn", (3, 32, 32), 5, channels=(8,), hidden=16, dropout=0.0)
    assert colour(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 5)


@pytest.mark.parametrize("shape, kw, message", [
    ((60,), {}, "cannot read a flat input of 60 features as a square image"),
    ((3, 3), {}, "input images of 3×3 are too small for 2 max-poolings of 2×2 (need at "
                 "least 4×4)"),
    ((1, 2, 3, 4), {}, "expected input_shape (H, W), (C, H, W)"),
    ((28, 28), {"kernel_size": 4}, "kernel_size must be odd"),
    ((28, 28), {"dropout": 1.0}, "dropout must be in [0, 1)"),
    ((28, 28), {"channels": ()}, "at least one convolution layer"),
    ((28, 28), {"channels": (8, 0)}, "channels[1] must be a positive integer"),
])
def test_bad_shapes_and_settings_are_named(shape, kw, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_model("cnn", shape, 10, **kw)


def test_wrong_input_size_names_the_reshape_layer() -> None:
    model = build_model("cnn", (28, 28), 10)
    with pytest.raises(ShapeError, match=r"Reshape\(shape=\(1, 28, 28\)\).*784.*\(2, 64\)"):
        model(np.zeros((2, 64), np.float32))


# --------------------------------------------------------------------------- the command


def test_cnn_trains_on_the_digits_from_the_command_line(tmp_path, capsys) -> None:
    out_dir = tmp_path / "run"
    code = run_train(parse("--model", "cnn", "--epochs", "3", "--batch-size", "32", "--quiet",
                           "--out", str(out_dir)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("chainrule train: cnn on digits")
    test_acc = accuracy_line(out, "test")
    assert test_acc > 0.9
    # the checkpoint rebuilds the model from its recorded input shape
    saved = load_checkpoint(out_dir / "model.npz", build_model("cnn", (64,), 10))
    assert saved["config"]["model"] == "cnn" and saved["config"]["input_shape"] == [64]
    assert saved["results"]["test_accuracy"] == pytest.approx(test_acc, abs=5e-5)


def test_cnn_on_a_small_part_of_mnist(tmp_path, monkeypatch, capsys) -> None:
    if not (SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"no MNIST files in {SHARED}")

    def small(*args, **kwargs):  # the real files, cut down to keep the test fast
        (x, y), (xt, yt) = cr_data.load_mnist(*args, **kwargs)
        return (x[:1000], y[:1000]), (xt[:300], yt[:300])

    monkeypatch.setattr(datasets, "load_mnist", small)
    code = run_train(parse("--model", "cnn", "--dataset", "mnist", "--data-dir", str(SHARED),
                           "--epochs", "1", "--batch-size", "50", "--quiet",
                           "--out", str(tmp_path)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "train/val/test 900/100/300" in out and accuracy_line(out, "test") > 0.6
    saved = load_checkpoint(tmp_path / "model.npz", build_model("cnn", (28, 28), 10))
    assert saved["config"]["input_shape"] == [28, 28]


def test_a_model_that_does_not_fit_the_data_is_a_usage_error(tmp_path, monkeypatch,
                                                              capsys) -> None:
    def tiny_images(args):  # a dataset of 3x3 images: too small for two poolings
        rng = np.random.default_rng(0)
        x, y = rng.random((40, 3, 3), dtype=np.float32), np.arange(40) % 2
        return (x[:30], y[:30]), None, (x[30:], y[30:])

    monkeypatch.setitem(datasets.DATASETS, "tiny", tiny_images)
    monkeypatch.chdir(tmp_path)
    code = run_train(parse("--model", "cnn", "--dataset", "tiny", "--epochs", "1"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("chainrule train: error: model 'cnn' does "
                                                   "not fit tiny (inputs of shape (3, 3)): ")
    assert "too small" in err and not (tmp_path / "runs").exists()
