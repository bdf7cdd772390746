"""Does overlapping the gradient all-reduce with the backward pass help? (issue 18)

On 2 ranks (one BLAS thread each), the same SGD step of the ``mlp`` and ``cnn`` models
(MNIST-shaped synthetic data, 32 samples per rank, float32) with
``DistributedOptimizer(overlap=False)`` (one fused Allreduce after backward) and with
``overlap=True`` (buckets of ``--bucket-kb`` reduced by Iallreduce as backward finishes
them), on two copies of the model with the same weights, alternating blocks of steps in
ONE ``mpirun``. Reports the median step time of each and the ratio fused / overlapped
(> 1: overlap is faster), with the spread over the blocks.

    python benchmarks/bench_overlap.py [--blocks 7] [--steps 10] [--bucket-kb 256]
        [--json benchmarks/results/distributed_overlap.json]

Needs the extra: pip install "chainrule[mpi]".
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
PER_RANK = 32
ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}


def _build(name: str):
    from chainrule.models import create_model
    from chainrule.random import manual_seed

    manual_seed(0)
    if name == "mlp":
        return create_model("mlp", input_shape=(28, 28), num_classes=10, hidden=(256,),
                            dropout=0.0)
    return create_model("cnn", input_shape=(1, 28, 28), num_classes=10, dropout=0.0)


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    import chainrule.distributed as dist
    from chainrule import nn, optim, tensor

    dist.init()
    rng = np.random.default_rng(dist.rank())
    results = {}
    for name in args.models.split(","):
        shape = (PER_RANK, 28, 28) if name == "mlp" else (PER_RANK, 1, 28, 28)
        x = tensor(rng.normal(size=shape).astype(np.float32))
        y = rng.integers(0, 10, size=PER_RANK)
        runs = {}
        for mode in ("fused", "overlap"):
            model = _build(name)
            opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                                            overlap=mode == "overlap",
                                            bucket_bytes=args.bucket_kb * 1024)
            runs[mode] = (model, opt)
        times: dict[str, list[float]] = {"fused": [], "overlap": []}
        for block in range(args.blocks + 1):  # block 0 warms up
            for mode in (("fused", "overlap") if block % 2 else ("overlap", "fused")):
                model, opt = runs[mode]
                dist.barrier()
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    opt.zero_grad()
                    nn.CrossEntropyLoss()(model(x), y).backward()
                    opt.step()
                dt = (time.perf_counter() - t0) / args.steps
                if block:
                    times[mode].append(max(dist.allgather_object(dt)))  # the slower rank
        buckets = len(runs["overlap"][1].overlapped.buckets)
        fused, over = times["fused"], times["overlap"]
        ratios = [f / o for f, o in zip(fused, over)]
        results[name] = {"fused_ms": [1e3 * t for t in fused],
                         "overlap_ms": [1e3 * t for t in over],
                         "ratio": ratios, "buckets": buckets}
    if dist.is_primary():
        print("RESULT " + json.dumps(results), flush=True)


def _summary(results: dict) -> str:
    lines = ["| model | buckets | fused step, ms | overlapped step, ms | fused / overlapped |",
             "|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        def cell(v: list[float], f: str = "{:.1f}") -> str:
            return f"{f.format(statistics.median(v))} [{f.format(min(v))}, {f.format(max(v))}]"
        lines.append(f"| {name} | {r['buckets']} | {cell(r['fused_ms'])} | "
                     f"{cell(r['overlap_ms'])} | {cell(r['ratio'], '{:.2f}')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--bucket-kb", type=int, default=256)
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun if mpirun.exists() else "mpirun"), "--allow-run-as-root",
           "--oversubscribe", "-n", "2", sys.executable, __file__, "--worker",
           "--blocks", str(args.blocks), "--steps", str(args.steps),
           "--bucket-kb", str(args.bucket_kb), "--models", args.models]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ENV},
                          cwd=ROOT, check=True)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    results = json.loads(line[len("RESULT "):])
    print(_summary(results))
    print(f"(median [min, max] over {args.blocks} alternating blocks of {args.steps} steps; "
          f"{PER_RANK} samples per rank, buckets of {args.bucket_kb} KB; load average "
          f"{os.getloadavg()[0]:.1f})")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items()
                                                  if k not in ("json", "worker")},
                                         "results": results,
                                         "load_average": os.getloadavg()[0]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
