"""MNIST ``cnn`` trained data-parallel on 2 MPI ranks against 1 process (issue 18).

Each run: the ``cnn`` of ``chainrule train`` (Conv 32, Conv 64, Dense 128, dropout 0.5),
Adam lr 1e-3, global batch 64 (2 ranks × 32 or 1 × 64), ONE epoch on the first
``--train`` training images (inputs standardised with their mean and std), then the test
accuracy on all 10,000 test images, computed on the primary rank. ``--seeds K`` repeats
with seeds 0..K-1 for both rank counts; the spread over seeds is the yardstick: the
2-rank mean should lie within it.

    python experiments/distributed_mnist.py [--seeds 3] [--train 12000]
        [--json docs/distributed_mnist.json]

Needs ``pip install "chainrule[mpi]"`` and the MNIST files ($CHAINRULE_DATA or
../shared/data). One BLAS thread per rank.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def worker(seed: int, n_train: int) -> None:
    import chainrule.distributed as dist
    from chainrule import nn, optim
    from chainrule.data import load_mnist
    from chainrule.models import create_model
    from chainrule.random import manual_seed

    dist.init()
    data_dir = os.environ.get("CHAINRULE_DATA") or str(ROOT.parent / "shared" / "data")
    (x, y), (xt, yt) = load_mnist(data_dir, download=False)
    x, y = x[:n_train, None], y[:n_train]
    mean, std = float(x.mean()), float(x.std())
    x, xt = (x - mean) / std, (xt[:, None] - mean) / std
    manual_seed(seed)
    model = create_model("cnn", input_shape=(1, 28, 28), num_classes=10)
    trainer = dist.DistributedTrainer(model, nn.CrossEntropyLoss(),
                                      optim.Adam(model.parameters(), lr=1e-3))
    t0 = time.perf_counter()
    hist = trainer.fit((x, y), epochs=1, batch_size=64 // dist.size(), seed=seed,
                       verbose=False)
    seconds = time.perf_counter() - t0
    if dist.is_primary():
        acc = trainer.evaluate((xt, yt))["accuracy"]
        print(json.dumps({"ranks": dist.size(), "seed": seed, "test_accuracy": acc,
                          "train_loss": hist.history["loss"][-1], "seconds": seconds}),
              flush=True)


def run(ranks: int, seed: int, n_train: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(seed), "--train", str(n_train)]
    if ranks > 1:
        mpirun = str(Path(sys.executable).parent / "mpirun")
        cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ENV})
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--train", type=int, default=12000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    if args.worker is not None:
        worker(args.worker, args.train)
        return 0
    runs = []
    for seed in range(args.seeds):
        for ranks in (1, 2):  # interleaved
            r = run(ranks, seed, args.train)
            print(json.dumps(r), flush=True)
            runs.append(r)
    print("| ranks × batch | test accuracy, mean ± sd (min–max) | seconds per epoch |")
    print("|---|---:|---:|")
    for ranks in (1, 2):
        acc = [r["test_accuracy"] for r in runs if r["ranks"] == ranks]
        sec = [r["seconds"] for r in runs if r["ranks"] == ranks]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"| {ranks} × {64 // ranks} | {100 * statistics.mean(acc):.2f} ± {100 * sd:.2f} % "
              f"({100 * min(acc):.2f}–{100 * max(acc):.2f}) | {statistics.median(sec):.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"train": args.train, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
