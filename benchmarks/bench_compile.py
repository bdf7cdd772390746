#!/usr/bin/env python
"""Compiled chainrule (``cr.compile`` / ``compile_step``) side by side with eager chainrule,
PyTorch eager and hand-written NumPy, in one process, float32.

1. **MLP step** (784-256-10 ReLU, batch 128, SGD momentum 0.9, the workload of
   ``bench_engine.py``, same data and weights): eager chainrule (raw tensors, momentum
   update in NumPy), the same step compiled (``cr.compile`` of loss + gradients, the same
   NumPy update), ``compile_step`` with ``nn`` + ``optim``, the hand-written NumPy
   reference and PyTorch. Goals: compiled >= 1.0x NumPy, >= 1.1x PyTorch.
2. **Per-op chains** (the chain rows of ``bench_engine.py``: 100 elementwise ops then one
   backward, 1 and 100 elements), microseconds per op. Goal: compiled >= 2x PyTorch.
3. **Networks**: the DLFS ch. 7 CNN (``bench_conv.py``, batch 60) and the character LSTM
   (``bench_lstm.py``), one training step with ``compile_step``, dropout on (a compiled
   graph draws a new mask at every run). Goal: >= 1.0x PyTorch.
4. **Peak memory** of one training step (``tracemalloc``: NumPy's buffers), eager against
   compiled. Goal: compiled <= eager.

"speed ratio" is the other's time / compiled time: >= 1 means compiled is faster.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_compile.py --threads 1 --cpu-clock
    python benchmarks/bench_compile.py --quick --part mlp        # or: chains, nets, memory
    python benchmarks/bench_compile.py --part profile    # the MLP line by line; net nodes
    python benchmarks/bench_compile.py --part kernels    # conv kernels: im2col / row path
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import bench_conv as bc  # noqa: E402
import bench_engine as be  # noqa: E402
import bench_lstm as bl  # noqa: E402
from _common import (  # noqa: E402
    format_table,
    freeze_heap,
    import_torch,
    limit_numpy_blas_threads,
    load_warning,
    measure,
)

cr = be.cr
crF = be.crF
from chainrule import nn, optim  # noqa: E402
from chainrule.graph import compile_step  # noqa: E402

# --------------------------------------------------------------------------- MLP


def compiled_mlp() -> be.MLPRunner:
    """``bench_engine.chainrule_mlp`` with loss and gradients from one compiled graph."""
    xs, ys, init = be.mlp_data()
    params = [cr.tensor(p.copy(), requires_grad=True) for p in init]
    w1, b1, w2, b2 = params
    bufs = [np.zeros_like(p.data) for p in params]

    @cr.compile
    def loss_and_grads(x: Any, y: Any) -> Any:
        h = cr.relu(crF.linear(x, w1, b1))
        loss = cr.softmax_cross_entropy(crF.linear(h, w2, b2), y).mean()
        return loss, cr.autograd.engine.grad([loss], params)

    k = [0]

    def step() -> Any:
        i = k[0] % be.N_BATCHES
        k[0] += 1
        loss, grads = loss_and_grads(xs[i], ys[i])
        for p, buf, g in zip(params, bufs, grads):
            buf *= be.MOMENTUM
            buf += g.data
            p.data -= be.LR * buf
        return loss

    return be.MLPRunner(step, lambda: [p.data for p in params])


def compiled_nn_mlp() -> be.MLPRunner:
    """The same MLP through nn.Sequential, CrossEntropyLoss and optim.SGD, compile_step."""
    xs, ys, init = be.mlp_data()
    model, loss_fn, opt = be._nn_model(init)
    step_fn = compile_step(lambda x, y: loss_fn(model(x), y), model.parameters(), opt)
    k = [0]

    def step() -> Any:
        i = k[0] % be.N_BATCHES
        k[0] += 1
        return step_fn(xs[i], ys[i])

    return be.MLPRunner(step, lambda: [p.data for p in model.parameters()])


def run_mlp(settings: be.Settings, torch: Any) -> list[list[Any]]:
    def fresh() -> dict[str, be.MLPRunner]:
        rs = {"numpy": be.numpy_mlp(), "chainrule eager": be.chainrule_mlp(),
              "chainrule compiled": compiled_mlp(),
              "chainrule compile_step (nn+optim)": compiled_nn_mlp()}
        if torch is not None:
            rs["torch eager"] = be.torch_mlp(torch)
        return rs

    check = be.mlp_agreement({("numpy" if k == "numpy" else k): r
                              for k, r in fresh().items()})
    runners = fresh()
    t = measure({k: r.step for k, r in runners.items()}, min_time=settings.mlp_min_time,
                repeat=settings.mlp_repeat, warmup=10, clock=settings.clock)
    best = t["chainrule compiled"].best
    rows = []
    for name, timing in t.items():
        rows.append([name, f"{timing.best * 1e3:.3f}", f"{be.BATCH / timing.best:,.0f}",
                     f"{timing.best / best:.2f}",
                     f"{check['max_abs_param_diff'].get(name, 0.0):.1e}"])
    print("MLP 784-256-10 training step, batch 128 (ratio = its time / compiled time)")
    print(format_table(["implementation", "ms/step", "samples/s", "ratio", "param diff"],
                       rows))
    return rows


# --------------------------------------------------------------------------- chains


def compiled_chain(spec: be.OpSpec, n: int, fast_math: bool = False) -> Callable[[], None]:
    xa, wa = be._op_arrays(spec, n)
    fn = spec.fn

    def loss(x: Any, w: Any) -> Any:
        y = x
        for _ in range(be.CHAIN_LENGTH):
            y = fn(y, w, n)
        return y.sum()

    # the value too, as eager and torch compute it: with only the gradient returned, dead
    # code elimination would drop the forward chain of add (its gradient needs no value)
    if wa is None:
        f = cr.compile(cr.value_and_grad(lambda x: loss(x, None)), fast_math=fast_math)
        return lambda: f(xa)
    f = cr.compile(cr.value_and_grad(loss, argnums=(0, 1)), fast_math=fast_math)
    return lambda: f(xa, wa)


def run_chains(settings: be.Settings, torch: Any) -> list[list[Any]]:
    rows = []
    for spec in be.OPS:
        if not spec.chain:
            continue
        for n in be.SIZES:
            fns = {"eager": be.chain_step("chainrule", spec, n),
                   "compiled": compiled_chain(spec, n)}
            if spec.name == "sigmoid":  # the only chain fast_math changes (fuse.py)
                fns["fast-math"] = compiled_chain(spec, n, fast_math=True)
            if torch is not None:
                fns["torch"] = be.chain_step("torch", spec, n, torch)
            t = measure(fns, min_time=settings.op_min_time, repeat=settings.op_repeat,
                        clock=settings.clock)
            us = {k: v.best / be.CHAIN_LENGTH * 1e6 for k, v in t.items()}
            ratio = us["torch"] / us["compiled"] if "torch" in us else None
            fast = us.get("fast-math")
            rows.append([f"{spec.name} x{be.CHAIN_LENGTH}", n, f"{us['eager']:.2f}",
                         f"{us['compiled']:.2f}", f"{us.get('torch', float('nan')):.2f}",
                         "-" if ratio is None else f"{ratio:.2f}",
                         "-" if fast is None else f"{fast:.2f}",
                         "-" if fast is None or "torch" not in us else f"{us['torch'] / fast:.2f}"])
    print("\nPer-op chains: 100 elementwise ops + backward, us per op "
          "(ratio = torch / compiled; goal >= 2; fast-math: compile(fast_math=True))")
    print(format_table(["chain", "n", "eager", "compiled", "torch", "ratio", "fast-math",
                        "ratio"], rows))
    return rows


# --------------------------------------------------------------------------- networks


def _compiled_cnn(net: bc.Net, dropout: bool = True) -> Callable[[], Any]:
    runner = bc.chainrule_runner(net, dropout=dropout)
    model = runner.model
    opt = optim.SGD(model.parameters(), lr=bc.LR, momentum=bc.MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    step_fn = compile_step(lambda x, y: loss_fn(model(x), y), model.parameters(), opt)
    data = bc.batches(net)
    k = [0]

    def step() -> Any:
        x, y = data[k[0] % bc.N_BATCHES]
        k[0] += 1
        return step_fn(x, y)

    step.compiled_step = step_fn  # type: ignore[attr-defined]  (for --part profile)
    return step


def _lstm_steps(torch: Any) -> dict[str, Callable[[], Any]]:
    x, y = bl.data()
    model = bl.CharModel()
    opt = optim.SGD(model.parameters(), lr=bl.LR, momentum=bl.MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    step_fn = compile_step(lambda a, b: loss_fn(model(a), b), model.parameters(), opt)
    def compiled() -> Any:
        return step_fn(x, y)

    compiled.compiled_step = step_fn  # type: ignore[attr-defined]  (for --part profile)
    fns = {"eager": bl.chainrule_step(), "compiled": compiled}
    if torch is not None:
        fns["torch"] = bl.torch_step(torch)
    return fns


def run_nets(settings: be.Settings, torch: Any) -> list[list[Any]]:
    rows = []
    net = bc.CH7
    fns = {"eager": bc.chainrule_runner(net).step, "compiled": _compiled_cnn(net)}
    if torch is not None:
        fns["torch"] = bc.torch_runner(net, torch).step
    for name, group in ((f"{net.name} (batch {net.batch})", fns),
                        (f"char LSTM (seq {bl.STEPS}, batch {bl.BATCH})", _lstm_steps(torch))):
        t = measure(group, min_time=settings.mlp_min_time, repeat=max(3, settings.mlp_repeat // 2),
                    warmup=3, clock=settings.clock)
        ms = {k: v.best * 1e3 for k, v in t.items()}
        ratio = ms["torch"] / ms["compiled"] if "torch" in ms else None
        rows.append([name, f"{ms['eager']:.2f}", f"{ms['compiled']:.2f}",
                     f"{ms.get('torch', float('nan')):.2f}",
                     "-" if ratio is None else f"{ratio:.2f}"])
    print("\nNetworks, ms per training step (ratio = torch / compiled; goal >= 1)")
    print(format_table(["network", "eager", "compiled", "torch", "ratio"], rows))
    return rows


# --------------------------------------------------------------------------- profile


def _node_times(step: Callable[[], Any], repeats: int) -> tuple[list[tuple[float, str]], float]:
    """Thread CPU time per node of the compiled step's graph (ms per step), and the step's."""
    from chainrule.graph import run as graph_run

    step()  # traced
    graph = next(iter(step.compiled_step.compiled.graphs.values()))  # type: ignore[attr-defined]
    acc: dict[str, float] = {}
    plain = graph_run._callable

    def timed(node: Any, extra: dict) -> Callable:
        fn, key = plain(node, extra), str(node)

        def run(*a: Any, **k: Any) -> Any:
            t = time.thread_time()
            out = fn(*a, **k)
            acc[key] = acc.get(key, 0.0) + time.thread_time() - t
            return out
        return run

    graph_run._callable = timed
    try:
        graph.invalidate()
        step()
        acc.clear()
        t0 = time.thread_time()
        for _ in range(repeats):
            step()
        total = (time.thread_time() - t0) / repeats * 1e3
    finally:
        graph_run._callable = plain
        graph.invalidate()
    return sorted(((v / repeats * 1e3, k) for k, v in acc.items()), reverse=True), total


CONV_SHAPES = {  # name: (N, C, H, O, k, padding), float32, stride 1
    "ch7 16->8 5x5": (60, 16, 28, 8, 5, 2),
    "ch7 1->16 5x5": (60, 1, 28, 16, 5, 2),
    "cnn 32->64 3x3": (64, 32, 14, 64, 3, 1),
    "cnn 1->32 3x3": (64, 1, 28, 32, 3, 1),
}


def _conv_kernel_ms(torch: Any, shape: tuple, repeats: int) -> dict[tuple[str, str], float]:
    """One convolution's NumPy kernels (forward, input and weight cotangents) on each path
    (the row path forced on, forced off, and as ``rows_path`` picks) and PyTorch's, thread
    CPU ms (best of ``repeats``, the variants alternated)."""
    from chainrule.nn.kernels import im2col

    n, c, h, o, k, pad = shape
    r = np.random.default_rng(0)
    x = r.standard_normal((n, c, h, h)).astype(np.float32)
    w = r.standard_normal((o, c, k, k)).astype(np.float32)
    b = r.standard_normal(o).astype(np.float32)
    g = r.standard_normal((n, o, h + 2 * pad - k + 1, h + 2 * pad - k + 1)).astype(np.float32)
    geo = {"stride": (1, 1), "dilation": (1, 1), "padding": ((pad, pad), (pad, pad)),
           "groups": 1}
    kernels = {"forward": lambda: im2col.conv_np(x, w, b, **geo),
               "input grad": lambda: im2col.conv_grad_x_np(g, w, x.shape, **geo),
               "weight grad": lambda: im2col.conv_grad_w_np(g, x, w.shape, **geo)}
    rule = im2col.rows_path
    paths = {"rule": rule, "rows": lambda *a: True, "im2col": lambda *a: False}
    fns = {(kind, path): (paths[path], f) for kind, f in kernels.items() for path in paths}
    if torch is not None:
        tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))
        tf = torch.nn.functional
        for kind, f in {"forward": lambda: tf.conv2d(tx, tw, tb, padding=pad),
                        "input grad": lambda: torch.nn.grad.conv2d_input(
                            x.shape, tw, tg, padding=pad),
                        "weight grad": lambda: torch.nn.grad.conv2d_weight(
                            tx, w.shape, tg, padding=pad)}.items():
            fns[(kind, "torch")] = (rule, f)
    best = {key: float("inf") for key in fns}
    try:
        for _ in range(repeats):
            for key, (path, f) in fns.items():
                im2col.rows_path = path
                t = time.thread_time()
                f()
                best[key] = min(best[key], time.thread_time() - t)
    finally:
        im2col.rows_path = rule
    return {key: v * 1e3 for key, v in best.items()}


def run_kernels(settings: be.Settings, torch: Any) -> None:
    """The convolution kernels of the CNNs, each path, against PyTorch."""
    from chainrule.nn.kernels import im2col

    rows = []
    for name, shape in CONV_SHAPES.items():
        ms = _conv_kernel_ms(torch, shape, repeats=5 if settings is be.QUICK else 15)
        n, c, h, o, k, pad = shape
        for kind in ("forward", "input grad", "weight grad"):
            # the input cotangent is a convolution with the flipped kernel (C, O, k, k)
            w_shape = (c, o, k, k) if kind == "input grad" else (o, c, k, k)
            picked = "rows" if im2col.rows_path(w_shape, (1, 1), 1) else "im2col"
            theirs = ms.get((kind, "torch"), float("nan"))
            rows.append([name, kind, picked, f"{ms[(kind, 'im2col')]:.2f}",
                         f"{ms[(kind, 'rows')]:.2f}", f"{ms[(kind, 'rule')]:.2f}",
                         f"{theirs:.2f}", f"{theirs / ms[(kind, 'rule')]:.2f}"])
    print("\nConvolution kernels, thread CPU ms (float32; 'input grad' is a convolution of "
          "the output cotangent with the flipped kernel, its path picked for that shape)")
    print(format_table(["conv", "kernel", "rule picks", "im2col", "rows", "as picked", "torch",
                        "torch / picked"], rows))


# the hand-written NumPy step (bench_engine.numpy_mlp) line by line, in its order
REFERENCE_LINES = [
    ("h = x @ w1.T; h += b1", "h = x @ w1.T\nh += b1"),
    ("np.maximum(h, 0, out=h)", "np.maximum(h, 0, out=h)"),
    ("z = h @ w2.T; z += b2", "z = h @ w2.T\nz += b2"),
    ("softmax and loss (max, exp, sum, log, mean)",
     "z -= z.max(axis=1, keepdims=True)\ne = np.exp(z)\ns = e.sum(axis=1, keepdims=True)\n"
     "loss = np.mean(np.log(s[:, 0]) - z[rows, y])"),
    ("dz = e / s, -1 at targets, / batch", "dz = e\ndz /= s\ndz[rows, y] -= 1\ndz /= len(y)"),
    ("dz.T @ h", "g2 = dz.T @ h"), ("dz.sum(axis=0)", "g3 = dz.sum(axis=0)"),
    ("dh = dz @ w2", "dh = dz @ w2"), ("dh *= h > 0", "dh *= h > 0"),
    ("dh.T @ x", "g0 = dh.T @ x"), ("dh.sum(axis=0)", "g1 = dh.sum(axis=0)"),
]


def _mlp_profile(repeats: int) -> None:
    """The compiled MLP step's nodes beside the reference's lines (thread CPU us per step,
    same data; the momentum update, the same NumPy in both, left out)."""
    xs, ys, init = be.mlp_data()
    params = [cr.tensor(p.copy(), requires_grad=True) for p in init]
    w1, b1, w2, b2 = params

    @cr.compile
    def loss_and_grads(x: Any, y: Any) -> Any:
        h = cr.relu(crF.linear(x, w1, b1))
        loss = cr.softmax_cross_entropy(crF.linear(h, w2, b2), y).mean()
        return loss, cr.autograd.engine.grad([loss], params)

    def step() -> Any:
        return loss_and_grads(xs[0], ys[0])

    step.compiled_step = types.SimpleNamespace(compiled=loss_and_grads)  # type: ignore
    codes = [(label, compile(src, label, "exec")) for label, src in REFERENCE_LINES]
    base = {"np": np, "x": xs[0], "y": ys[0], "rows": np.arange(len(ys[0])),
            "w1": init[0], "b1": init[1], "w2": init[2], "b2": init[3]}
    ref: dict[str, float] = {}
    best: dict[str, float] = {}
    ref_total = total = float("inf")
    for _ in range(5):  # alternated rounds; each entry's smallest mean over the rounds
        acc = dict.fromkeys([label for label, _ in codes], 0.0)
        t0 = time.thread_time()
        for _ in range(repeats):
            ns = dict(base)
            for label, code in codes:
                t = time.thread_time()
                exec(code, ns)  # noqa: S102 - the fixed lines above
                acc[label] += time.thread_time() - t
        ref_total = min(ref_total, (time.thread_time() - t0) / repeats * 1e6)
        for label, v in acc.items():
            ref[label] = min(ref.get(label, v), v)
        nodes, round_total = _node_times(step, repeats)
        total = min(total, round_total)
        for t, key in nodes:
            best[key] = min(best.get(key, t), t)
    nodes = sorted(((t, key) for key, t in best.items()), reverse=True)
    print(f"\nMLP 784-256-10 (batch 128): compiled call {total * 1e3:.1f} us, "
          f"{sum(t for t, _ in nodes) * 1e3:.1f} us in its {len(nodes)} nodes; the "
          f"reference's lines {ref_total:.1f} us, {sum(ref.values()) / repeats * 1e6:.1f} "
          f"us in them")
    print(format_table(["us", "compiled node"], [[f"{t * 1e3:.1f}", key[:90]]
                                                 for t, key in nodes]))
    print(format_table(["us", "reference line"], [[f"{v / repeats * 1e6:.1f}", label]
                                                  for label, v in ref.items()]))


def run_profile(settings: be.Settings, torch: Any) -> None:
    """Where a compiled step spends its time: the MLP's nodes beside the reference's
    lines, the top nodes of the network steps."""
    _mlp_profile(repeats=50 if settings is be.QUICK else 200)
    steps = {f"{bc.CH7.name} (batch {bc.CH7.batch})": _compiled_cnn(bc.CH7),
             f"char LSTM (seq {bl.STEPS}, batch {bl.BATCH})": _lstm_steps(None)["compiled"]}
    for name, step in steps.items():
        nodes, total = _node_times(step, repeats=5 if settings is be.QUICK else 20)
        inside = sum(t for t, _ in nodes)
        print(f"\n{name}: {total:.2f} ms per compiled step, {inside:.2f} ms in its "
              f"{len(nodes)} nodes; the top 5:")
        rows = [[f"{t:.2f}", f"{100 * t / total:.0f}%", key[:90]] for t, key in nodes[:5]]
        print(format_table(["ms", "share", "node"], rows))
    if torch is not None:
        ms = _conv_kernel_ms(torch, CONV_SHAPES["ch7 16->8 5x5"],
                             repeats=5 if settings is be.QUICK else 20)
        ours, theirs = ms[("forward", "rule")], ms[("forward", "torch")]
        print(f"\nThe CNN's 16->8 5x5 conv forward alone: chainrule's kernel {ours:.2f} ms, "
              f"PyTorch {theirs:.2f} ms ({ours / theirs:.1f}x)")


# --------------------------------------------------------------------------- memory


def _peak(step: Callable[[], Any]) -> int:
    step()
    step()  # traced, momentum buffers made: what every later step looks like
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def run_memory() -> list[list[Any]]:
    cases = {"MLP 784-256-10 (nn+optim)": (lambda: _nn_mlp_step(False),
                                            lambda: _nn_mlp_step(True)),
             f"{bc.CH7.name}": (lambda: bc.chainrule_runner(bc.CH7).step,
                                lambda: _compiled_cnn(bc.CH7))}
    rows = []
    for name, (eager, compiled) in cases.items():
        a, b = _peak(eager()), _peak(compiled())
        rows.append([name, f"{a / 2**20:.2f}", f"{b / 2**20:.2f}", f"{b / a:.2f}"])
    print("\nPeak memory of one training step, MiB (tracemalloc; goal compiled <= eager)")
    print(format_table(["network", "eager", "compiled", "compiled/eager"], rows))
    return rows


def _nn_mlp_step(compiled: bool) -> Callable[[], Any]:
    return (compiled_nn_mlp() if compiled else be.chainrule_nn_mlp()).step


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="torch and NumPy BLAS threads (set OPENBLAS_NUM_THREADS too)")
    p.add_argument("--cpu-clock", action="store_true",
                   help="time this thread's CPU time (use with --threads 1 on a busy box)")
    p.add_argument("--part", choices=["all", "mlp", "chains", "nets", "memory", "profile",
                                      "kernels"], default="all",
                   help="profile, kernels (not in all): the top nodes of the net steps; the "
                        "convolution kernels on each path")
    a = p.parse_args(argv)
    settings = be.QUICK if a.quick else be.DEFAULT
    if a.cpu_clock:
        settings = be.dataclasses.replace(settings, cpu_clock=True)
    torch = import_torch()
    if a.threads:
        limit_numpy_blas_threads(a.threads)
        if torch is not None:
            torch.set_num_threads(a.threads)
    print(f"threads: torch {torch.get_num_threads() if torch else '-'}, "
          f"clock: {'thread CPU' if a.cpu_clock else 'wall'}")
    warn = load_warning()
    if warn:
        print(warn)
    freeze_heap()
    started = time.perf_counter()
    if a.part in ("all", "mlp"):
        run_mlp(settings, torch)
    if a.part in ("all", "chains"):
        run_chains(settings, torch)
    if a.part in ("all", "nets"):
        run_nets(settings, torch)
    if a.part in ("all", "memory"):
        run_memory()
    if a.part == "profile":
        run_profile(settings, torch)
    if a.part == "kernels":
        run_kernels(settings, torch)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
