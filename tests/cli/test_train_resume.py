"""``chainrule train --resume`` (issue 14 item 1): an interrupted run saves a checkpoint,
exits 130 saying how to resume, and a resumed run ends bit-identical to an uninterrupted
one with the same seed (``mlp`` on digits, ``char-lstm`` on a tiny text)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import _charlm, datasets
from chainrule.cli.train import add_train_parser, run_train
from chainrule.train import TBPTTTrainer, Trainer

TEXT = ("To be, or not to be, that is the question:\n"
        "Whether 'tis nobler in the mind to suffer\n") * 40


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def interrupt_at(monkeypatch, cls: type, step: int) -> None:
    """Send this process SIGINT (Ctrl-C) during the ``step``-th training step."""
    original = cls.train_step
    calls = [0]

    def train_step(self, batch):
        calls[0] += 1
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch)

    monkeypatch.setattr(cls, "train_step", train_step)


def assert_same_arrays(a, b, where="") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_same_arrays(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_arrays(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    else:
        assert a == b, where


def history_without_time(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


@pytest.fixture
def small_digits(monkeypatch):
    monkeypatch.setattr(datasets, "DIGITS_TEST_FRACTION", 0.5)


def test_mlp_interrupted_and_resumed_ends_bit_identical(tmp_path, monkeypatch, capsys,
                                                        small_digits) -> None:
    flags = ("--epochs", "3", "--quiet", "--seed", "3")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_train(parse(*flags, "--out", str(whole))) == 0

    with monkeypatch.context() as m:
        interrupt_at(m, Trainer, 40)  # mid-epoch 2 (26 batches of 32 per epoch)
        assert run_train(parse(*flags, "--out", str(parts))) == 130
    err = capsys.readouterr().err
    assert f"resume with: chainrule train --resume {parts}" in err.splitlines()[-1]
    assert not (parts / "model.npz").exists() and (parts / "checkpoint.npz").is_file()

    assert run_train(parse("--resume", str(parts))) == 0  # the saved arguments
    out = capsys.readouterr().out
    assert f"resuming {parts} from epoch 2, after batch " in out and "(step 40)" in out
    assert_same_arrays(io.load(whole / "model.npz")["model"],
                       io.load(parts / "model.npz")["model"])
    assert_same_arrays(io.load(whole / "model.npz")["optimizer"],
                       io.load(parts / "model.npz")["optimizer"])
    assert history_without_time(whole / "history.csv") == \
        history_without_time(parts / "history.csv")


def test_char_lstm_interrupted_and_resumed_ends_bit_identical(tmp_path, monkeypatch,
                                                              capsys) -> None:
    monkeypatch.setattr(_charlm, "_corpus", lambda args: TEXT)

    def args(*argv: str) -> argparse.Namespace:
        ns = parse(*argv)
        ns.hidden = 16  # a small LSTM keeps the test fast
        return ns

    flags = ("--model", "char-lstm", "--dataset", "shakespeare", "--batch-size", "4",
             "--steps", "10", "--quiet")  # 7 steps per epoch: the run crosses an epoch
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_train(args(*flags, "--out", str(whole))) == 0
    with monkeypatch.context() as m:
        interrupt_at(m, TBPTTTrainer, 4)
        assert run_train(args(*flags, "--out", str(parts))) == 130
    assert "resume with: chainrule train --resume" in capsys.readouterr().err
    assert run_train(args("--resume", str(parts))) == 0
    assert_same_arrays(io.load(whole / "model.npz")["model"],
                       io.load(parts / "model.npz")["model"])
    assert (parts / "history.csv").read_text() == (whole / "history.csv").read_text()


def test_bare_resume_continues_the_newest_default_run(tmp_path, monkeypatch, capsys,
                                                      small_digits) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_train(parse("--epochs", "1", "--quiet")) == 0
    assert run_train(parse("--epochs", "1", "--quiet", "--lr", "0.01")) == 0
    capsys.readouterr()
    assert run_train(parse("--resume", "--epochs", "2")) == 0  # --epochs may grow
    out = capsys.readouterr().out
    assert "resuming runs/mlp-digits-2 from epoch 2" in out
    saved = json.loads((tmp_path / "runs" / "mlp-digits-2" / "args.json").read_text())
    assert saved["lr"] == 0.01
    rows = history_without_time(tmp_path / "runs" / "mlp-digits-2" / "history.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["lr"] == "0.01"


@pytest.mark.parametrize("argv, message", [
    (["--resume", "{tmp}/nothing"], "not a run folder of chainrule train (no args.json)"),
    (["--resume"], "no run of mlp on digits under runs/"),
    (["--resume", "{run}", "--lr", "0.5"], "--lr 0.5 differs from the run's default"),
    (["--resume", "{run}", "--seed", "4"], "--seed 4 differs from the run's 0"),
    (["--resume", "{run}", "--out", "{tmp}/x"], "leave out --out"),
])
def test_resume_refuses_what_it_cannot_continue(argv, message, tmp_path, monkeypatch,
                                                capsys, small_digits) -> None:
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert run_train(parse("--epochs", "1", "--quiet", "--out", str(run))) == 0
    capsys.readouterr()
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(run)) for a in argv]
    assert run_train(parse(*argv)) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err


def test_a_run_without_a_checkpoint_cannot_be_resumed(tmp_path, capsys) -> None:
    (tmp_path / "args.json").write_text("{}")
    assert run_train(parse("--resume", str(tmp_path))) == 2
    assert "no checkpoint.npz" in capsys.readouterr().err


@pytest.mark.parametrize("signum, name, status", [(signal.SIGINT, "Ctrl-C", 130),
                                                   (signal.SIGTERM, "SIGTERM", 143)])
def test_a_signal_to_the_command_saves_and_says_how_to_resume(signum, name, status,
                                                               tmp_path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "train", "--epochs", "10000", "--quiet",
         "--checkpoint-steps", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert err.splitlines()[-1].startswith(
        f"chainrule train: interrupted ({name}); checkpoint saved in {out}/ at epoch ")
    assert err.rstrip().endswith(f"resume with: chainrule train --resume {out}")
    assert "Traceback" not in err and not (out / "model.npz").exists()


def test_gan_with_sgd_interrupted_and_resumed_ends_bit_identical(tmp_path, monkeypatch,
                                                                 capsys) -> None:
    pytest.importorskip("matplotlib")
    from chainrule.models.gan import GAN

    flags = ("--model", "gan", "--optimizer", "sgd", "--lr", "0.01", "--batch-size", "256",
             "--epochs", "2", "--quiet")  # 5 steps per epoch: interrupted in the second
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_train(parse(*flags, "--out", str(whole))) == 0
    with monkeypatch.context() as m:
        interrupt_at(m, GAN, 7)
        assert run_train(parse(*flags, "--out", str(parts))) == 130
    assert "resume with: chainrule train --resume" in capsys.readouterr().err
    assert run_train(parse("--resume", str(parts))) == 0
    assert_same_arrays(io.load(whole / "model.npz")["model"],
                       io.load(parts / "model.npz")["model"])  # both networks and optimizers


def test_gpt_trains_resumes_bit_identically_and_generates(tmp_path, monkeypatch,
                                                          capsys) -> None:
    """``--model gpt`` (issue 15) goes through the same run folders, checkpoints and
    ``--resume`` as the other models, and ``chainrule generate --top-k`` samples from it."""
    import functools

    from chainrule.cli.generate import add_generate_parser, run_generate
    from chainrule.models import chargpt

    monkeypatch.setattr(_charlm, "_corpus", lambda args: TEXT)
    small = functools.partial(chargpt.GPTConfig, context=16, layers=1, heads=2, width=8,
                              warmup=2, eval_every=3, steps_per_epoch=4)
    monkeypatch.setattr(chargpt, "GPTConfig", small)
    flags = ("--model", "gpt", "--dataset", "shakespeare", "--batch-size", "4",
             "--steps", "7", "--quiet")  # 4 steps per epoch: the run crosses an epoch
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_train(parse(*flags, "--out", str(whole))) == 0
    assert "best validation" in capsys.readouterr().out
    with monkeypatch.context() as m:
        interrupt_at(m, Trainer, 5)
        assert run_train(parse(*flags, "--out", str(parts))) == 130
    assert "resume with: chainrule train --resume" in capsys.readouterr().err
    assert run_train(parse("--resume", str(parts))) == 0
    assert_same_arrays(io.load(whole / "model.npz")["model"],
                       io.load(parts / "model.npz")["model"])
    assert (parts / "history.csv").read_text() == (whole / "history.csv").read_text()

    parser = argparse.ArgumentParser(prog="chainrule")
    add_generate_parser(parser.add_subparsers(dest="command"))
    gen = ["generate", "--checkpoint", str(whole / "model.npz"), "--length", "20"]
    capsys.readouterr()
    assert run_generate(parser.parse_args([*gen, "--prompt", "To", "--top-k", "3"])) == 0
    text = capsys.readouterr().out
    assert text.startswith("To") and len(text.rstrip("\n")) >= 20
    assert set(text) <= set(TEXT) | {"\n"}
    assert run_generate(parser.parse_args([*gen, "--prompt", "Zebra"])) == 2  # not in vocab
    assert "--prompt" in capsys.readouterr().err
    assert run_generate(parser.parse_args([*gen, "--top-k", "0"])) == 2
