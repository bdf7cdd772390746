"""Version counters: a tensor changed after an op saved it for backward is an error.

The rule of a recorded node reads its inputs (and its output) when ``backward`` runs, so a
change made in between gives a wrong gradient without a word. As PyTorch's version counter,
this module makes ``backward`` refuse such a graph, naming the op.

What is watched, and how, at no cost on the hot path:

* A global clock (``tensor._clock``) ticks at every change. Every tensor is stamped with
  the clock when it is made (``_stamp``, one slot store); a node's inputs were all made
  before it, so "changed after the node saved it" is "changed at a tick later than the
  node's stamp". ``backward`` compares each node's stamp with the clock it reads once; only
  when something changed since the node was made does it look further (``check_saved``).
* Tracked changes (in-place tensor methods ``add_``, ``x += y``, ``x[i] = v``, ...,
  optimizer steps, ``Variable.assign``) call :func:`mark_modified`. What is known of a
  memory lives in a record keyed by the *root* array that owns it, so views, reshapes and
  ``detach()`` share one version, as PyTorch's views share the base's counter.
* Raw NumPy writes cannot be seen, so ``Tensor.numpy()`` (the documented way to get the
  array) *exposes* it: it ticks the clock and keeps a CRC-32 of the memory. ``backward``
  recomputes the checksum of an exposed memory that a node saved before the exposure;
  a different checksum means the values were written through the array.

Not watched (said plainly): writes through ``.data`` (the internal, unchecked handle, as
PyTorch's ``.data``), ``np.asarray(tensor)``, replacing ``.data`` by another array, and
writes through an array taken from ``.numpy()`` *before* the op saved the tensor.
"""

from __future__ import annotations

import weakref
import zlib
from typing import Any

import numpy as np

from . import tensor as _t


class _Memory:
    """What is known of one root array: its version and when it was changed or exposed."""

    __slots__ = ("count", "changed", "op", "exposed", "crc", "raw_after")

    def __init__(self) -> None:
        self.count = 0  # tracked in-place changes (PyTorch's ``_version``)
        self.changed = 0  # clock of the last tracked change
        self.op = ""  # the op of that change
        self.exposed = 0  # clock of the last .numpy() whose checksum is ``crc``
        self.crc: int | None = None
        self.raw_after = 0  # values changed through an exposed array after this clock


_MEMORY: dict[int, _Memory] = {}  # id(root array) -> record; dropped when the array dies


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _record(a: np.ndarray, create: bool = True) -> _Memory | None:
    root = _root(a)
    rec = _MEMORY.get(id(root))
    if rec is None and create and isinstance(root, np.ndarray):  # not a NumPy scalar
        rec = _MEMORY[id(root)] = _Memory()
        weakref.finalize(root, _MEMORY.pop, id(root), None)
    return rec


def _tick() -> int:
    _t._clock += 1
    return _t._clock


def _crc(a: np.ndarray) -> int:
    root = _root(a)
    if not root.flags.c_contiguous:
        root = root.T if root.flags.f_contiguous else np.ascontiguousarray(root)
    return zlib.crc32(root.reshape(-1).view(np.uint8))


def version(t: Any) -> int:
    """How many tracked in-place changes the memory of ``t`` has had (``Tensor._version``)."""
    rec = _record(t.data, create=False)
    return 0 if rec is None else rec.count


def mark_modified(t: Any, op: str) -> None:
    """Record that ``op`` changed ``t``'s values in place (call it after the change)."""
    rec = _record(t.data)
    if rec is None:
        return
    rec.count += 1
    rec.changed = _tick()
    rec.op = op
    rec.exposed, rec.crc = 0, None  # the checksum no longer describes the memory


def expose(t: Any) -> np.ndarray:
    """``t.data`` handed to the caller, who may write into it: remember its checksum."""
    rec = _record(t.data)
    if rec is None:
        return t.data
    now = _crc(t.data)
    if rec.crc is not None and rec.crc != now:
        rec.raw_after = max(rec.raw_after, rec.exposed)  # written since the last exposure
    rec.exposed, rec.crc = _tick(), now
    return t.data


def check_saved(node: Any, checksums: dict[int, int]) -> None:
    """Raise if a tensor ``node``'s rule reads (its output, its inputs) changed after the
    node was made. Called by the engine only when the clock moved since then;
    ``checksums`` (one dict per backward) keeps each memory's checksum, computed once."""
    stamp = node._stamp
    for k, t in enumerate((node, *node._parents)):
        rec = _record(t.data, create=False)
        if rec is None:
            continue
        what = (f"the output of '{node._op.name}'" if k == 0 else
                f"argument {k - 1} of '{node._op.name}'")
        desc = f"{what} (shape {t.data.shape}, {t.data.dtype})"
        if rec.changed > stamp:
            raise RuntimeError(
                f"one of the tensors needed for the gradient has been modified by an in-place "
                f"operation: {desc} was changed by {rec.op} after '{node._op.name}' saved it "
                f"(it is now at version {rec.count}). Make the change after backward(), or "
                f"change a copy.")
        if rec.exposed > stamp:
            key = id(_root(t.data))
            now = checksums.get(key)
            if now is None:
                now = checksums[key] = _crc(t.data)
        if rec.raw_after > stamp or (rec.exposed > stamp and rec.crc != now):
            raise RuntimeError(
                f"one of the tensors needed for the gradient has been modified in place: "
                f"{desc} was written through the array returned by .numpy() after "
                f"'{node._op.name}' saved it. Write after backward(), or into a copy "
                f"(x.numpy().copy()).")
