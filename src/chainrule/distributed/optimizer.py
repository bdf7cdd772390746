"""DistributedOptimizer: average the gradients over all ranks, then take the same step.

Like Horovod's ``DistributedOptimizer``: it wraps any ``chainrule.optim`` optimizer. Before
each ``step()`` every parameter's gradient is copied into **one flat, contiguous buffer**
(one per dtype; reused from step to step), the buffer is summed over all ranks with a
single ``MPI_Allreduce``, divided by the number of ranks and copied back; then the wrapped
optimizer steps. Fusing all parameters into one message pays the network latency once per
step instead of once per parameter (Horovod's *tensor fusion*). Since every rank applies
the same averaged gradient to the same parameters, the replicas stay identical.

A parameter without a gradient on some ranks counts as zero there (the mean is still over
all ranks); one without a gradient on every rank keeps ``grad = None`` and is not updated.
With ``compression="fp16"`` the buffer travels as float16 (half the bytes; each rank's
share is divided by the size before the cast so that the sum cannot overflow) and is
summed by a user-defined MPI operation; the averaged gradient is then exact only to
float16 precision. With ``overlap=True`` the reduction starts during the backward pass,
bucket by bucket, as the gradients become final (:mod:`.overlap`); the averages are the
same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.mode import enable_grad
from ..autograd.tensor import Tensor
from ._mpi import comm
from .collectives import allreduce_
from .overlap import DEFAULT_BUCKET_BYTES, GradientBucket, OverlappedReduction

__all__ = ["DistributedOptimizer"]

_COMPRESSIONS = (None, "none", "fp16")


class DistributedOptimizer:
    """Wrap ``optimizer`` so that ``step()`` averages gradients across ranks first.

    Args:
        optimizer: a ``chainrule.optim`` optimizer (anything with ``param_groups``,
            ``step``, ``zero_grad``, ``state_dict``).
        compression: ``None`` (full precision) or ``"fp16"`` (send the gradients as
            float16).
        overlap: start reducing buckets of about ``bucket_bytes`` of gradients with
            non-blocking ``Iallreduce`` while ``backward()`` goes on (one backward per
            step); ``step()`` waits for them. Default: one fused ``Allreduce`` in ``step()``.

    Everything else (``param_groups``, ``state``, ``state_dict``, ``zero_grad``, schedules
    that change ``lr``) passes through to the wrapped optimizer. With one process ``step``
    is the wrapped optimizer's step and nothing is copied.
    """

    def __init__(self, optimizer: Any, compression: str | None = None, overlap: bool = False,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        if compression not in _COMPRESSIONS:
            raise ValueError(f"DistributedOptimizer: compression must be one of "
                             f"{_COMPRESSIONS}, got {compression!r}")
        if not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step",
                                                                          None)):
            raise TypeError("DistributedOptimizer: expected an optimizer with param_groups "
                            f"and step(), got {type(optimizer).__name__}")
        self.__dict__["optimizer"] = optimizer
        self.__dict__["compression"] = None if compression == "none" else compression
        self.__dict__["_buffers"] = {}
        self.__dict__["bytes_sent"] = 0  # bytes this rank handed to Allreduce, in all
        world = comm() if overlap else None
        self.__dict__["overlapped"] = None if world is None or world.size == 1 else \
            OverlappedReduction(self._params(), world, self.compression, bucket_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["optimizer"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:
            self.__dict__[name] = value
        else:
            setattr(self.optimizer, name, value)

    # ----------------------------------------------------------------- reduction
    def _params(self) -> list[Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def synchronize(self) -> None:
        """Average every parameter's ``.grad`` over all ranks, in place (one Allreduce per
        parameter dtype). ``step()`` calls it; call it yourself to look at (or clip) the
        averaged gradients before stepping."""
        world = comm()
        if world is None or world.size == 1:
            return
        if self.overlapped is not None:
            before = self.overlapped.bytes_sent
            self.overlapped.finish()
            self.bytes_sent += self.overlapped.bytes_sent - before
            return
        by_dtype: dict[np.dtype, list[Tensor]] = {}
        for p in self._params():
            by_dtype.setdefault(np.dtype(p.data.dtype), []).append(p)
        for dtype, params in by_dtype.items():
            self._reduce(params, dtype, world.size)

    def _reduce(self, params: list[Tensor], dtype: np.dtype, nranks: int) -> None:
        # one flat buffer per dtype, reused while the parameters stay the same: all
        # gradients one after another, then one "has a gradient" flag each
        bucket = self._buffers.get(dtype)
        if bucket is None or [id(p) for p in bucket.params] != [id(p) for p in params]:
            bucket = self._buffers[dtype] = GradientBucket(params, dtype,
                                                           self.compression == "fp16")
        buf = bucket.pack(nranks)
        allreduce_(buf, average=False)
        bucket.unpack(nranks)
        self.bytes_sent += buf.nbytes

    # ----------------------------------------------------------------- stepping
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """``closure()`` (if given, computes the local gradients), then average the
        gradients over all ranks, then the wrapped optimizer's step. Returns the loss the
        closure returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.synchronize()
        self.optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's ``zero_grad`` (with ``overlap``, reductions started by a
        backward without a step are waited for and dropped)."""
        if self.overlapped is not None:
            self.overlapped.discard()
        self.optimizer.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state (the same on every rank)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: Any) -> None:
        """Load into the wrapped optimizer."""
        self.optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        comp = f", compression={self.compression!r}" if self.compression else ""
        return f"DistributedOptimizer({self.optimizer!r}{comp})"
