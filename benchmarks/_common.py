"""Shared helpers for the benchmark scripts: import path, thread counts, timing, tables.

Nothing here knows about any particular benchmark. Timing follows ``timeit``: a warm-up,
a calibrated number of calls per repeat (so one repeat lasts at least ``min_time``), and
several repeats; candidates measured side by side are *interleaved* repeat by repeat so
that drift (frequency scaling, a noisy neighbour) hits all of them alike.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- environment


def import_chainrule() -> Any:
    """Import chainrule, falling back to the source tree when it is not installed."""
    try:
        import chainrule
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))
        import chainrule
    return chainrule


def import_torch() -> Any | None:
    """PyTorch, or None when it is not installed (or does not load)."""
    try:
        import torch
    except (ImportError, OSError):
        return None
    return torch


def numpy_blas_threads() -> tuple[int, str]:
    """Threads NumPy's BLAS uses, and how that was found out.

    Uses ``threadpoolctl`` when installed (looking for the BLAS library NumPy loaded, not
    one another package brought along); otherwise reads the environment variables OpenBLAS
    and MKL read at start-up, and failing those assumes ``os.cpu_count()``, which is what
    they pick when nothing limits them.
    """
    import numpy  # noqa: F401  (make sure NumPy's BLAS is loaded before asking)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return _threads_from_env("threadpoolctl not installed")
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    mine = [i for i in blas if "numpy" in str(i.get("filepath", "")).lower()] or blas
    if not mine:
        return _threads_from_env("threadpoolctl found no BLAS")
    info = mine[0]
    return int(info["num_threads"]), (f"threadpoolctl: {info.get('internal_api')} "
                                      f"{info.get('version') or ''}".rstrip())


def _threads_from_env(why: str) -> tuple[int, str]:
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value), f"${var}; {why}"
    return os.cpu_count() or 1, f"os.cpu_count(); {why}"


_BLAS_LIMITER: Any = None


def limit_numpy_blas_threads(n: int) -> bool:
    """Limit NumPy's BLAS to ``n`` threads for the rest of the process, if threadpoolctl can.

    Returns False when threadpoolctl is missing (then only the environment variables set
    before Python starts can change it).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    global _BLAS_LIMITER
    _BLAS_LIMITER = threadpool_limits(limits=n, user_api="blas")
    return True


def load_average() -> float | None:
    """The 1-minute load average (None where the OS does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def load_warning(cpus: int | None = None) -> str | None:
    """A warning line when other processes already keep the CPUs busy, else None."""
    load, cpus = load_average(), cpus or os.cpu_count() or 1
    if load is None or load < 0.5 * cpus:
        return None
    return (f"WARNING: load average {load} on {cpus} CPUs: other processes compete for the "
            f"CPUs, so timings will be noisy (compare best-of numbers, run again when idle)")


def machine_summary() -> dict[str, Any]:
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_start": load_average(),
    }


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Seconds per call, one entry per repeat, and how many calls each repeat made."""

    number: int
    per_call: list[float]

    @property
    def best(self) -> float:
        return min(self.per_call)

    @property
    def median(self) -> float:
        return statistics.median(self.per_call)

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "best_s": self.best, "median_s": self.median,
                "per_call_s": self.per_call}


Clock = Callable[[], float]


def _loop(fn: Callable[[], Any], number: int, clock: Clock = time.perf_counter) -> float:
    it = itertools.repeat(None, number)
    t0 = clock()
    for _ in it:
        fn()
    return clock() - t0


def calibrate(fn: Callable[[], Any], min_time: float, clock: Clock = time.perf_counter) -> int:
    """Calls per repeat so that one repeat takes about ``min_time`` seconds (at least 1).

    Grows the call count geometrically until a trial lasts a fifth of ``min_time``, then
    scales it up, so calibration costs well under one repeat.
    """
    number = 1
    while True:
        elapsed = _loop(fn, number, clock)
        if elapsed >= min_time / 5:
            return max(1, math.ceil(number * min_time / elapsed))
        number *= 2 if elapsed >= min_time / 50 else 10


def measure(fns: dict[str, Callable[[], Any]], *, min_time: float, repeat: int,
            warmup: int = 3, clock: Clock = time.perf_counter) -> dict[str, Timing]:
    """Time several candidates side by side, interleaving their repeats.

    Each candidate is warmed up (``warmup`` calls) and calibrated on its own; then repeat
    ``r`` of every candidate runs before repeat ``r + 1`` of any. A collection runs before
    each repeat so garbage from one candidate is not charged to the next; the collector
    stays enabled while timing, as in a real program. Call ``freeze_heap()`` once after
    the imports so collections do not walk the libraries' own objects.

    ``clock`` is wall time by default; ``time.thread_time`` counts only the CPU time of
    the calling thread, which ignores time lost to other processes but is only right when
    all the work runs in that thread (one BLAS and one PyTorch thread).
    """
    numbers: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        numbers[name] = calibrate(fn, min_time, clock)
    per_call: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            per_call[name].append(_loop(fn, numbers[name], clock) / numbers[name])
    return {name: Timing(numbers[name], per_call[name]) for name in fns}


# --------------------------------------------------------------------------- command line


def peer_arguments(description: str, threads: int | None = 1) -> argparse.ArgumentParser:
    """A parser with the flags of a side-by-side benchmark against PyTorch: ``--threads``
    (for PyTorch and NumPy's BLAS), ``--cpu-clock`` (time the calling thread's CPU time,
    right with one thread) and ``--quick`` (fewer, shorter repeats)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=threads,
                    help="threads for PyTorch and NumPy's BLAS alike")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time this thread's CPU time (time.thread_time), which ignores "
                         "other processes; use with --threads 1")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    return ap


def start_peer_run(args: argparse.Namespace) -> tuple[Any | None, Clock]:
    """Apply ``args.threads`` to NumPy's BLAS and to PyTorch, print the load warning when
    the machine is busy; returns PyTorch (None when missing) and the clock to time with."""
    torch = import_torch()
    if args.threads:
        limit_numpy_blas_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    warning = load_warning()
    if warning:
        print(warning)
    return torch, time.thread_time if args.cpu_clock else time.perf_counter


# --------------------------------------------------------------------------- tables


def freeze_heap() -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``).

    With PyTorch imported, a full collection walks ~10^5 library objects (tens of ms);
    one landing inside a timed repeat would be charged to whichever candidate ran then.
    """
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                 align: str | None = None) -> str:
    """A plain-text table; ``align`` has one 'l' or 'r' per column (default: first left)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(r, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def fmt(x: float | None, digits: int = 1) -> str:
    """A number with fixed decimals, or '-' when missing."""
    return "-" if x is None else f"{x:,.{digits}f}"


def peer_speed_table(timings: dict[str, Timing], items: int, unit: str,
                     goal: float | None = None, name: str = "chainrule",
                     peer: str = "torch") -> str:
    """The result of a side-by-side run: ms per step (best and median), ``unit`` per second
    (``items`` per step) and the speed ratio against ``peer``; with ``goal``, a last line
    saying whether ``name`` reaches ``goal`` times the peer's throughput."""
    ref = timings[peer].best if peer in timings else None
    table = format_table(
        ["implementation", "ms/step", "median", f"{unit}/s", f"vs {peer}"],
        [[key, fmt(t.best * 1e3, 2), fmt(t.median * 1e3, 2), fmt(items / t.best),
          f"{ref / t.best:.2f}" if ref else "-"] for key, t in timings.items()])
    if ref and goal is not None:
        verdict = "ok" if ref / timings[name].best >= goal else "MISS"
        table += f"\ngoal {name} >= {goal}x {peer} throughput: {verdict}"
    return table
