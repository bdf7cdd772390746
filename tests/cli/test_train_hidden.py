"""``chainrule train --model mlp --hidden ...``: the networks of Hands-On ML ch. 10-11 (issue 20).

The Fashion-MNIST loader is replaced by random images of the same shape, so these tests
need no data files and run in about a second.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from chainrule import nn
from chainrule.cli import datasets
from chainrule.cli._mlp_args import model_kwargs, parse_hidden
from chainrule.cli.train import add_train_parser, run_train
from chainrule.models import build_model, load_model
from chainrule.random import manual_seed


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


@pytest.fixture
def fake_fashion(monkeypatch, tmp_path):
    """--dataset fashion-mnist reads 200 + 50 random 28x28 images; returns the base args."""

    def load(*args, **kwargs):
        rng = np.random.default_rng(0)
        x = rng.random((250, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, 250).astype(np.int64)
        return (x[:200], y[:200]), (x[200:], y[200:])

    monkeypatch.setattr(datasets, "load_fashion_mnist", load)
    (tmp_path / "data").mkdir()
    return ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
            "--batch-size", "32", "--steps", "3", "--optimizer", "sgd", "--lr", "0.01",
            "--momentum", "0", "--quiet"]


def dense_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(m.weight.shape) for m in model.modules() if isinstance(m, nn.Dense)]


def test_hidden_300_100_builds_and_trains_the_books_baseline(fake_fashion, tmp_path,
                                                              capsys) -> None:
    out = tmp_path / "run"
    code = run_train(parse(*fake_fashion, "--hidden", "300,100", "--dropout", "0",
                           "--out", str(out)))
    assert code == 0, capsys.readouterr()
    model = load_model(out / "model.npz")  # rebuilt from the saved architecture
    assert model.num_parameters() == 266_610
    assert dense_shapes(model) == [(300, 784), (100, 300), (10, 100)]
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    manual_seed(0)  # the untrained network of the same seed: training moved the weights
    fresh = build_model("mlp", (28, 28), 10, hidden=(300, 100), dropout=0)
    assert not np.allclose(model.state_dict()["1.weight"], fresh.state_dict()["1.weight"])
    assert "train/val/test 180/20/50" in capsys.readouterr().out


def test_batch_norm_model_has_the_books_parameter_counts(fake_fashion, tmp_path) -> None:
    out = tmp_path / "run"
    assert run_train(parse(*fake_fashion, "--hidden", "300,100", "--dropout", "0",
                           "--batch-norm", "--init", "he_normal", "--out", str(out))) == 0
    model = load_model(out / "model.npz")
    buffers = sum(b.size for name, b in model.named_buffers() if "running" in name)
    assert model.num_parameters() + buffers == 271_346  # the book's summary: 271,346
    assert buffers == 2_368                            # of which non-trainable: 2,368
    assert [m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm1d)] == \
        [784, 300, 100]


def test_selu_100_layers_with_lecun_init() -> None:
    args = parse("--hidden", "100x100", "--activation", "selu", "--init", "lecun_normal",
                 "--dropout", "0")
    kwargs = model_kwargs(args)
    assert kwargs == {"hidden": (100,) * 100, "activation": "selu", "dropout": 0.0,
                      "init": "lecun_normal"}
    manual_seed(0)
    model = build_model("mlp", (28, 28), 10, **kwargs)
    assert sum(isinstance(m, nn.SELU) for m in model.modules()) == 100
    std = float(np.std(model.state_dict()["3.weight"]))  # LeCun normal: 1 / sqrt(fan_in)
    assert abs(std - 0.1) < 0.01


def test_no_flag_keeps_the_default_mlp() -> None:
    assert model_kwargs(parse()) == {}
    assert parse_hidden("300, 100x2") == (300, 100, 100)


@pytest.mark.parametrize("flags, message", [
    (["--hidden", "300,abc"], "--hidden '300,abc': expected positive sizes"),
    (["--hidden", "0"], "expected positive sizes"),
    (["--hidden", "10x0"], "expected positive sizes"),
    (["--activation", "swoosh"], "unknown activation 'swoosh'"),
    (["--init", "nope"], "unknown initializer 'nope'"),
    (["--dropout", "1.5"], "dropout must be in [0, 1)"),
    (["--model", "cnn", "--hidden", "64"], "--hidden: for --model mlp or char-lstm, not 'cnn'"),
    (["--model", "vae", "--dropout", "0.1"], "--dropout: for --model mlp only, not 'vae'"),
    (["--model", "dqn", "--hidden", "32"], "--hidden: for --model mlp or char-lstm, not 'dqn'"),
    (["--model", "gpt", "--activation", "selu", "--batch-norm"],
     "--activation, --batch-norm: for --model mlp only, not 'gpt'"),
    (["--model", "char-lstm", "--dropout", "0.3"], "--dropout: for --model mlp only"),
])
def test_bad_flags_are_one_line_and_exit_2(flags, message, fake_fashion, tmp_path,
                                           capsys) -> None:
    code = run_train(parse(*fake_fashion, *flags, "--out", str(tmp_path / "run")))
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


TINY_TEXT = "To be, or not to be, that is the question:\n" * 60


@pytest.fixture
def tiny_text(monkeypatch):
    from chainrule.cli import _charlm

    monkeypatch.setattr(_charlm, "_corpus", lambda args: TINY_TEXT)
    return ["--dataset", "shakespeare", "--batch-size", "4", "--steps", "2", "--quiet"]


def test_hidden_sets_the_char_lstm_size(tiny_text, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = run_train(parse("--model", "char-lstm", *tiny_text, "--hidden", "16",
                           "--out", str(out)))
    assert code == 0, capsys.readouterr()
    model = load_model(out / "model.npz")
    assert model.hidden == 16


@pytest.mark.parametrize("model, hidden, message", [
    ("char-lstm", "16,16", "char-lstm takes one positive size"),
    ("gpt", "16", "--hidden: for --model mlp or char-lstm, not 'gpt'"),
])
def test_hidden_that_a_char_model_cannot_take(model, hidden, message, tiny_text, tmp_path,
                                              capsys) -> None:
    code = run_train(parse("--model", model, *tiny_text, "--hidden", hidden,
                           "--out", str(tmp_path / "run")))
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "run").exists()
