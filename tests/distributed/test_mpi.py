"""chainrule.distributed on 2 MPI ranks (``mpirun -n 2`` launched from the test)."""

from __future__ import annotations

import numpy as np
import pytest
from mpi_launch import json_lines, run_mpi

from chainrule.io import load


@pytest.mark.slow
def test_two_ranks_match_one_rank_with_twice_the_batch():
    check_exactness(100)


def test_two_ranks_match_one_rank_with_twice_the_batch_quick():
    check_exactness(10)  # the acceptance run (100 steps) is the slow test above


def check_exactness(steps):
    # 2 ranks x batch 32 == 1 rank x batch 64 on the same data order, float64, SGD with
    # momentum; the batch-norm model keeps per-replica statistics (docs/distributed.md):
    # it equals one process whose loss is the mean over the ranks' halves, each normalised
    # by its own statistics, and differs from whole-batch statistics.
    proc, _ = run_mpi("exactness.py", "mlp,cnn,bn", str(steps))
    reports = {r["model"]: r for r in json_lines(proc)}
    assert set(reports) == {"mlp", "cnn", "bn"}
    for r in reports.values():
        assert r["size"] == 2 and r["steps"] == steps
        assert r["replica_diff"] == 0.0  # the replicas are bit-identical
        assert r["max_diff"] <= 1e-10
        assert r["moved"] > 1e-3  # training did change the parameters
    bn = reports["bn"]
    assert bn["stats_differ"]  # running statistics are not synchronised ...
    assert bn["stats_synced"] == 0.0  # ... until averaged with allreduce_
    assert bn["whole_batch_diff"] > 1e-5


def test_collectives_sampler_optimizer_and_mismatch_on_two_ranks():
    proc, _ = run_mpi("basics.py")
    (f,) = json_lines(proc)
    assert f["ranks"] == [[0, 2, 0, True], [1, 2, 1, False]]
    assert f["mean"] == 1.5
    assert f["logs"] == {"loss": 0.5, "size": 32.0, "name": "x"}
    assert f["array"] == [0.0, 1.5, 3.0]
    a, b = f["shards"]
    assert len(a) == len(b) == 6  # 11 samples padded to 12
    assert sorted(a + b) == sorted(f["order"]) and set(f["order"]) == set(range(11))
    assert a == f["order"][0::2] and b == f["order"][1::2]
    assert f["opt_state_equal"] and f["opt_state_size"] > 0
    # weight: (1 + 2) / 2; bias of layer 0: rank 0 only, 4 / 2; layer 1: no gradient
    assert f["grads_None"] == [1.5, 2.0, None, None]
    assert f["grads_fp16"] == [1.5, 2.0, None, None]
    assert f["bytes_fp16"] * 2 == f["bytes_None"]
    # mismatched models are named at broadcast time, on every rank
    lines = sorted(ln for ln in proc.stdout.splitlines() if ln.startswith("rank "))
    assert len(lines) == 4
    params = [ln for ln in lines if ": parameters:" in ln]
    assert [ln[:6] for ln in params] == ["rank 0", "rank 1"]
    for ln in params:
        assert "'2.weight' of shape (9, 8)" in ln and "(8, 8)" in ln
    opt = [ln for ln in lines if ": optimizer:" in ln]
    assert len(opt) == 2 and all("parameter 0 has shape (6, 4)" in ln for ln in opt)


@pytest.mark.parametrize("how", ["raise", pytest.param("kill", marks=pytest.mark.slow)])
def test_a_failing_rank_stops_the_others(tmp_path, how):
    # rank 1 raises (or is killed) while rank 0 waits in the next collective: the launcher
    # must end the run with an error, in bounded time, and the checkpoint rank 0 wrote
    # before stays loadable
    ckpt = tmp_path / "last.npz"
    proc, took = run_mpi("fault.py", how, str(ckpt), timeout=90, check=False)
    assert proc.returncode != 0
    assert "finished without noticing" not in proc.stdout
    assert took < 60
    if how == "raise":
        assert "rank 1 raised RuntimeError; aborting all 2 ranks" in proc.stderr
    saved = load(ckpt)
    assert saved["step"] == 3 and set(saved["model"]) == {"0.weight", "0.bias"}
    assert all(np.isfinite(v).all() for v in saved["model"].values())


def test_distributed_trainer_equals_one_process_and_resumes_bit_identically(tmp_path):
    # DistributedTrainer, 2 ranks x batch 8 == Trainer, 1 process x batch 16 (same seed);
    # every rank logs the same (averaged) losses; only the primary writes files; a run
    # resumed from the primary's checkpoint ends where the uninterrupted one did
    proc, _ = run_mpi("trainer_run.py", str(tmp_path))
    (f,) = json_lines(proc)
    assert f["replicas"] == 0.0
    a, b = f["losses_same"]
    assert a == b and len(a) == 3 and a[-1] < a[0]
    assert f["logs"] == ["ck", "log0.csv"]  # no log1.csv: rank 1 writes nothing
    assert f["resumed_diff"] == 0.0
    assert f["mid_epoch_diff"] == 0.0 and f["mid_epoch_logs_same"]  # weights and logs
    assert f["keyword_class"] == "DistributedTrainer"  # Trainer(..., distributed=True)
    assert f["overlap_diff"] == 0.0  # reduced during backward: the same weights
    assert f["overlap_buckets"] == 4  # 64-byte buckets: one per parameter here
    assert f["ref_diff"] <= 1e-10 and f["ref_loss_diff"] <= 1e-10
    steps = f["diverged"]  # a NaN sample: every rank raised TrainingDiverged, same step
    assert steps is not None and steps[0] == steps[1] >= 1


def test_overlapped_reduction_equals_the_fused_one():
    # DistributedOptimizer(overlap=True): buckets reduced by Iallreduce during backward give
    # the fused path's parameters exactly (2 ranks: each sum has two terms), fp16 included
    proc, _ = run_mpi("overlap.py")
    (f,) = json_lines(proc)
    for name in ("mlp", "cnn"):
        for label in ("1MB", "2KB", "fp16"):
            r = f[f"{name}/{label}"]
            assert r["diff"] == 0.0 and r["replicas"] == 0.0 and r["moved"] > 1e-2
            assert r["unused_grad_none"] == [True, True]  # no gradient anywhere: None
        small = f[f"{name}/2KB"]
        assert small["buckets"] >= 3
        # every bucket but the one holding the unused layer started before step()
        assert small["under_way"] == small["buckets"] - 1
    assert "ready twice before step()" in f["twice"]
    a, b = f["after_discard"]
    assert a == b


def test_sync_batchnorm_on_two_ranks_is_batch_norm_of_the_whole_batch():
    # 2 ranks x 16 with SyncBatchNorm == one process x 32 with plain batch norm (float64,
    # 10 SGD steps): weights and running statistics; per-replica statistics do not match
    proc, _ = run_mpi("sync_bn.py")
    (f,) = json_lines(proc)
    for name in ("dense", "cnn"):
        r = f[name]
        assert "SyncBatchNorm" in r["kinds"] and "BatchNorm1d" not in r["kinds"]
        assert r["max_diff"] <= 1e-10 and r["stats_diff"] <= 1e-10 and r["eval_diff"] <= 1e-10
        assert r["replicas"] == 0.0 and r["moved"] > 1e-2
        assert r["ghost_diff"] > 1e-5
