"""Data-parallel training over MPI (issue 18): measured scaling and a projected one.

Measures, on this machine (one BLAS thread per rank):

* the all-reduce bandwidth of ``chainrule.distributed.allreduce_`` (MPI_Allreduce in
  place) on 2 ranks for float32 buffers of 1 to 100 MB, and its latency (8 bytes);
* samples/s of an SGD step of the ``mlp``, ``cnn`` and ``gpt`` models with 1 rank
  (batch 64) and 2 ranks (batch 32 each, the same global batch), the time of the
  gradient all-reduce inside the step, and one rank's compute time at batch 32;

then projects a step to 8, 64 and 512 ranks on a 10 and a 100 Gbit/s network with the
ring all-reduce cost model ``t_comm = 2 (p-1) alpha + 2 (p-1)/p * bytes / bandwidth``
(weak scaling: 32 samples per rank; no overlap of communication with the backward pass),
and finds the rank count from which communication takes longer than computation.

    python benchmarks/bench_distributed.py [--repeats 3] [--quick]
        [--json benchmarks/results/distributed.json]
        [--plot docs/figures/distributed_projection.png]

Needs the extra: pip install "chainrule[mpi]". Each measurement is repeated (a fresh
``mpirun`` each time) and reported as median [min, max] over the repeats.
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
SIZES_MB = (1, 4, 16, 64, 100)
GLOBAL_BATCH = 64
PER_RANK = 32
NETWORKS = {"10 Gbit/s": 10e9 / 8, "100 Gbit/s": 100e9 / 8}  # bytes per second
ALPHA = 5e-6  # per-message latency on the network (s): an assumption, see docs
RANKS = (8, 64, 512)
ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


# --------------------------------------------------------------------------- workers


def _build(name: str):
    from chainrule.models import create_model

    if name == "mlp":
        return create_model("mlp", input_shape=(28, 28), num_classes=10, hidden=(256,),
                            dropout=0.0)
    if name == "cnn":
        return create_model("cnn", input_shape=(1, 28, 28), num_classes=10, dropout=0.0)
    return create_model("gpt", 65, context=64, layers=4, heads=4, width=128)


def _batch(name: str, n: int, rng):
    if name == "gpt":
        ids = rng.integers(0, 65, size=(n, 65))
        return ids[:, :-1], ids[:, 1:]
    shape = (n, 1, 28, 28) if name == "cnn" else (n, 28, 28)
    return rng.normal(size=shape).astype("float32"), rng.integers(0, 10, size=n)


def worker_train(name: str, batch: int, steps: int) -> dict:
    import numpy as np

    import chainrule.distributed as dist
    from chainrule import Tensor, nn, optim
    from chainrule.random import manual_seed

    dist.init()
    manual_seed(0)
    model = _build(name)
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    dist.broadcast_parameters(model)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(dist.rank())
    x, y = _batch(name, batch, rng)
    comm = 0.0

    def step():
        nonlocal comm
        opt.zero_grad()
        out = model(x if name == "gpt" else Tensor(x))
        if name == "gpt":
            out, yy = out.reshape(-1, 65), y.reshape(-1)
        else:
            yy = y
        loss_fn(out, yy).backward()
        t = time.perf_counter()
        opt.synchronize()
        comm += time.perf_counter() - t
        opt.optimizer.step()

    for _ in range(2):
        step()
    dist.barrier()
    comm = 0.0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    wall = (time.perf_counter() - t0) / steps
    nparams = sum(p.data.size for p in model.parameters())
    return {"model": name, "ranks": dist.size(), "batch": batch, "step_s": wall,
            "allreduce_s": comm / steps, "samples_per_s": batch * dist.size() / wall,
            "params": int(nparams)}


def worker_allreduce(sizes_mb, quick: bool) -> dict:
    import numpy as np

    import chainrule.distributed as dist

    dist.init()
    out = {"ranks": dist.size(), "sizes": []}
    tiny = np.zeros(2, np.float32)
    for _ in range(20):
        dist.allreduce_(tiny)
    n = 200 if not quick else 50
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(n):
        dist.allreduce_(tiny, average=False)
    out["latency_s"] = (time.perf_counter() - t0) / n
    for mb in sizes_mb:
        buf = np.ones(int(mb * 1e6) // 4, np.float32)
        dist.allreduce_(buf, average=False)
        reps = 3 if quick else max(3, int(200 / mb))
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(reps):
            dist.allreduce_(buf, average=False)
        dist.barrier()
        t = (time.perf_counter() - t0) / reps
        out["sizes"].append({"mb": mb, "seconds": t, "algbw_GBps": buf.nbytes / t / 1e9,
                             "busbw_GBps": 2 * (dist.size() - 1) / dist.size()
                             * buf.nbytes / t / 1e9})
    return out


# --------------------------------------------------------------------------- driver


def _launch(ranks: int, *args: str) -> dict:
    env = {**os.environ, **ENV}
    cmd = [sys.executable, __file__, "--worker", *args]
    if ranks > 1:
        mpirun = str(Path(sys.executable).parent / "mpirun")
        cmd = [mpirun, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][0])


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(repeats: int, quick: bool) -> dict:
    steps = {"mlp": 40, "cnn": 6, "gpt": 6} if not quick else {"mlp": 5, "cnn": 2, "gpt": 2}
    runs: dict[str, list[dict]] = {}
    for _ in range(repeats):  # interleaved: drift hits every configuration alike
        for name in ("mlp", "cnn", "gpt"):
            for ranks, batch in ((1, GLOBAL_BATCH), (2, GLOBAL_BATCH // 2), (1, PER_RANK)):
                r = _launch(ranks, "train", name, str(batch), str(steps[name]))
                runs.setdefault(f"{name}/{ranks}x{batch}", []).append(r)
        runs.setdefault("allreduce", []).append(
            _launch(2, "allreduce", *(["--quick"] if quick else [])))
    result: dict = {"train": {}, "allreduce": {}}
    for key, rs in runs.items():
        if key == "allreduce":
            continue
        result["train"][key] = {
            "params": rs[0]["params"],
            "samples_per_s": _spread([r["samples_per_s"] for r in rs]),
            "step_s": _spread([r["step_s"] for r in rs]),
            "allreduce_s": _spread([r["allreduce_s"] for r in rs])}
    ar = runs["allreduce"]
    result["allreduce"]["latency_s"] = _spread([r["latency_s"] for r in ar])
    for i, mb in enumerate(SIZES_MB):
        result["allreduce"][f"{mb}MB"] = {
            k: _spread([r["sizes"][i][k] for r in ar])
            for k in ("seconds", "algbw_GBps", "busbw_GBps")}
    return result


def t_comm(p: int, nbytes: float, bandwidth: float, alpha: float = ALPHA) -> float:
    """Ring all-reduce time: 2(p-1) latency steps and 2(p-1)/p of the bytes on each link."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bandwidth


def crossover(t_compute: float, nbytes: float, bandwidth: float) -> int | None:
    """The smallest rank count whose all-reduce takes longer than the computation."""
    p = 2
    while p <= 10**7:
        if t_comm(p, nbytes, bandwidth) > t_compute:
            return p
        p = p + 1 if p < 1024 else int(p * 1.01) + 1
    return None


def project(result: dict) -> list[dict]:
    rows = []
    for name in ("mlp", "cnn", "gpt"):
        tr = result["train"][f"{name}/1x{PER_RANK}"]
        t_c = tr["step_s"]["median"]
        nbytes = 4 * tr["params"]
        for net, bw in NETWORKS.items():
            row = {"model": name, "params": tr["params"], "network": net, "t_compute": t_c,
                   "crossover": crossover(t_c, nbytes, bw)}
            for p in RANKS:
                tc = t_comm(p, nbytes, bw)
                row[p] = {"t_comm": tc, "efficiency": t_c / (t_c + tc),
                          "samples_per_s": p * PER_RANK / (t_c + tc)}
            rows.append(row)
    return rows


def _fmt(s: dict, scale: float = 1.0, digits: int = 0) -> str:
    return (f"{s['median'] * scale:.{digits}f} [{s['min'] * scale:.{digits}f}, "
            f"{s['max'] * scale:.{digits}f}]")


def tables(result: dict, rows: list[dict]) -> str:
    lines = ["| model | params | 1 rank × 64: samples/s | 2 ranks × 32: samples/s | "
             "speed-up | all-reduce per step (2 ranks), ms | 1 rank × 32: step, ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("mlp", "cnn", "gpt"):
        one, two = result["train"][f"{name}/1x64"], result["train"][f"{name}/2x32"]
        half = result["train"][f"{name}/1x32"]
        ratio = two["samples_per_s"]["median"] / one["samples_per_s"]["median"]
        lines.append(f"| {name} | {one['params']:,} | {_fmt(one['samples_per_s'])} | "
                     f"{_fmt(two['samples_per_s'])} | {ratio:.2f} | "
                     f"{_fmt(two['allreduce_s'], 1e3, 2)} | {_fmt(half['step_s'], 1e3, 1)} |")
    lines += ["", "| buffer | time, ms | algorithm bandwidth, GB/s | bus bandwidth, GB/s |",
              "|---:|---:|---:|---:|"]
    ar = result["allreduce"]
    lines.append(f"| 8 B | {_fmt(ar['latency_s'], 1e3, 3)} | | |")
    for mb in SIZES_MB:
        a = ar[f"{mb}MB"]
        lines.append(f"| {mb} MB | {_fmt(a['seconds'], 1e3, 2)} | {_fmt(a['algbw_GBps'], 1, 2)}"
                     f" | {_fmt(a['busbw_GBps'], 1, 2)} |")
    lines += ["", "| model | network | compute/step, ms | " + " | ".join(
        f"{p} ranks: comm ms, efficiency, samples/s" for p in RANKS)
        + " | comm > compute from |", "|---|---|---:|" + "---:|" * len(RANKS) + "---:|"]
    for r in rows:
        cells = " | ".join(f"{r[p]['t_comm'] * 1e3:.1f}, {r[p]['efficiency']:.0%}, "
                           f"{r[p]['samples_per_s']:,.0f}" for p in RANKS)
        cross = "never (≤ 10⁷)" if r["crossover"] is None else f"{r['crossover']:,} ranks"
        lines.append(f"| {r['model']} | {r['network']} | {r['t_compute'] * 1e3:.1f} | {cells} "
                     f"| {cross} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {"mlp": "tab:blue", "cnn": "tab:orange", "gpt": "tab:green"}
    ps = np.unique(np.geomspace(1, 4096, 60).astype(int))
    for r in rows:
        nbytes, t_c = 4 * r["params"], r["t_compute"]
        bw = NETWORKS[r["network"]]
        eff = [t_c / (t_c + t_comm(int(p), nbytes, bw)) for p in ps]
        ax.plot(ps, eff, ls="-" if r["network"].startswith("100") else "--",
                color=colors[r["model"]], label=f"{r['model']}, {r['network']}")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.text(1.1, 0.52, "communication = computation", fontsize=8, color="grey")
    ax.set(xscale="log", xlabel="ranks (32 samples each)", ylabel="efficiency t_c / (t_c + t_comm)",
           ylim=(0, 1.02), title="Projected data-parallel efficiency (ring all-reduce)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="few steps (a smoke test)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--from-json", type=Path, default=None,
                    help="print the tables (and plot) from saved measurements")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    if args.worker:
        kind, *rest = args.worker
        if kind == "train":
            res = worker_train(rest[0], int(rest[1]), int(rest[2]))
        else:
            res = worker_allreduce(SIZES_MB, "--quick" in rest)
        import chainrule.distributed as dist
        if dist.is_primary():
            print(json.dumps(res), flush=True)
        return 0
    result = (json.loads(args.from_json.read_text())["measured"] if args.from_json
              else measure(args.repeats, args.quick))
    rows = project(result)
    if args.json and not args.from_json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"measured": result, "alpha_s": ALPHA}, indent=1))
    print(tables(result, rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
