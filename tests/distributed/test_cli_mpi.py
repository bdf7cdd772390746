"""``mpirun -n 2 chainrule train ... --distributed`` (issue 18): the run, a rank that
fails, the resume, and what the flag refuses."""

from __future__ import annotations

import argparse
import csv
import json
import os

import numpy as np
import pytest
from mpi_launch import run_mpi

from chainrule import io
from chainrule.cli.train import add_train_parser, run_train

FLAGS = ("train", "--distributed", "--steps", "12", "--batch-size", "16", "--seed", "3",
         "--quiet", "--checkpoint-steps", "5")


def history(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


def whole_run(folder):
    """``mpirun -n 2 chainrule train --distributed --steps 12 ...`` into ``folder``."""
    proc, _ = run_mpi("cli.py", *FLAGS, "--out", str(folder))
    # the primary rank alone reports and writes; the run folder records the ranks
    assert proc.stdout.count("test accuracy:") == 1
    assert "batch 16 per rank x 2 ranks (32 in all)" in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == [
        "args.json", "checkpoint.npz", "curves.png", "history.csv", "model.npz"]
    saved = json.loads((folder / "args.json").read_text())
    assert saved["distributed"] is True and saved["ranks"] == 2
    return folder


def test_distributed_cli_run_writes_and_reports_on_the_primary(tmp_path):
    whole = whole_run(tmp_path / "whole")
    # --overlap: the gradients reduced in buckets during backward, the same weights
    run_mpi("cli.py", *FLAGS, "--overlap", "--out", str(tmp_path / "overlap"))
    a, b = io.load(whole / "model.npz"), io.load(tmp_path / "overlap" / "model.npz")
    for key in a["model"]:
        assert np.array_equal(a["model"][key], b["model"][key]), key


def test_overlap_without_distributed_is_a_usage_error(tmp_path, capsys):
    assert run_train(parse("--overlap", "--out", str(tmp_path / "r"))) == 2
    err = capsys.readouterr().err
    assert "--overlap is for --distributed runs" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # three mpirun launches (~15 s); the library's resume test is quick
def test_distributed_cli_run_a_failing_rank_and_a_bit_identical_resume(tmp_path, monkeypatch):
    whole, parts = whole_run(tmp_path / "whole"), tmp_path / "parts"

    # rank 1 raises in step 8: every rank stops (MPI_Abort) in bounded time, and the
    # checkpoint of step 5 (--checkpoint-steps 5) stays
    monkeypatch.setenv("CHAINRULE_TEST_RAISE", "1:8")
    proc, took = run_mpi("cli.py", *FLAGS, "--out", str(parts), check=False, timeout=90)
    monkeypatch.delenv("CHAINRULE_TEST_RAISE")
    assert proc.returncode != 0 and took < 60
    assert "RuntimeError: test failure on rank 1 at step 8" in proc.stderr
    assert not (parts / "model.npz").exists()

    # resumed on 2 ranks, it ends with the weights, optimizer state and logs of the
    # uninterrupted run, bit for bit
    proc, _ = run_mpi("cli.py", "train", "--resume", str(parts), "--quiet")
    assert "from epoch 1, after batch 5 (step 5)" in proc.stdout
    a, b = io.load(whole / "model.npz"), io.load(parts / "model.npz")
    for key in a["model"]:
        assert np.array_equal(a["model"][key], b["model"][key]), key
    assert history(whole / "history.csv") == history(parts / "history.csv")
    assert a["results"] == b["results"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


@pytest.mark.parametrize(("argv", "message"), [
    (("--model", "vae"), "--distributed trains the classifiers (cnn, mlp), not 'vae'"),
    (("--model", "char-lstm", "--dataset", "shakespeare"), "not 'char-lstm'"),
    (("--model", "dqn"), "not 'dqn'"),
    (("--minutes", "1"), "--minutes cannot bound a --distributed run"),
])
def test_distributed_cli_refuses_what_it_cannot_run(argv, message, tmp_path, capsys):
    assert run_train(parse(*argv, "--distributed", "--out", str(tmp_path / "r"))) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_distributed_cli_resume_needs_the_same_number_of_ranks(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"model": "mlp", "dataset": "digits",
                                                "distributed": True, "ranks": 2}))
    (run / "checkpoint.npz").write_bytes(b"")
    assert run_train(parse("--resume", str(run))) == 2
    err = capsys.readouterr().err
    assert "this run trained on 2 ranks; resume it with mpirun -n 2" in err
    assert sorted(os.listdir(run)) == ["args.json", "checkpoint.npz"]


def test_overlap_builds_the_trainer_with_overlap():
    from chainrule.cli import _distributed
    from chainrule.distributed import DistributedTrainer

    made = _distributed.trainer_class(parse("--distributed", "--overlap"))
    assert made.func is DistributedTrainer and made.keywords == {"overlap": True}
    assert _distributed.trainer_class(parse("--distributed")) is DistributedTrainer
