"""How many threads NumPy's BLAS (and OpenMP) may use: ``set_num_threads`` / ``get_num_threads``.

chainrule computes with NumPy, and NumPy's matrix products run in its BLAS library
(OpenBLAS in the wheels), which by default starts one thread per CPU. On a machine whose
CPUs are busy with other work those threads oversubscribe the cores: every product waits
for its slowest thread, and a training step slows down many times over (an MNIST MLP
epoch: 2.3 s idle, 37.8 s beside two busy processes on two cores). The matrices of
chainrule's models are small (a batch of 32 to 64 rows), leaving a second thread little
to share; on a busy 2-core machine one thread trained 15 to 19 times faster than NumPy's
default (``benchmarks/bench_threads.py``; the numbers and conditions are in docs/guide.md).

The policy, applied once when ``chainrule`` is imported (:func:`apply_default`):

* ``CHAINRULE_NUM_THREADS=N`` (N >= 1) sets N threads; ``CHAINRULE_NUM_THREADS=0`` leaves
  NumPy's pools as they are.
* otherwise, when the user set ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS`` or ``VECLIB_MAXIMUM_THREADS``, chainrule keeps
  that choice;
* otherwise NumPy's BLAS gets :data:`DEFAULT_THREADS` (1) thread.

:func:`set_num_threads` changes it at any time (like ``torch.set_num_threads``); the
``chainrule`` command takes ``--threads N``. The limits go through ``threadpoolctl`` (a
dependency of chainrule); without it, chainrule still works, :func:`get_num_threads` reads
the environment, the default policy can only act when NumPy is not loaded yet (through
the environment variable OpenBLAS reads at start), and :func:`set_num_threads` raises
:class:`ThreadControlError` saying what to install.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

__all__ = ["DEFAULT_THREADS", "ENV_VAR", "ThreadControlError", "apply_default",
           "available_cpus", "get_num_threads", "set_num_threads", "thread_info"]

#: The environment variable that sets chainrule's thread count (0: leave NumPy's alone).
ENV_VAR = "CHAINRULE_NUM_THREADS"
#: Threads NumPy's BLAS gets by default (see the module docstring and docs/guide.md).
DEFAULT_THREADS = 1
#: Variables by which a user already chose BLAS/OpenMP threads; chainrule then keeps them.
USER_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
INSTALL_HINT = ("install threadpoolctl (pip install threadpoolctl; chainrule depends on it), "
                "or set OPENBLAS_NUM_THREADS=N before starting Python")

_limits: list[Any] = []  # the active threadpoolctl limits, kept alive for the process


class ThreadControlError(RuntimeError):
    """The thread pools cannot be changed (threadpoolctl is missing)."""


def _threadpoolctl() -> Any | None:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: the number of threads must be an integer >= 1, "
                         f"got {n!r}")
    return n


def set_num_threads(n: int) -> None:
    """Let NumPy's BLAS and any OpenMP runtime loaded in the process use ``n`` threads.

    Lasts for the rest of the process (or the next call). Libraries loaded later (e.g. a
    PyTorch imported afterwards) are not affected. Raises :class:`ThreadControlError` when
    ``threadpoolctl`` is not installed, ``ValueError`` for ``n < 1``.
    """
    _limit(_check(n), None)


def _limit(n: int, user_api: str | None) -> None:
    tpc = _threadpoolctl()
    if tpc is None:
        raise ThreadControlError(f"chainrule.set_num_threads needs threadpoolctl: "
                                 f"{INSTALL_HINT}")
    import numpy  # noqa: F401  (its BLAS must be loaded to be limited)

    _limits.clear()
    _limits.append(tpc.threadpool_limits(limits=n, user_api=user_api))


def _blas_pools() -> list[dict[str, Any]]:
    tpc = _threadpoolctl()
    if tpc is None:
        return []
    import numpy  # noqa: F401

    blas = [i for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
    return [i for i in blas if "numpy" in str(i.get("filepath", "")).lower()] or blas


def get_num_threads() -> int:
    """Threads NumPy's BLAS uses now (from threadpoolctl; without it, from the environment
    variables OpenBLAS/MKL read at start, else the CPU count they default to)."""
    pools = _blas_pools()
    if pools:
        return int(pools[0]["num_threads"])
    for var in (ENV_VAR, "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return available_cpus()


def thread_info() -> dict[str, Any]:
    """What decides the thread count: ``{"num_threads", "library", "source"}``."""
    pools = _blas_pools()
    library = (f"{pools[0].get('internal_api')} {pools[0].get('version') or ''}".strip()
               if pools else None)
    return {"num_threads": get_num_threads(), "library": library,
            "source": "threadpoolctl" if pools else "environment (threadpoolctl missing)"}


def _default(environ: Any) -> int | None:
    """The thread count the policy picks for ``environ``; None: leave the pools alone."""
    value = environ.get(ENV_VAR, "").strip()
    if value:
        if not value.isdigit():
            warnings.warn(f"{ENV_VAR} must be a number of threads (0: NumPy's default), got "
                          f"{value!r}; ignored", RuntimeWarning, stacklevel=3)
            return None
        return int(value) or None
    if any(environ.get(var, "").strip() for var in USER_VARS):
        return None
    return DEFAULT_THREADS


def apply_default(environ: Any = None) -> int | None:
    """Apply the default policy (module docstring) once; returns the count set, or None.

    Called by ``import chainrule``. Without threadpoolctl and before NumPy is imported it
    sets ``OPENBLAS_NUM_THREADS`` (read when OpenBLAS loads); later it cannot act."""
    environ = os.environ if environ is None else environ
    n = _default(environ)
    if n is None:
        return None
    if _threadpoolctl() is not None:
        _limit(n, "blas")  # only NumPy's BLAS: OpenMP pools belong to other libraries
        return n
    if "numpy" not in sys.modules:
        environ["OPENBLAS_NUM_THREADS"] = str(n)
        return n
    return None
