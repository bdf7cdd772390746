"""``chainrule train`` through argparse: the happy paths and every bad input."""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule import data as cr_data
from chainrule.cli import datasets
from chainrule.cli import train as cli_train
from chainrule.cli.train import add_train_parser, run_train
from chainrule.data import ENV_VAR
from chainrule.models import build_model
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


def test_parser_wiring() -> None:
    args = parse()
    assert args.command == "train" and args.func is run_train
    assert (args.model, args.dataset, args.optimizer, args.seed) == ("mlp", "digits", "adam", 0)


def test_digits_happy_path(tmp_path, capsys) -> None:
    out_dir = tmp_path / "run"
    code = run_train(parse("--epochs", "4", "--batch-size", "64", "--out", str(out_dir)))
    out = capsys.readouterr().out
    assert code == 0
    assert len(re.findall(r"^Epoch \d/4 - ", out, re.MULTILINE)) == 4
    assert accuracy_line(out, "validation") > 0.85
    test_acc = accuracy_line(out, "test")
    assert test_acc > 0.85
    plot = "curves.png" if "curves.png" in out else "curves.svg"
    for name in ("model.npz", "history.csv", plot):
        assert (out_dir / name).stat().st_size > 0, name
    with open(out_dir / "history.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4

    # the checkpoint rebuilds the model and reproduces the printed test accuracy
    model = build_model("mlp", (64,), 10)
    saved = load_checkpoint(out_dir / "model.npz", model)
    assert saved["config"]["input_shape"] == [64] and saved["results"]["test_accuracy"] == \
        pytest.approx(test_acc, abs=5e-5)


def test_quiet_and_sgd_without_validation(tmp_path, capsys) -> None:
    code = run_train(parse("--epochs", "2", "--optimizer", "sgd", "--lr", "0.05", "--quiet",
                           "--val-fraction", "0", "--out", str(tmp_path)))
    out = capsys.readouterr().out
    assert code == 0 and "Epoch" not in out
    assert "validation accuracy: n/a" in out and accuracy_line(out, "test") > 0.8


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_compile_trains_the_same_model(model, tmp_path, capsys) -> None:
    """--compile (issue 16): the same test accuracy as the eager run, for mlp and cnn."""
    accuracies = []
    for flags in ((), ("--compile",)):
        code = run_train(parse("--model", model, "--epochs", "1", "--steps", "8", "--quiet",
                               "--out", str(tmp_path / f"{model}{len(flags)}"), *flags))
        assert code == 0
        accuracies.append(accuracy_line(capsys.readouterr().out, "test"))
    assert accuracies[1] == pytest.approx(accuracies[0], abs=0.01)


def test_default_run_is_written_under_runs(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "DIGITS_TEST_FRACTION", 0.5)  # keep this test quick
    assert run_train(parse("--epochs", "1", "--quiet")) == 0
    assert (tmp_path / "runs" / "mlp-digits" / "model.npz").is_file()


@pytest.mark.parametrize("loader_name, dataset", [("load_mnist", "mnist"),
                                                  ("load_fashion_mnist", "fashion-mnist")])
def test_mnist_family_from_the_data_dir(tmp_path, monkeypatch, capsys, loader_name,
                                        dataset) -> None:
    if not (SHARED / dataset / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"no {dataset} files in {SHARED}")
    real = getattr(cr_data, loader_name)

    def small(*args, **kwargs):  # the real files, cut down to keep the test fast
        (x, y), (xt, yt) = real(*args, **kwargs)
        return (x[:2000], y[:2000]), (xt[:500], yt[:500])

    monkeypatch.setattr(datasets, loader_name, small)
    monkeypatch.setenv(ENV_VAR, str(SHARED))  # found through the environment variable
    code = run_train(parse("--dataset", dataset, "--epochs", "1", "--batch-size", "100",
                           "--quiet", "--out", str(tmp_path)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "train/val/test 1800/200/500" in out and accuracy_line(out, "test") > 0.5
    saved = load_checkpoint(tmp_path / "model.npz", build_model("mlp", (28, 28), 10))
    assert saved["config"]["dataset"] == dataset


def _bad_data_dir(tmp_path: Path) -> list[str]:
    bad = tmp_path / "bad" / "mnist"
    bad.mkdir(parents=True)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"not really gzip")
    return ["--dataset", "mnist", "--data-dir", str(tmp_path / "bad")]


BAD_INPUTS = {
    "unknown model": (["--model", "resnet"], "unknown model 'resnet'; known: cnn, mlp"),
    "unknown dataset": (["--dataset", "cifar"], "unknown dataset 'cifar'"),
    "unknown optimizer": (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    "zero epochs": (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    "negative epochs": (["--epochs", "-3"], "--epochs must be a positive integer"),
    "zero lr": (["--lr", "0"], "--lr must be a positive number, got 0.0"),
    "negative lr": (["--lr", "-0.1"], "--lr must be a positive number"),
    "nan lr": (["--lr", "nan"], "--lr must be a positive number"),
    "zero batch": (["--batch-size", "0"], "--batch-size must be a positive integer"),
    "bad val fraction": (["--val-fraction", "1.5"], "--val-fraction must be in [0, 1)"),
    "missing data dir": (["--dataset", "mnist", "--data-dir", "{tmp}/nowhere"],
                         "--data-dir {tmp}/nowhere does not exist"),
    "empty data dir": (["--dataset", "fashion-mnist", "--data-dir", "{tmp}"],
                       "fashion-mnist data not found in {tmp}"),
    "corrupt data file": (None, "MD5"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_exit_code_2(case, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written into the working directory
    argv, expected = BAD_INPUTS[case]
    argv = _bad_data_dir(tmp_path) if argv is None else \
        [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert run_train(parse(*argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("chainrule train: error: ")
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "runs").exists()


def test_missing_default_data_dir_from_the_environment(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "absent"))
    assert run_train(parse("--dataset", "mnist", "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"({tmp_path / 'absent'}) does not exist" in err
    assert ENV_VAR in err


def test_data_is_split_the_same_way_whatever_the_seed() -> None:
    a = cli_train._load(parse("--seed", "1"))
    b = cli_train._load(parse("--seed", "2"))
    assert np.array_equal(a.test[0], b.test[0]) and np.array_equal(a.val[1], b.val[1])
    assert abs(float(a.train[0].mean())) < 1e-4 and a.train[0].dtype == np.float32
