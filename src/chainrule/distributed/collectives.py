"""Collective operations on NumPy arrays and Python objects (MPI underneath).

All of them are identities with one process. Arrays are reduced *in place* on one
contiguous buffer (``Allreduce`` with ``MPI_IN_PLACE``), with MPI's own algorithms (ring
or tree, chosen by the library for the message size) -- there is no home-made transport.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from ._mpi import _check_array, comm

__all__ = ["agree", "allgather_object", "allreduce_", "allreduce_mean", "broadcast_",
           "broadcast_object"]

_FP16_SUM: dict[str, Any] = {}


def _fp16_sum_op(mpi: Any) -> Any:
    """A user-defined MPI sum on float16 data (sent as 16-bit words; MPI has no half)."""
    op = _FP16_SUM.get("op")
    if op is None:
        def add(inbuf: Any, outbuf: Any, datatype: Any) -> None:
            a = np.frombuffer(inbuf, dtype=np.float16)
            b = np.frombuffer(outbuf, dtype=np.float16)
            np.add(a, b, out=b, dtype=np.float32, casting="unsafe")
        op = _FP16_SUM["op"] = mpi.Op.Create(add, commute=True)
    return op


def allreduce_(buf: np.ndarray, average: bool = True) -> np.ndarray:
    """Sum ``buf`` over all ranks in place (then divide by the size when ``average``).

    ``buf`` is a C-contiguous float array (float16 is summed by a user-defined MPI
    operation); every rank must pass the same shape and dtype. Returns ``buf``.
    """
    _check_array(buf, "allreduce_")
    world = comm()
    if world is None or world.size == 1:
        return buf
    from mpi4py import MPI
    if buf.dtype == np.float16:
        world.Allreduce(MPI.IN_PLACE, [buf.view(np.uint16), MPI.UINT16_T], op=_fp16_sum_op(MPI))
    else:
        world.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    if average:
        buf /= world.size
    return buf


def broadcast_(buf: np.ndarray, root: int = 0) -> np.ndarray:
    """Overwrite ``buf`` on every rank with root's ``buf`` (in place); returns ``buf``."""
    _check_array(buf, "broadcast_")
    world = comm()
    if world is not None and world.size > 1:
        world.Bcast(buf, root=root)
    return buf


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Root's ``obj`` (any picklable value) on every rank."""
    world = comm()
    return obj if world is None or world.size == 1 else world.bcast(obj, root=root)


def allgather_object(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    world = comm()
    return [obj] if world is None or world.size == 1 else world.allgather(obj)


def agree(error: str | None, what: str) -> None:
    """Raise on *every* rank if ``error`` is set on *any* rank.

    Each rank passes its own error message (or None); they are exchanged so that a
    problem found on one rank stops all of them with the same message, instead of one
    rank raising and the others waiting forever in the next collective. The message
    (the first rank's) should say which rank found it.
    """
    errors = allgather_object(error)
    bad = [(r, e) for r, e in enumerate(errors) if e is not None]
    if bad:
        raise ValueError(f"{what}: {bad[0][1]}")


def allreduce_mean(value: Any) -> Any:
    """The mean of ``value`` over all ranks, the same on every rank.

    ``value`` is a number, an array, or a dict of them (e.g. a ``logs`` dict of metrics:
    non-numeric entries are kept as they are). Use it so every rank reports the same
    numbers; for means over unequal shards weight them yourself (sum with
    ``allreduce_(..., average=False)``).
    """
    if isinstance(value, dict):
        keys = [k for k, v in value.items()
                if isinstance(v, Real | np.number) and not isinstance(v, bool)]
        means = allreduce_mean(np.array([float(value[k]) for k in keys], dtype=np.float64))
        return {**value, **{k: float(m) for k, m in zip(keys, means)}}
    if isinstance(value, np.ndarray):
        out = np.ascontiguousarray(value, dtype=np.result_type(value.dtype, np.float32)).copy()
        return allreduce_(out)
    out = allreduce_(np.array([float(value)], dtype=np.float64))
    return float(out[0])
