#!/usr/bin/env python
"""chainrule's convolutional networks side by side with PyTorch (CPU) in one process.

Four measurements, all float32, SGD with momentum 0.9 and lr 0.01, mean softmax
cross-entropy, through the public layers of each library (``chainrule.nn`` +
``chainrule.optim``; ``torch.nn`` + ``torch.optim``):

1. **Reference step**: Conv2d(1→8, 3×3, pad 1) → ReLU → MaxPool 2 → Conv2d(8→16, 3×3,
   pad 1) → ReLU → MaxPool 2 → Flatten → Linear(784→10), batch 64 of 1×28×28 images:
   training steps per second. Target: chainrule ≥ 0.7× PyTorch's throughput.
2. **Book's chapter-5 CNN epoch** ("Deep Learning from Scratch"): Conv2d(1→32, 5×5, pad 2,
   no bias) → tanh → Flatten → Dropout(0.2) → Linear(25088→10), batch 60; one MNIST epoch
   is 1,000 such steps, so epoch time = 1,000 × step time (the book's loop-based NumPy
   version needed about ten minutes).
3. **Other networks**: the same step for the book's chapter-7 CNN (two 5×5 conv layers,
   batch 60) and for the ``cnn`` model of ``chainrule train`` (batch 64).
4. **Memory**: for all four networks, peak memory of one chainrule training step
   (``tracemalloc``, which sees NumPy's buffers: peak minus the memory in use before the
   step) against what ``model.summary(...)`` predicts for training, ``training_bytes *
   batch`` (every layer's output kept for backward). Target: within 2× of the prediction.

Both libraries start from the same weights and cycle through the same 4 random batches;
a short agreement check (5 steps, no dropout) runs first and prints the largest weight
difference. "speed ratio" is torch time / chainrule time: 1.0 or more means chainrule
is at least as fast.

    PYTHONPATH=src python benchmarks/bench_conv.py                 # about 2 minutes
    python benchmarks/bench_conv.py --quick                        # about 40 seconds
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_conv.py \\
        --threads 1 --cpu-clock                                    # steady on a busy box
    python benchmarks/bench_conv.py --profile ref                  # where a step's time goes
    python benchmarks/bench_conv.py --part step                    # or: epoch, nets, memory

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import json
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from _common import (  # noqa: E402
    fmt,
    format_table,
    freeze_heap,
    import_chainrule,
    import_torch,
    limit_numpy_blas_threads,
    load_average,
    load_warning,
    machine_summary,
    measure,
    numpy_blas_threads,
)
from bench_engine import print_profile  # noqa: E402

cr = import_chainrule()
from chainrule import nn, optim  # noqa: E402
from chainrule.autograd import ops as cr_ops  # noqa: E402
from chainrule.autograd.tensor import Tensor as CrTensor  # noqa: E402

SEED = 0
N_BATCHES = 4
LR = 0.01
MOMENTUM = 0.9
STEP_TARGET = 0.7  # reference step: at least 0.7x PyTorch's throughput
MEMORY_TARGET = 2.0  # measured peak within 2x of the summary's prediction
EPOCH_IMAGES = 60_000  # one MNIST epoch


@dataclass(frozen=True)
class Settings:
    min_time: float  # seconds one repeat lasts (about)
    repeat: int
    cpu_clock: bool = False

    @property
    def clock(self) -> Callable[[], float]:
        return time.thread_time if self.cpu_clock else time.perf_counter


DEFAULT = Settings(min_time=0.3, repeat=15)
QUICK = Settings(min_time=0.1, repeat=5)


# --------------------------------------------------------------------------- the networks
#
# A network is described once, as a list of layer specs; each library builds it from the
# spec with its own layers, so the two always match.


@dataclass(frozen=True)
class Net:
    name: str
    layers: tuple[tuple[Any, ...], ...]
    batch: int


REF = Net("reference", (("conv", 1, 8, 3, 1, True), ("relu",), ("pool", 2),
                        ("conv", 8, 16, 3, 1, True), ("relu",), ("pool", 2), ("flatten",),
                        ("linear", 784, 10)), 64)
CH5 = Net("DLFS ch. 5 CNN", (("conv", 1, 32, 5, 2, False), ("tanh",), ("flatten",),
                             ("dropout", 0.2), ("linear", 32 * 28 * 28, 10)), 60)
CNN = Net("chainrule cnn", (("conv", 1, 32, 3, 1, True), ("relu",), ("pool", 2),
                            ("conv", 32, 64, 3, 1, True), ("relu",), ("pool", 2), ("flatten",),
                            ("linear", 3136, 128), ("relu",), ("dropout", 0.5),
                            ("linear", 128, 10)), 64)
CH7 = Net("DLFS ch. 7 CNN", (("conv", 1, 16, 5, 2, True), ("tanh",), ("dropout", 0.2),
                             ("conv", 16, 8, 5, 2, True), ("tanh",), ("flatten",),
                             ("dropout", 0.2), ("linear", 6272, 32), ("tanh",), ("dropout", 0.2),
                             ("linear", 32, 10)), 60)
NETS = {"ref": REF, "ch5": CH5, "ch7": CH7, "cnn": CNN}


def _layer(lib: Any, spec: tuple[Any, ...], dropout: bool) -> Any:
    kind, *a = spec
    if kind == "conv":
        c_in, c_out, k, pad, bias = a
        return lib.Conv2d(c_in, c_out, k, padding=pad, bias=bias)
    if kind == "linear":
        return lib.Linear(*a)
    if kind == "pool":
        return lib.MaxPool2d(a[0])
    if kind == "dropout":
        return lib.Dropout(a[0] if dropout else 0.0)
    return {"relu": lib.ReLU, "tanh": lib.Tanh, "flatten": lib.Flatten}[kind]()


def init_arrays(net: Net) -> list[np.ndarray]:
    """Initial parameters in PyTorch's order and layout, U(±1/sqrt(fan_in)) as its default."""
    rng = np.random.default_rng(SEED)
    out = []
    for kind, *a in net.layers:
        if kind == "conv":
            c_in, c_out, k, _, bias = a
            shapes, fan_in = [(c_out, c_in, k, k)] + ([(c_out,)] if bias else []), c_in * k * k
        elif kind == "linear":
            shapes, fan_in = [(a[1], a[0]), (a[1],)], a[0]
        else:
            continue
        bound = 1 / np.sqrt(fan_in)
        out += [rng.uniform(-bound, bound, s).astype(np.float32) for s in shapes]
    return out


def batches(net: Net) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(SEED + 1)
    return [(rng.standard_normal((net.batch, 1, 28, 28), dtype=np.float32),
             rng.integers(0, 10, net.batch)) for _ in range(N_BATCHES)]


@dataclass
class Runner:
    """``step()`` trains on the next batch and returns the loss; ``params()`` as arrays."""

    step: Callable[[], Any]
    params: Callable[[], list[np.ndarray]]
    model: Any = None


def chainrule_runner(net: Net, dropout: bool = True) -> Runner:
    model = nn.Sequential(*[_layer(nn, s, dropout) for s in net.layers])
    for p, value in zip(model.parameters(), init_arrays(net)):
        p.data[...] = value
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    data = batches(net)
    k = [0]

    def step() -> Any:
        x, y = data[k[0] % N_BATCHES]
        k[0] += 1
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return Runner(step, lambda: [p.data for p in model.parameters()], model)


def torch_runner(net: Net, torch: Any, dropout: bool = True) -> Runner:
    model = torch.nn.Sequential(*[_layer(torch.nn, s, dropout) for s in net.layers])
    with torch.no_grad():
        for p, value in zip(model.parameters(), init_arrays(net)):
            p.copy_(torch.from_numpy(value))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches(net)]
    k = [0]

    def step() -> Any:
        x, y = data[k[0] % N_BATCHES]
        k[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return Runner(step, lambda: [p.detach().numpy() for p in model.parameters()], model)


def agreement(net: Net, torch: Any, steps: int = 5) -> dict[str, Any] | None:
    """Train both from the same start for ``steps`` steps without dropout; compare."""
    if torch is None:
        return None
    a, b = chainrule_runner(net, dropout=False), torch_runner(net, torch, dropout=False)
    losses = {"chainrule": [float(a.step().item()) for _ in range(steps)],
              "torch": [float(b.step().item()) for _ in range(steps)]}
    diff = max(float(np.max(np.abs(p - q))) for p, q in zip(a.params(), b.params()))
    return {"steps": steps, "losses": losses, "max_abs_param_diff": diff}


# --------------------------------------------------------------------------- speed


def run_speed(net: Net, settings: Settings, torch: Any) -> dict[str, Any]:
    check = agreement(net, torch)
    runners = {"chainrule": chainrule_runner(net)}
    if torch is not None:
        runners["torch"] = torch_runner(net, torch)
    timings = measure({k: r.step for k, r in runners.items()}, min_time=settings.min_time,
                      repeat=settings.repeat, warmup=5, clock=settings.clock)
    out: dict[str, Any] = {
        "net": net.name, "batch": net.batch,
        "step_ms": {k: t.best * 1e3 for k, t in timings.items()},
        "median_step_ms": {k: t.median * 1e3 for k, t in timings.items()},
        "steps_per_s": {k: 1 / t.best for k, t in timings.items()},
        "timings": {k: t.as_dict() for k, t in timings.items()},
        "agreement": check,
    }
    if torch is not None:
        out["speed_ratio"] = timings["torch"].best / timings["chainrule"].best
    return out


# --------------------------------------------------------------------------- memory


def run_memory(net: Net) -> dict[str, Any]:
    """Peak bytes of one chainrule training step against the summary's prediction."""
    runner = chainrule_runner(net)
    runner.step()  # momentum buffers exist from now on, as in any later step
    info = runner.model.summary((1, 28, 28), batch_size=net.batch, print_fn=None)
    predicted = info.training_bytes * net.batch
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        runner.step()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    params = sum(p.data.nbytes for p in runner.model.parameters())
    return {"net": net.name, "batch": net.batch, "predicted_bytes": predicted,
            "inference_bytes": info.inference_bytes * net.batch, "peak_bytes": peak,
            "param_bytes": params, "ratio": peak / predicted}


# --------------------------------------------------------------------------- profiling


def primitive_profile(step: Callable[[], Any], steps: int) -> list[tuple[str, str, float, int]]:
    """CPU milliseconds per step spent in each primitive (forward, or inside backward
    rules), by wrapping ``Primitive.__call__`` with the thread's CPU clock (which counts
    page faults, not time lost to other processes); returns (phase, "name shapes", ms,
    calls/step)."""
    prim = cr_ops.Primitive
    original = prim.__call__
    phase = ["forward"]
    spent: dict[tuple[str, str], float] = defaultdict(float)
    calls: dict[tuple[str, str], int] = defaultdict(int)

    def timed(self: Any, *args: Any, **params: Any) -> Any:
        t0 = time.thread_time()
        y = original(self, *args, **params)
        key = (phase[0], f"{self.name} {' '.join(str(tuple(np.shape(a))) for a in args)}")
        spent[key] += time.thread_time() - t0
        calls[key] += 1
        return y

    backward = CrTensor.backward

    def traced_backward(self: Any, *a: Any, **k: Any) -> Any:
        phase[0] = "backward"
        try:
            return backward(self, *a, **k)
        finally:
            phase[0] = "forward"

    prim.__call__ = timed  # type: ignore[method-assign]
    CrTensor.backward = traced_backward  # type: ignore[method-assign]
    try:
        for _ in range(steps):
            step()
    finally:
        prim.__call__ = original  # type: ignore[method-assign]
        CrTensor.backward = backward  # type: ignore[method-assign]
    rows = [(ph, what, t / steps * 1e3, calls[(ph, what)] // steps)
            for (ph, what), t in spent.items()]
    return sorted(rows, key=lambda r: -r[2])


def run_profile(key: str, steps: int) -> None:
    net = NETS[key]
    step = chainrule_runner(net).step
    for _ in range(5):
        step()
    t0 = time.thread_time()
    for _ in range(steps):
        step()
    plain = (time.thread_time() - t0) / steps * 1e3
    rows = primitive_profile(step, steps)
    inside = sum(r[2] for r in rows)
    print(f"== {net.name} training step, batch {net.batch}: {plain:.2f} ms/step (CPU time of "
          f"this thread), unprofiled ==")
    print(f"\n-- time per primitive (CPU ms per step; {inside:.2f} ms in primitives, the rest "
          f"is layers, engine and optimizer) --")
    print(format_table(["phase", "primitive and input shapes", "ms/step", "calls"],
                       [(ph, what, fmt(ms, 3), n) for ph, what, ms, n in rows[:25]],
                       align="llrr"))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    print()
    print_profile(prof, steps, top=20)


# --------------------------------------------------------------------------- report


def _verdict(ratio: float | None, target: float, higher_is_better: bool = True) -> str:
    if ratio is None:
        return "-"
    return "ok" if (ratio >= target if higher_is_better else ratio <= target) else "MISS"


def print_report(meta: dict[str, Any], speed: dict[str, dict[str, Any]],
                 memory: list[dict[str, Any]]) -> None:
    rep = meta["settings"]["repeat"]
    for key, r in speed.items():
        ratio = r.get("speed_ratio")
        if key == "ref":
            print(f"\n== Reference step: {r['net']}, batch {r['batch']}, SGD momentum, float32 "
                  f"(best of {rep}; target speed ratio >= {STEP_TARGET}) ==")
        else:
            print(f"\n== {r['net']}, batch {r['batch']}: step, and one epoch of 60,000 "
                  f"images = {EPOCH_IMAGES // r['batch']} steps (best of {rep}) ==")
        rows = []
        for lib in ("chainrule", "torch"):
            if lib not in r["step_ms"]:
                continue
            ms, med = r["step_ms"][lib], r["median_step_ms"][lib]
            row = [lib, fmt(ms, 2), fmt(med, 2), fmt(1e3 / ms, 1)]
            if key != "ref":
                row.append(fmt(ms * (EPOCH_IMAGES // r["batch"]) / 1e3, 1))
            row += [fmt(ratio, 2) if lib == "chainrule" else "",
                    _verdict(ratio, STEP_TARGET) if lib == "chainrule" and key == "ref" else ""]
            rows.append(row)
        head = ["library", "ms/step", "median ms", "steps/s"] + (
            ["s/epoch"] if key != "ref" else []) + ["speed ratio", "target"]
        print(format_table(head, rows))
        if r["agreement"]:
            a = r["agreement"]
            last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in a["losses"].items())
            print(f"agreement after {a['steps']} steps (no dropout): loss {last}; max |param "
                  f"chainrule - torch| {a['max_abs_param_diff']:.1e}")
    if memory:
        print(f"\n== Peak memory of one chainrule training step vs summary().training_bytes "
              f"x batch (target: within {MEMORY_TARGET:g}x) ==")
        rows = [(m["net"], m["batch"], fmt(m["predicted_bytes"] / 1e6, 2),
                 fmt(m["peak_bytes"] / 1e6, 2), fmt(m["ratio"], 2),
                 _verdict(m["ratio"], MEMORY_TARGET, higher_is_better=False))
                for m in memory]
        print(format_table(["network", "batch", "predicted MB", "peak MB", "peak/predicted",
                            "target"], rows))
        print("(peak: tracemalloc, bytes allocated during the step above those in use before "
              "it; includes the parameter gradients and every temporary buffer)")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    ap.add_argument("--json", metavar="PATH", help="write all results to this JSON file")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="threads for PyTorch (and NumPy's BLAS with threadpoolctl); default: "
                         "the thread count NumPy's BLAS already uses")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time with the calling thread's CPU clock (one thread only)")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--part", choices=("all", "step", "epoch", "nets", "memory"),
                    default="all", help="only the reference step, the chapter-5 epoch, the "
                    "other networks' steps (chapter-7 CNN, cnn) or the memory check")
    ap.add_argument("--profile", choices=sorted(NETS), default=None,
                    help="instead of benchmarking, profile one chainrule network's step: "
                         "time per primitive, then cProfile")
    ap.add_argument("--profile-steps", type=int, default=30, metavar="N")
    args = ap.parse_args(argv)

    if args.profile:
        run_profile(args.profile, args.profile_steps)
        return 0

    settings = dataclasses.replace(QUICK if args.quick else DEFAULT, cpu_clock=args.cpu_clock)
    np_threads, how = numpy_blas_threads()
    threads = args.threads or np_threads
    if threads != np_threads:
        if limit_numpy_blas_threads(threads):
            how = f"limited to {threads} via threadpoolctl (was {np_threads})"
            np_threads = threads
        else:
            how += (f"; WARNING: --threads {threads} differs, but NumPy's BLAS keeps "
                    f"{np_threads} (set OPENBLAS_NUM_THREADS before starting Python)")
    torch = None if args.no_torch else import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    if args.cpu_clock and max(np_threads, threads) != 1:
        ap.error("--cpu-clock counts only the calling thread: run with one thread, e.g. "
                 "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python ... --threads 1 --cpu-clock")
    freeze_heap()

    meta: dict[str, Any] = {
        **machine_summary(),
        "chainrule": getattr(cr, "__version__", "?"), "chainrule_path": cr.__file__,
        "torch": None if torch is None else torch.__version__,
        "numpy_blas_threads": np_threads, "threads_source": how,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "settings": {"quick": args.quick, **dataclasses.asdict(settings)},
    }
    print(f"chainrule {meta['chainrule']} ({meta['chainrule_path']})")
    print(f"numpy {meta['numpy']}, BLAS threads {np_threads} ({how})")
    print("torch " + ("not available: torch columns skipped" if torch is None else
                      f"{torch.__version__}, threads {torch.get_num_threads()}"))
    print(f"python {meta['python']} on {meta['platform']}, {meta['cpu_count']} CPUs")
    print("clock: " + ("CPU time of this thread (--cpu-clock)" if args.cpu_clock else "wall time"))
    if warning := load_warning():
        print(warning)

    speed: dict[str, dict[str, Any]] = {}
    memory: list[dict[str, Any]] = []
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        if args.part in ("all", "step"):
            print("\nreference step ...", flush=True)
            speed["ref"] = run_speed(REF, settings, torch)
        if args.part in ("all", "epoch"):
            print("chapter-5 CNN step ...", flush=True)
            speed["ch5"] = run_speed(CH5, settings, torch)
        if args.part in ("all", "nets"):
            print("chapter-7 CNN and cnn steps ...", flush=True)
            speed["ch7"] = run_speed(CH7, settings, torch)
            speed["cnn"] = run_speed(CNN, settings, torch)
        if args.part in ("all", "memory"):
            print("memory ...", flush=True)
            memory = [run_memory(net) for net in (REF, CH5, CH7, CNN)]
    meta["load_average_end"] = load_average()
    print_report(meta, speed, memory)
    print(f"\nload average: {meta['load_average_start']} at start, "
          f"{meta['load_average_end']} at end")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "speed": speed, "memory": memory}, indent=2))
        print(f"\nresults written to {path}")
    return 0


__all__ = ["NETS", "chainrule_runner", "main", "primitive_profile", "run_memory", "torch_runner"]

if __name__ == "__main__":
    sys.exit(main())
