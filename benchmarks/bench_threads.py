"""Training speed on an idle and on a loaded machine, by NumPy BLAS thread setting.

Issue 14 item 9: with two busy processes on a 2-core machine an MLP MNIST epoch took
37.8 s instead of 2.3 s, because NumPy's BLAS starts one thread per core and they
oversubscribe the cores. This measures a fixed number of training steps (forward,
backward, Adam step; MNIST-shaped random data, so no download) of chainrule's models:

* ``mlp``: ``chainrule train --model mlp --dataset mnist`` (784-256-10, dropout, batch 32),
* ``cnn``: ``chainrule train --model cnn --dataset mnist --batch-size 64``,
* ``lstm``: the ``char-lstm`` model (2 x LSTM 256, embedding 64, batch 64, 100 steps),

each in a fresh process per thread setting:

* ``numpy``: NumPy's own default (one BLAS thread per CPU; ``CHAINRULE_NUM_THREADS=0``),
* ``1``: one BLAS thread (``CHAINRULE_NUM_THREADS=1``),
* ``policy``: what ``import chainrule`` picks when the user set nothing,

on the machine as it is ("idle") and with ``--competitors`` busy processes (pure-Python
loops, same priority) running ("loaded"). Idle and loaded alternate repeat by repeat, the
settings rotate within each, and the median of ``--repeats`` is reported, with the ratios
the policy is judged by: loaded / idle for each setting (goal <= 2), and the setting's idle
time / NumPy's idle time (goal <= 1.05).

    python benchmarks/bench_threads.py [--workloads mlp,cnn,lstm] [--repeats 5] [--scale 1]
                                       [--competitors 2] [--json benchmarks/results/threads.json]

On a shared machine, "idle" is whatever the other users leave: the load average before
and after each phase is printed (and stored) so the conditions are on record.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, load_average, machine_summary  # noqa: E402

SETTINGS = {"numpy": "0", "1": "1", "policy": None}
STEPS = {"mlp": 1000, "cnn": 30, "lstm": 4}
THREAD_VARS = ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
BUSY = "while True: pass"


# --------------------------------------------------------------------------- child: one timing


def _child(workload: str, steps: int) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT / "src"))
    import chainrule as cr
    from chainrule import nn
    from chainrule.models import build_model
    from chainrule.optim import create_optimizer

    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    if workload == "lstm":
        from chainrule.models.charlm import CharLSTM

        model = CharLSTM(65)
        batch, x_all = 64, rng.integers(0, 65, (4 * 64, 101))

        def loss_of(j: int):
            ids = x_all[j * batch:(j + 1) * batch]
            logits, _ = model(ids[:, :-1])
            return nn.functional.cross_entropy(logits.reshape(-1, 65), ids[:, 1:].reshape(-1))
    else:
        shape = (28, 28) if workload == "mlp" else (1, 28, 28)
        batch = 32 if workload == "mlp" else 64
        model = build_model(workload, shape, 10)
        x_all = rng.standard_normal((20 * batch, *shape)).astype(np.float32)
        y_all = rng.integers(0, 10, 20 * batch)

        def loss_of(j: int):
            sl = slice(j * batch, (j + 1) * batch)
            return nn.functional.cross_entropy(model(cr.tensor(x_all[sl])), y_all[sl])

    opt = create_optimizer("adam", model.parameters(), 1e-3)
    n_batches = len(x_all) // batch

    def step(i: int) -> None:
        loss = loss_of(i % n_batches)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    print(json.dumps({"seconds": time.perf_counter() - t0, "threads": cr.get_num_threads()}))


# --------------------------------------------------------------------------- parent


def _time(workload: str, setting: str, steps: int) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if SETTINGS[setting] is not None:
        env["CHAINRULE_NUM_THREADS"] = SETTINGS[setting]
    out = subprocess.run([sys.executable, __file__, "--child", workload, "--steps", str(steps)],
                         env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], result["threads"]


def _measure(workloads: list[str], repeats: int, steps: dict[str, int],
             competitors: int) -> tuple[dict, dict, dict[str, int]]:
    """Idle and loaded timings, alternated repeat by repeat (so that a change in what the
    rest of the machine does hits both alike), settings rotated within each."""
    times: dict[str, dict] = {c: {w: {s: [] for s in SETTINGS} for w in workloads}
                              for c in ("idle", "loaded")}
    threads: dict[str, int] = {}
    names = list(SETTINGS)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for condition in ("idle", "loaded"):
            procs = _start_competitors(competitors) if condition == "loaded" else []
            try:
                for w in workloads:
                    for s in order:
                        seconds, threads[s] = _time(w, s, steps[w])
                        times[condition][w][s].append(seconds)
            finally:
                for proc in procs:
                    proc.kill()
                    proc.wait()
        print(f"repeat {r + 1}/{repeats} done, load average {load_average()}", flush=True)
    return times["idle"], times["loaded"], threads


def _start_competitors(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]
    time.sleep(1.0)
    return procs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", default="mlp,cnn,lstm")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--competitors", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="steps per timing (default: "
                   + ", ".join(f"{k} {v}" for k, v in STEPS.items()) + ")")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the default steps by this (a busy machine: 0.3)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        _child(a.child, a.steps or STEPS[a.child])
        return
    workloads = a.workloads.split(",")
    steps = {w: a.steps or max(1, round(STEPS[w] * a.scale)) for w in workloads}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cpus} CPUs; steps {steps}; {a.repeats} repeats, settings alternated; "
          f"loaded = {a.competitors} busy processes")
    load = {"before": load_average()}
    idle, loaded, threads = _measure(workloads, a.repeats, steps, a.competitors)
    load["after"] = load_average()
    print(f"load average (1 min) before and after: {load}")
    print(f"BLAS threads per setting: {threads}")
    rows = []
    print(f"\n{'workload':<8} {'setting':<7} {'idle s':>8} {'loaded s':>9} {'loaded/idle':>11} "
          f"{'idle / numpy idle':>17}")
    for w in workloads:
        base = statistics.median(idle[w]["numpy"])
        for s in SETTINGS:
            t_idle = statistics.median(idle[w][s])
            t_load = statistics.median(loaded[w][s])
            rows.append({"workload": w, "setting": s, "threads": threads[s],
                         "idle_s": t_idle, "loaded_s": t_load, "loaded_over_idle": t_load / t_idle,
                         "idle_over_numpy_idle": t_idle / base,
                         "idle_all": idle[w][s], "loaded_all": loaded[w][s]})
            print(f"{w:<8} {s:<7} {t_idle:>8.2f} {t_load:>9.2f} {t_load / t_idle:>11.2f} "
                  f"{t_idle / base:>17.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(
            {"machine": machine_summary(), "cpus": cpus, "steps": steps, "repeats": a.repeats,
             "competitors": a.competitors, "load_average": load, "rows": rows}, indent=2) + "\n")
        print(f"\nwrote {a.json}")


if __name__ == "__main__":
    main()
