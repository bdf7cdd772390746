"""The communicator: MPI through mpi4py when launched by ``mpirun``, else one local rank.

``init()`` looks at the environment: a process started by an MPI launcher (Open MPI's
``OMPI_COMM_WORLD_SIZE``, MPICH/PMI's ``PMI_SIZE``, PMIx's ``PMIX_RANK``) uses
``mpi4py.MPI.COMM_WORLD``; one started plainly is rank 0 of 1 and never imports mpi4py,
so every function here works (as a no-op or identity) on a machine without MPI. A run
launched by ``mpirun`` without mpi4py installed stops with one error naming the extra,
instead of training ``size`` unrelated copies.

Faults: after ``init()`` under MPI, an exception that reaches the top of any rank prints
its traceback and aborts the whole communicator (``MPI_Abort``), so the other ranks stop
within the launcher's kill time instead of waiting forever in a collective; a rank that
is killed is noticed by the launcher, which ends the others.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

__all__ = ["MPI_EXTRA_HINT", "abort", "barrier", "comm", "init", "is_initialized",
           "is_primary", "launched_by_mpi", "local_rank", "local_size", "rank", "size"]

MPI_EXTRA_HINT = 'pip install "chainrule[mpi]"'
_LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class _Local:
    """The communicator of a single process: rank 0 of 1, collectives are identities."""

    rank = 0
    size = 1
    local_rank = 0
    local_size = 1


_state: dict[str, Any] = {"comm": None, "local": None, "hook": None}


def launched_by_mpi() -> bool:
    """True when an MPI launcher (``mpirun``/``mpiexec``/``srun``) started this process."""
    return any(v in os.environ for v in _LAUNCH_VARS)


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError("chainrule.distributed: this process was started by an MPI "
                          "launcher but mpi4py is not installed; install the extra: "
                          f"{MPI_EXTRA_HINT}") from err
    return MPI


def _abort_on_exception(exc_type: Any, exc: BaseException, tb: Any) -> None:
    hook = _state["hook"] or sys.__excepthook__
    hook(exc_type, exc, tb)
    world = _state["comm"]
    if world is not None and world.size > 1:
        sys.stderr.write(f"chainrule.distributed: rank {world.rank} raised "
                         f"{exc_type.__name__}; aborting all {world.size} ranks\n")
        sys.stderr.flush()
        world.Abort(1)


def init(abort_on_error: bool = True) -> None:
    """Start the communicator (idempotent). Called by every function here when needed.

    Args:
        abort_on_error: under MPI with more than one rank, make an uncaught exception on
            any rank abort all of them (``MPI_Abort``) rather than leave them hanging.
    """
    if _state["local"] is not None:
        return
    if not launched_by_mpi():
        _state["comm"], _state["local"] = None, _Local()
        return
    mpi = _import_mpi()
    world = mpi.COMM_WORLD
    node = world.Split_type(mpi.COMM_TYPE_SHARED, key=world.rank)
    info = _Local()
    info.rank, info.size = world.rank, world.size
    info.local_rank, info.local_size = node.rank, node.size
    node.Free()
    _state["comm"], _state["local"] = world, info
    if abort_on_error and world.size > 1 and sys.excepthook is not _abort_on_exception:
        _state["hook"] = sys.excepthook
        sys.excepthook = _abort_on_exception


def is_initialized() -> bool:
    """Whether :func:`init` has run."""
    return _state["local"] is not None


def _info() -> Any:
    init()
    return _state["local"]


def comm() -> Any:
    """The ``mpi4py`` communicator (``COMM_WORLD``), or None for a single local process."""
    init()
    return _state["comm"]


def rank() -> int:
    """This process's rank, 0 .. size-1 (0 without MPI)."""
    return int(_info().rank)


def size() -> int:
    """The number of processes (replicas); 1 without MPI."""
    return int(_info().size)


def local_rank() -> int:
    """The rank among the processes on this machine (0 without MPI)."""
    return int(_info().local_rank)


def local_size() -> int:
    """The number of processes on this machine (1 without MPI)."""
    return int(_info().local_size)


def is_primary() -> bool:
    """True on rank 0: the one that writes checkpoints, logs and pictures."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (nothing without MPI)."""
    world = comm()
    if world is not None:
        world.Barrier()


def abort(code: int = 1) -> None:
    """Stop every rank now (``MPI_Abort``); without MPI, exit this process."""
    world = comm()
    if world is not None:
        world.Abort(code)
    raise SystemExit(code)


def _check_array(buf: Any, what: str) -> np.ndarray:
    if not isinstance(buf, np.ndarray) or not buf.flags.c_contiguous:
        raise TypeError(f"{what}: expected a C-contiguous numpy array, got "
                        f"{type(buf).__name__}")
    return buf
