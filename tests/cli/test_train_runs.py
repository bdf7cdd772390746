"""``chainrule train`` never overwrites or loses a run (issue 14 items 2, 3, 5, 7, 8, 14, 16):
numbered run folders, --out/--overwrite, the output checked before training and a spare
location when saving fails, one line on divergence, a closed stdout pipe, --steps/--minutes
for every model, the GAN's optimizer flags, and char-lstm's checks and files."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import _charlm, datasets
from chainrule.cli import train as cli_train
from chainrule.cli.train import add_train_parser, run_train
from chainrule.train import read_training_checkpoint

QUICK = ("--epochs", "1", "--steps", "3", "--quiet")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("chainrule train: "), err
    return lines[0]


@pytest.fixture
def small_digits(monkeypatch):
    monkeypatch.setattr(datasets, "DIGITS_TEST_FRACTION", 0.5)  # keep the runs quick


# --------------------------------------------------------------------------- item 2


def test_a_second_default_run_gets_a_numbered_folder(tmp_path, monkeypatch, capsys,
                                                     small_digits) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_train(parse(*QUICK)) == 0
    first = tmp_path / "runs" / "mlp-digits"
    before = (first / "model.npz").read_bytes()
    capsys.readouterr()
    assert run_train(parse(*QUICK, "--lr", "0.5")) == 0
    out = capsys.readouterr().out
    assert "runs/mlp-digits holds an earlier run; this one writes to runs/mlp-digits-2" in out
    assert (first / "model.npz").read_bytes() == before  # the first run is untouched
    second = tmp_path / "runs" / "mlp-digits-2"
    assert json.loads((second / "args.json").read_text())["lr"] == 0.5
    assert json.loads((first / "args.json").read_text())["lr"] is None
    assert run_train(parse(*QUICK)) == 0
    assert (tmp_path / "runs" / "mlp-digits-3" / "model.npz").is_file()


def test_an_out_folder_holding_a_run_is_refused_without_overwrite(tmp_path, capsys,
                                                                  small_digits) -> None:
    out = tmp_path / "run"
    assert run_train(parse(*QUICK, "--out", str(out))) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert run_train(parse(*QUICK, "--lr", "0.5", "--out", str(out))) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert f"--out {out} already holds a run" in line and "--overwrite" in line
    assert "--resume" in line and captured.out == ""
    assert (out / "model.npz").read_bytes() == before

    (out / "codings.png").write_bytes(b"a picture of the old run")
    (out / "samples").mkdir()
    (out / "samples" / "epoch_001.png").write_bytes(b"a grid of the old run")
    (out / "samples" / "notes.txt").write_text("mine")
    assert run_train(parse(*QUICK, "--lr", "0.5", "--out", str(out), "--overwrite")) == 0
    assert json.loads((out / "args.json").read_text())["lr"] == 0.5
    assert not (out / "codings.png").exists()  # nothing of the old run is left beside it
    assert not (out / "samples" / "epoch_001.png").exists()
    assert (out / "samples" / "notes.txt").read_text() == "mine"  # but what is not a run's


def test_a_folder_without_a_run_is_used_and_its_files_are_left_alone(tmp_path, capsys,
                                                                    small_digits) -> None:
    mine = [tmp_path / "notes.txt", tmp_path / "codings.png", tmp_path / "samples" / "a.png"]
    (tmp_path / "samples").mkdir()
    for path in mine:
        path.write_text("mine")
    assert run_train(parse(*QUICK, "--out", str(tmp_path))) == 0
    assert (tmp_path / "model.npz").is_file()
    assert all(path.read_text() == "mine" for path in mine)


# --------------------------------------------------------------------------- item 3


def test_an_output_folder_below_a_file_is_refused_before_training(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    assert run_train(parse(*QUICK, "--out", str(tmp_path / "file" / "run"))) == 2
    captured = capsys.readouterr()
    assert "cannot be made: " in one_error_line(captured.err) and captured.out == ""


def test_model_npz_that_is_a_folder_is_refused_before_training(tmp_path, capsys) -> None:
    (tmp_path / "model.npz").mkdir()
    assert run_train(parse(*QUICK, "--out", str(tmp_path))) == 2
    captured = capsys.readouterr()
    assert f"cannot write {tmp_path / 'model.npz'}: it is a folder" in \
        one_error_line(captured.err)
    assert captured.out == "" and not (tmp_path / "args.json").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write anywhere")
def test_a_folder_without_write_permission_is_refused_before_training(tmp_path,
                                                                      capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert run_train(parse(*QUICK, "--out", str(locked / "run"))) == 2
    finally:
        locked.chmod(0o700)
    assert "is not writable" in one_error_line(capsys.readouterr().err)


def test_a_save_that_fails_at_the_end_goes_to_a_temporary_folder(tmp_path, monkeypatch,
                                                                 capsys, small_digits) -> None:
    out = tmp_path / "run"

    class Sabotaged(cli_train.Trainer):
        def fit(self, *args, **kwargs):
            history = super().fit(*args, **kwargs)
            (out / "model.npz").mkdir()  # the target became unwritable during training
            return history

    monkeypatch.setattr(cli_train, "Trainer", Sabotaged)
    assert run_train(parse(*QUICK, "--out", str(out))) == 1
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    spare = Path(line.split("saved it to ")[1].split(" instead")[0])
    assert f"could not write {out / 'model.npz'}" in line and spare.is_file()
    assert set(io.load(spare)["model"]) == set(io.load(out / "checkpoint.npz")["model"])


# --------------------------------------------------------------------------- item 5


def test_a_learning_rate_that_blows_up_adam_exits_1_with_one_line(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert run_train(parse("--lr", "1e10", "--epochs", "2", "--out", str(out))) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "training diverged" in line and "batch" in line and "try a lower --lr" in line
    assert not out.exists()  # stopped before its first checkpoint: nothing misleading left


def test_nan_in_the_data_stops_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch,
                                                                    capsys) -> None:
    real = cli_train._load

    def with_a_nan(args):
        data = real(args)
        data.train[0][7, 3] = np.nan
        return data

    monkeypatch.setattr(cli_train, "_load", with_a_nan)
    out = tmp_path / "run"
    code = run_train(parse("--epochs", "3", "--quiet", "--checkpoint-steps", "1",
                           "--out", str(out)))
    line = one_error_line(capsys.readouterr().err)
    assert code == 1 and "loss is nan" in line and f"checkpoint is kept in {out}" in line
    kept = read_training_checkpoint(out)
    assert all(np.isfinite(v).all() for v in kept["model"].values())
    assert not (out / "model.npz").exists()


# --------------------------------------------------------------------------- item 7


def test_a_closed_stdout_pipe_does_not_stop_training(tmp_path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "train", "--epochs", "3", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `chainrule train | head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert first.startswith("chainrule train: mlp on digits")
    assert "Traceback" not in err and "BrokenPipe" not in err
    with open(out / "history.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3
    assert (out / "model.npz").is_file()


# --------------------------------------------------------------------------- item 8


@pytest.mark.parametrize("model", ["mlp", "cnn", "vae", "gan"])
def test_steps_ends_every_model_after_that_many_steps(model, tmp_path, capsys) -> None:
    if model in ("vae", "gan"):
        pytest.importorskip("matplotlib")
    extra = ["--latent-size", "2"] if model == "vae" else []  # 2-D codings: no t-SNE
    code = run_train(parse("--model", model, "--epochs", "50", "--steps", "4", "--quiet",
                           *extra, "--out", str(tmp_path)))
    assert code == 0, capsys.readouterr().err
    assert read_training_checkpoint(tmp_path)["training"]["trainer"]["global_step"] == 4
    assert (tmp_path / "model.npz").is_file()


def test_minutes_bounds_a_run(tmp_path, capsys) -> None:
    assert run_train(parse("--epochs", "10000", "--minutes", "0.002", "--quiet",
                           "--out", str(tmp_path))) == 0
    steps = read_training_checkpoint(tmp_path)["training"]["trainer"]["global_step"]
    assert 0 < steps < 10000 * 41


@pytest.mark.parametrize("flag", ["--steps", "--minutes", "--checkpoint-steps"])
def test_a_budget_must_be_positive(flag, tmp_path, capsys) -> None:
    assert run_train(parse(flag, "0", "--out", str(tmp_path / "run"))) == 2
    assert f"{flag} must be a positive" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- item 14


def test_gan_honours_optimizer_lr_and_momentum(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    from chainrule.cli._generative import load_generative

    out = tmp_path / "sgd"
    assert run_train(parse("--model", "gan", "--optimizer", "sgd", "--lr", "0.01",
                           "--momentum", "0.5", *QUICK, "--out", str(out))) == 0
    state = io.load(out / "model.npz")["model"]
    for name in ("g_optimizer", "d_optimizer"):
        group = state[name]["param_groups"][0]
        assert group["lr"] == 0.01 and group["momentum"] == 0.5 and "betas" not in group
    gan, _ = load_generative(out / "model.npz")  # `chainrule generate` rebuilds it as saved
    assert type(gan.g_optimizer).__name__ == "SGD"

    out = tmp_path / "default"
    assert run_train(parse("--model", "gan", *QUICK, "--out", str(out))) == 0
    group = io.load(out / "model.npz")["model"]["g_optimizer"]["param_groups"][0]
    assert group["lr"] == 2e-4 and tuple(group["betas"]) == (0.5, 0.999)  # the book's Adam
    assert run_train(parse("--model", "gan", *QUICK, "--lr", "0.003", "--out",
                           str(tmp_path / "adam"))) == 0
    group = io.load(tmp_path / "adam" / "model.npz")["model"]["d_optimizer"]["param_groups"][0]
    assert group["lr"] == 0.003 and tuple(group["betas"]) == (0.5, 0.999)
    train_parser = add_train_parser(argparse.ArgumentParser().add_subparsers())
    assert "the book's Adam, lr 2e-4 and betas (0.5, 0.999)" in \
        " ".join(train_parser.format_help().split())  # --help says what the defaults are


# --------------------------------------------------------------------------- item 16

#: A text long enough for batches of 4 windows of 100 characters (7 steps per epoch).
TINY_TEXT = ("To be, or not to be, that is the question:\n"
             "Whether 'tis nobler in the mind to suffer\n") * 40


@pytest.fixture
def tiny_text(monkeypatch):
    monkeypatch.setattr(_charlm, "_corpus", lambda args: TINY_TEXT)


def charlm_args(*argv: str) -> argparse.Namespace:
    args = parse("--model", "char-lstm", "--dataset", "shakespeare", "--batch-size", "4",
                 *argv)
    args.hidden = 16  # a small LSTM keeps the test fast
    return args


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
    (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--optimizer", "sgd"], "trains with Adam"),
    (["--momentum", "0.5"], "trains with Adam"),
])
def test_char_lstm_rejects_what_it_cannot_do(argv, message, tmp_path, capsys,
                                             tiny_text) -> None:
    args = charlm_args("--steps", "2", *argv, "--out", str(tmp_path / "run"))
    assert run_train(args) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_char_lstm_writes_history_and_curves(tmp_path, capsys, tiny_text) -> None:
    assert run_train(charlm_args("--steps", "3", "--quiet", "--out", str(tmp_path))) == 0
    out = capsys.readouterr().out
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["step"]) for r in rows] == [3.0] and float(rows[0]["val_loss"]) > 0
    curves = [p for p in ("curves.png", "curves.svg") if (tmp_path / p).is_file()]
    assert curves and curves[0] in out and (tmp_path / "model.npz").is_file()


def test_char_lstm_honours_epochs(tmp_path, capsys, tiny_text) -> None:
    assert run_train(charlm_args("--epochs", "1", "--quiet", "--out", str(tmp_path))) == 0
    loop = read_training_checkpoint(tmp_path)["training"]["loop"]
    assert (loop["epoch"], loop["batch"]) == (1, 0)  # one whole pass, not 20 minutes
