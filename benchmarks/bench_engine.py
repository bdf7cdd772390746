#!/usr/bin/env python
"""chainrule's tensor engine side by side with PyTorch (CPU) in one process.

Two measurements, both float32:

1. **Per-op overhead**: ``y = op(x[, w])`` then ``y.sum().backward()`` (``y.backward()`` when
   ``y`` is already a scalar), on 1-element and 100-element tensors, microseconds per
   iteration; and a *chain* of 100 elementwise ops followed by one backward, microseconds
   per op. Both inputs require grad; ``.grad`` is reset to None every iteration.
2. **MLP training step**: 784-256-10 ReLU MLP, batch 128, mean softmax cross-entropy, SGD
   with momentum 0.9 and lr 0.01, in samples per second, for chainrule (raw tensors and a
   momentum update written in NumPy), PyTorch (nn.Linear, F.cross_entropy, optim.SGD) and a
   hand-written NumPy forward/backward as the reference line. All start from the same
   weights and see the same batches; a short agreement check runs first.

"speed ratio" is torch time / chainrule time (throughput ratio for the MLP): 1.0 or more
means chainrule is at least as fast as PyTorch. Targets: MLP step >= 0.9, per-op overhead
within 2x of PyTorch (ratio >= 0.5).

    PYTHONPATH=src python benchmarks/bench_engine.py            # 1-1.5 minutes
    python benchmarks/bench_engine.py --quick                   # about 15 seconds
    python benchmarks/bench_engine.py --json runs/engine.json
    python benchmarks/bench_engine.py --profile mlp             # cProfile + dtype audit
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_engine.py --threads 1 --cpu-clock  # busy box

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import math
import pstats
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from _common import (  # noqa: E402
    Timing,
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

cr = import_chainrule()
import chainrule.nn.functional as crF  # noqa: E402

SEED = 0
CHAIN_LENGTH = 100
MLP_SIZES = (784, 256, 10)
BATCH = 128
N_BATCHES = 4  # a small pool of batches, cycled, identical for every implementation
LR = 0.01
MOMENTUM = 0.9
OP_TARGET = 0.5  # per-op overhead within 2x of PyTorch
MLP_TARGET = 0.9  # MLP throughput at least 0.9x PyTorch's


@dataclass(frozen=True)
class Settings:
    op_min_time: float  # seconds one repeat of a per-op measurement lasts (about)
    op_repeat: int
    mlp_min_time: float
    mlp_repeat: int
    cpu_clock: bool = False  # time with the thread's CPU clock instead of wall time

    @property
    def clock(self) -> Callable[[], float]:
        return time.thread_time if self.cpu_clock else time.perf_counter


# Many short repeats rather than a few long ones: the best repeat is the one no other
# process interrupted, and a short repeat has a fair chance of that even on a busy machine.
DEFAULT = Settings(op_min_time=0.04, op_repeat=15, mlp_min_time=0.3, mlp_repeat=15)
QUICK = Settings(op_min_time=0.01, op_repeat=5, mlp_min_time=0.1, mlp_repeat=5)


# --------------------------------------------------------------------------- per-op overhead


@dataclass(frozen=True)
class OpSpec:
    """One op of the per-op table. ``fn(x, w, n)`` uses only API both libraries share."""

    name: str
    fn: Callable[[Any, Any, int], Any]
    binary: bool = False  # takes the second input ``w``
    chain: bool = False  # elementwise: also measured as a chain of CHAIN_LENGTH ops
    matrix: bool = False  # inputs are square matrices with ``n`` elements


def _side(n: int) -> int:
    return math.isqrt(n)


OPS: tuple[OpSpec, ...] = (
    OpSpec("add", lambda x, w, n: x + w, binary=True, chain=True),
    OpSpec("mul", lambda x, w, n: x * w, binary=True, chain=True),
    OpSpec("matmul", lambda x, w, n: x @ w, binary=True, matrix=True),
    OpSpec("exp", lambda x, w, n: x.exp()),  # not chained: exp(exp(...)) overflows
    OpSpec("tanh", lambda x, w, n: x.tanh(), chain=True),
    OpSpec("sigmoid", lambda x, w, n: x.sigmoid(), chain=True),
    OpSpec("relu", lambda x, w, n: x.relu(), chain=True),
    OpSpec("sum", lambda x, w, n: x.sum()),
    OpSpec("reshape", lambda x, w, n: x.reshape(_side(n), _side(n))),
    OpSpec("getitem", lambda x, w, n: x[0:max(1, n // 2)]),
)
SIZES = (1, 100)


def _op_arrays(spec: OpSpec, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The same float32 inputs for every library; values keep 100-op chains finite."""
    rng = np.random.default_rng(SEED)
    shape = (_side(n), _side(n)) if spec.matrix else (n,)
    x = (0.5 * rng.standard_normal(shape)).astype(np.float32)
    if not spec.binary:
        return x, None
    if spec.name == "mul":  # close to 1 so that a product of 100 stays moderate
        w = 1.0 + 0.01 * rng.standard_normal(shape)
    else:
        w = (0.3 if spec.matrix else 0.01) * rng.standard_normal(shape)
    return x, w.astype(np.float32)


def _leaf(lib: str, arr: np.ndarray | None, torch: Any) -> Any:
    if arr is None:
        return None
    if lib == "chainrule":
        return cr.tensor(arr.copy(), requires_grad=True)
    return torch.tensor(arr, requires_grad=True)


def op_step(lib: str, spec: OpSpec, n: int, torch: Any = None) -> Callable[[], None]:
    """One iteration: reset grads, y = op(x[, w]), reduce to a scalar, backward."""
    xa, wa = _op_arrays(spec, n)
    x, w = _leaf(lib, xa, torch), _leaf(lib, wa, torch)
    fn = spec.fn

    def step() -> None:
        x.grad = None
        if w is not None:
            w.grad = None
        y = fn(x, w, n)
        (y if y.ndim == 0 else y.sum()).backward()

    return step


def chain_step(lib: str, spec: OpSpec, n: int, torch: Any = None,
               length: int = CHAIN_LENGTH) -> Callable[[], None]:
    """One iteration: ``length`` elementwise ops in a row, then one backward."""
    xa, wa = _op_arrays(spec, n)
    x, w = _leaf(lib, xa, torch), _leaf(lib, wa, torch)
    fn = spec.fn

    def step() -> None:
        x.grad = None
        if w is not None:
            w.grad = None
        y = x
        for _ in range(length):
            y = fn(y, w, n)
        y.sum().backward()

    return step


def run_per_op(settings: Settings, torch: Any) -> list[dict[str, Any]]:
    libs = ["chainrule"] + (["torch"] if torch is not None else [])
    results = []
    cases = [(spec, n, "single") for spec in OPS for n in SIZES]
    cases += [(spec, n, "chain") for spec in OPS if spec.chain for n in SIZES]
    for spec, n, variant in cases:
        make = op_step if variant == "single" else chain_step
        fns = {lib: make(lib, spec, n, torch) for lib in libs}
        timings = measure(fns, min_time=settings.op_min_time, repeat=settings.op_repeat,
                          clock=settings.clock)
        per = CHAIN_LENGTH if variant == "chain" else 1
        cr_us = timings["chainrule"].best / per * 1e6
        th_us = timings["torch"].best / per * 1e6 if "torch" in timings else None
        size = f"{_side(n)}x{_side(n)}" if spec.matrix else str(n)
        results.append({
            "op": spec.name, "size": size, "numel": n, "variant": variant,
            "unit": "us/op" if variant == "chain" else "us/iter",
            "chainrule_us": cr_us, "torch_us": th_us,
            "speed_ratio": None if th_us is None else th_us / cr_us,
            "timings": {k: t.as_dict() for k, t in timings.items()},
        })
        print(f"  {spec.name:8s} {size:>6s} {variant:6s}  chainrule {cr_us:8.1f} us"
              + ("" if th_us is None else f"   torch {th_us:8.1f} us"), flush=True)
    return results


# --------------------------------------------------------------------------- MLP step


def mlp_data() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Batches (inputs, integer labels) and initial [W1, b1, W2, b2] (PyTorch's init)."""
    rng = np.random.default_rng(SEED)
    d_in, d_hid, d_out = MLP_SIZES
    xs = [rng.standard_normal((BATCH, d_in), dtype=np.float32) for _ in range(N_BATCHES)]
    ys = [rng.integers(0, d_out, size=BATCH) for _ in range(N_BATCHES)]  # int64

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    params = [uniform((d_hid, d_in), d_in), uniform((d_hid,), d_in),
              uniform((d_out, d_hid), d_hid), uniform((d_out,), d_hid)]
    return xs, ys, params


@dataclass
class MLPRunner:
    """``step()`` trains on the next batch and returns the loss; ``params()`` as arrays."""

    step: Callable[[], Any]
    params: Callable[[], list[np.ndarray]]


def chainrule_mlp() -> MLPRunner:
    xs, ys, init = mlp_data()
    batches = [(cr.tensor(x), cr.tensor(y)) for x, y in zip(xs, ys)]
    params = [cr.tensor(p.copy(), requires_grad=True) for p in init]
    w1, b1, w2, b2 = params
    bufs = [np.zeros_like(p.data) for p in params]
    k = [0]

    def step() -> Any:
        x, y = batches[k[0] % N_BATCHES]
        k[0] += 1
        h = cr.relu(crF.linear(x, w1, b1))
        logits = crF.linear(h, w2, b2)
        loss = cr.softmax_cross_entropy(logits, y).mean()
        loss.backward()
        for p, buf in zip(params, bufs):
            buf *= MOMENTUM
            buf += p.grad.data
            p.data -= LR * buf
            p.grad = None
        return loss

    return MLPRunner(step, lambda: [p.data for p in params])


def _nn_model(init: list[np.ndarray]) -> tuple[Any, Any, Any]:
    """The same MLP through the public layers: nn.Sequential, CrossEntropyLoss, optim.SGD."""
    from chainrule import nn, optim

    model = nn.Sequential(nn.Linear(MLP_SIZES[0], MLP_SIZES[1]), nn.ReLU(),
                          nn.Linear(MLP_SIZES[1], MLP_SIZES[2]))
    for p, value in zip(model.parameters(), init):
        p.data[...] = value
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return model, nn.CrossEntropyLoss(), opt


def _nn_step(model: Any, loss_fn: Any, opt: Any, x: Any, y: Any) -> Any:
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss


def chainrule_nn_mlp() -> MLPRunner:
    """Layers + optimizer on pre-made batches (``chainrule.nn`` / ``chainrule.optim``)."""
    xs, ys, init = mlp_data()
    model, loss_fn, opt = _nn_model(init)
    k = [0]

    def step() -> Any:
        i = k[0] % N_BATCHES
        k[0] += 1
        return _nn_step(model, loss_fn, opt, xs[i], ys[i])

    return MLPRunner(step, lambda: [p.data for p in model.parameters()])


def chainrule_loader_mlp() -> MLPRunner:
    """As ``chainrule_nn_mlp`` but every batch comes from a shuffling DataLoader."""
    from chainrule.data import ArrayDataset, DataLoader

    xs, ys, init = mlp_data()
    model, loss_fn, opt = _nn_model(init)
    loader = DataLoader(ArrayDataset(np.concatenate(xs), np.concatenate(ys)),
                        batch_size=BATCH, shuffle=True, drop_last=True, seed=SEED)
    it = [iter(loader)]

    def step() -> Any:
        try:
            x, y = next(it[0])
        except StopIteration:
            it[0] = iter(loader)
            x, y = next(it[0])
        return _nn_step(model, loss_fn, opt, x, y)

    return MLPRunner(step, lambda: [p.data for p in model.parameters()])


def numpy_mlp() -> MLPRunner:
    """The reference line: forward and backward written by hand in NumPy."""
    xs, ys, init = mlp_data()
    params = [p.copy() for p in init]
    w1, b1, w2, b2 = params
    bufs = [np.zeros_like(p) for p in params]
    rows = np.arange(BATCH)
    k = [0]

    def step() -> Any:
        x, y = xs[k[0] % N_BATCHES], ys[k[0] % N_BATCHES]
        k[0] += 1
        h = x @ w1.T
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ w2.T
        z += b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - z[rows, y])
        dz = e
        dz /= s
        dz[rows, y] -= 1
        dz /= BATCH
        grads = [None, None, dz.T @ h, dz.sum(axis=0)]
        dh = dz @ w2
        dh *= h > 0
        grads[0], grads[1] = dh.T @ x, dh.sum(axis=0)
        for p, buf, g in zip(params, bufs, grads):
            buf *= MOMENTUM
            buf += g
            p -= LR * buf
        return loss

    return MLPRunner(step, lambda: params)


def torch_mlp(torch: Any) -> MLPRunner:
    nn, F = torch.nn, torch.nn.functional
    xs, ys, init = mlp_data()
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(xs, ys)]
    d_in, d_hid, d_out = MLP_SIZES
    model = nn.Sequential(nn.Linear(d_in, d_hid), nn.ReLU(), nn.Linear(d_hid, d_out))
    with torch.no_grad():
        for p, a in zip(model.parameters(), init):
            p.copy_(torch.from_numpy(a))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    k = [0]

    def step() -> Any:
        x, y = batches[k[0] % N_BATCHES]
        k[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return MLPRunner(step, lambda: [p.detach().numpy() for p in model.parameters()])


def _as_float(loss: Any) -> float:
    return float(loss.item() if hasattr(loss, "item") else loss)


def mlp_agreement(runners: dict[str, MLPRunner], steps: int = 5) -> dict[str, Any]:
    """Train each fresh runner ``steps`` steps; compare losses and weights with NumPy's."""
    losses = {name: [_as_float(r.step()) for _ in range(steps)] for name, r in runners.items()}
    ref = runners["numpy"].params()
    out: dict[str, Any] = {"steps": steps, "losses": losses, "max_abs_param_diff": {}}
    for name, r in runners.items():
        if name != "numpy":
            out["max_abs_param_diff"][name] = max(
                float(np.max(np.abs(a - b))) for a, b in zip(r.params(), ref))
    return out


def run_mlp(settings: Settings, torch: Any) -> dict[str, Any]:
    def fresh() -> dict[str, MLPRunner]:
        rs = {"chainrule": chainrule_mlp(), "chainrule nn+optim": chainrule_nn_mlp(),
              "numpy": numpy_mlp()}
        if torch is not None:
            rs["torch"] = torch_mlp(torch)
        return rs

    check = mlp_agreement(fresh())
    runners = fresh()
    runners["chainrule nn+optim+DataLoader"] = chainrule_loader_mlp()
    timings = measure({k: r.step for k, r in runners.items()},
                      min_time=settings.mlp_min_time, repeat=settings.mlp_repeat, warmup=10,
                      clock=settings.clock)
    sps = {k: BATCH / t.best for k, t in timings.items()}
    out: dict[str, Any] = {
        "samples_per_s": sps,
        "step_ms": {k: t.best * 1e3 for k, t in timings.items()},
        "median_step_ms": {k: t.median * 1e3 for k, t in timings.items()},
        "timings": {k: t.as_dict() for k, t in timings.items()},
        "agreement": check,
    }
    if torch is not None:
        out["chainrule_over_torch"] = sps["chainrule"] / sps["torch"]
        out["numpy_over_torch"] = sps["numpy"] / sps["torch"]
    out["chainrule_over_numpy"] = sps["chainrule"] / sps["numpy"]
    return out


# --------------------------------------------------------------------------- report


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "-"
    return "ok" if ratio >= target else "MISS"


def print_report(meta: dict[str, Any], per_op: list[dict[str, Any]] | None,
                 mlp: dict[str, Any] | None) -> None:
    if per_op:
        print(f"\n== Per-op overhead, forward + backward, float32 (best of "
              f"{meta['settings']['op_repeat']}; target speed ratio >= {OP_TARGET}) ==")
        print("single: y = op(x[, w]); y.sum().backward()  -> us per iteration")
        print(f"chain:  {CHAIN_LENGTH} ops in a row; one .sum().backward() -> us per op\n")
        rows = [(r["op"], r["size"], r["variant"], fmt(r["chainrule_us"]), fmt(r["torch_us"]),
                 fmt(r["speed_ratio"], 2), _verdict(r["speed_ratio"], OP_TARGET))
                for r in per_op]
        print(format_table(["op", "size", "variant", "chainrule us", "torch us",
                            "speed ratio", "target"], rows, align="lllrrrl"))
        ratios = [r["speed_ratio"] for r in per_op if r["speed_ratio"]]
        if ratios:
            gm = math.exp(sum(math.log(v) for v in ratios) / len(ratios))
            met = sum(v >= OP_TARGET for v in ratios)
            print(f"\ngeometric mean speed ratio {gm:.2f}; {met}/{len(ratios)} rows meet "
                  f">= {OP_TARGET}")
    if mlp:
        print(f"\n== MLP training step {'-'.join(map(str, MLP_SIZES))}, batch {BATCH}, "
              f"SGD momentum {MOMENTUM}, float32 (best of {meta['settings']['mlp_repeat']}) ==")
        ref = mlp["samples_per_s"].get("torch")
        rows = []
        for name in ("chainrule", "chainrule nn+optim", "chainrule nn+optim+DataLoader",
                     "torch", "numpy"):
            if name not in mlp["samples_per_s"]:
                continue
            sps = mlp["samples_per_s"][name]
            ratio = None if ref is None else sps / ref
            target = _verdict(ratio, MLP_TARGET) if name.startswith("chainrule") else ""
            rows.append((name, fmt(mlp["step_ms"][name], 2), fmt(mlp["median_step_ms"][name], 2),
                         fmt(sps, 0), fmt(ratio, 2), target))
        print(format_table(["implementation", "ms/step", "median ms", "samples/s", "vs torch",
                            "target"], rows, align="lrrrrl"))
        print(f"\nchainrule / numpy reference: {mlp['chainrule_over_numpy']:.2f}x throughput")
        agr = mlp["agreement"]
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in agr["max_abs_param_diff"].items())
        last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in agr["losses"].items())
        print(f"agreement after {agr['steps']} steps: loss {last}; max |param - numpy| {diffs}")


# --------------------------------------------------------------------------- profiling


def _short(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func
    parts = Path(file).parts
    tail = "/".join(parts[-2:]) if "chainrule" in parts else Path(file).name
    return f"{tail}:{line}({func})"


def print_profile(prof: cProfile.Profile, steps: int, top: int = 30) -> None:
    """Top functions by own time and by cumulative time, per step (cProfile inflates both)."""
    st = pstats.Stats(prof)
    entries = [(k, nc, tt, ct) for k, (cc, nc, tt, ct, _) in st.stats.items()]  # type: ignore
    total = sum(e[2] for e in entries)
    print(f"profiled {steps} steps: {total / steps * 1e6:.0f} us/step under cProfile")
    for title, idx in (("own time", 2), ("cumulative time", 3)):
        rows = [(_short(k), fmt(nc / steps, 1), fmt(tt / steps * 1e6), fmt(ct / steps * 1e6))
                for k, nc, tt, ct in sorted(entries, key=lambda e: -e[idx])[:top]]
        print(f"\n-- top {top} by {title} (per step) --")
        print(format_table(["function", "calls", "own us", "cum us"], rows))


def dtype_audit() -> None:
    """Which primitives one chainrule MLP step runs, forward and backward, and their dtypes."""
    ops = cr.autograd.ops
    original = ops.Primitive.__call__
    log: list[tuple[str, str, tuple[str, ...], str, int]] = []
    phase = ["forward"]

    def spy(p: Any, *args: Any, **params: Any) -> Any:
        y = original(p, *args, **params)
        log.append((phase[0], p.name, tuple(str(a.data.dtype) for a in args),
                    str(y.data.dtype), y.data.nbytes))
        return y

    xs, ys, init = mlp_data()
    x, y = cr.tensor(xs[0]), cr.tensor(ys[0])
    w1, b1, w2, b2 = (cr.tensor(p, requires_grad=True) for p in init)
    ops.Primitive.__call__ = spy
    try:
        loss = cr.softmax_cross_entropy(crF.linear(cr.relu(crF.linear(x, w1, b1)), w2, b2),
                                        y).mean()
        phase[0] = "backward"
        loss.backward()
    finally:
        ops.Primitive.__call__ = original
    print("\n-- primitives run by one chainrule MLP step (dtype audit) --")
    counts = Counter((ph, name, ins, out) for ph, name, ins, out, _ in log)
    rows = [(ph, name, ",".join(ins), out, n) for (ph, name, ins, out), n in counts.items()]
    print(format_table(["phase", "primitive", "input dtypes", "output", "count"], rows,
                       align="lllll"))
    for ph in ("forward", "backward"):
        mb = sum(b for p, *_, b in log if p == ph) / 2**20
        print(f"{ph}: {sum(p == ph for p, *_ in log)} primitive calls, {mb:.2f} MiB of outputs")
    wide = [e for e in log if "float64" in e[2] or e[3] == "float64"]
    print("float64 anywhere: " + ("NONE" if not wide else f"{len(wide)} calls: {wide}"))
    grads = {n: (str(t.grad.dtype), t.grad.data.flags.c_contiguous)
             for n, t in zip(("W1", "b1", "W2", "b2"), (w1, b1, w2, b2))}
    print(f"leaf grads (dtype, C-contiguous): {grads}")


def run_profile(what: str, steps: int) -> None:
    if what == "mlp":
        step = chainrule_mlp().step
        label = "chainrule MLP step"
    else:
        spec = next(s for s in OPS if s.name == what)
        step = op_step("chainrule", spec, 1)
        label = f"chainrule per-op '{what}' on 1 element"
    for _ in range(10):
        step()
    print(f"== cProfile: {label} ==")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    print_profile(prof, steps)
    if what == "mlp":
        dtype_audit()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repeats (~20 s)")
    ap.add_argument("--json", metavar="PATH", help="write all results to this JSON file")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="threads for PyTorch (and for NumPy's BLAS when threadpoolctl is "
                         "installed); default: the thread count NumPy's BLAS already uses. "
                         "Set OMP_NUM_THREADS/OPENBLAS_NUM_THREADS/MKL_NUM_THREADS before "
                         "starting Python to fix NumPy's count without threadpoolctl")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time with the calling thread's CPU clock (time.thread_time): steady "
                         "on a busy machine, but only valid with one thread everywhere")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--part", choices=("all", "ops", "mlp"), default="all",
                    help="run only the per-op table or only the MLP step")
    ap.add_argument("--profile", metavar="WHAT",
                    help="instead of benchmarking, cProfile chainrule: 'mlp' (with a dtype "
                         "audit) or an op name from the per-op table (1-element case)")
    ap.add_argument("--profile-steps", type=int, default=None, metavar="N",
                    help="iterations to profile (default 300 for mlp, 20000 for an op)")
    args = ap.parse_args(argv)

    if args.profile:
        names = ["mlp"] + [s.name for s in OPS]
        if args.profile not in names:
            ap.error(f"--profile: choose one of {', '.join(names)}")
        steps = args.profile_steps or (300 if args.profile == "mlp" else 20000)
        run_profile(args.profile, steps)
        return 0

    settings = dataclasses.replace(QUICK if args.quick else DEFAULT, cpu_clock=args.cpu_clock)
    np_threads, how = numpy_blas_threads()
    threads = args.threads or np_threads  # what PyTorch gets
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

    per_op = mlp = None
    # A warning inside a timed loop would distort it: fail loudly instead.
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        if args.part in ("all", "ops"):
            print("\nper-op overhead ...", flush=True)
            per_op = run_per_op(settings, torch)
        if args.part in ("all", "mlp"):
            print("\nMLP step ...", flush=True)
            mlp = run_mlp(settings, torch)
    meta["load_average_end"] = load_average()
    print_report(meta, per_op, mlp)
    print(f"\nload average: {meta['load_average_start']} at start, "
          f"{meta['load_average_end']} at end")

    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "per_op": per_op, "mlp": mlp}, indent=2))
        print(f"\nresults written to {path}")
    return 0


__all__ = ["OPS", "Timing", "chain_step", "chainrule_mlp", "main", "numpy_mlp", "op_step",
           "torch_mlp"]

if __name__ == "__main__":
    sys.exit(main())
