"""Overlapping the gradient all-reduce with the backward pass (``overlap=True``).

Horovod and PyTorch's ``DistributedDataParallel`` do not wait for the whole backward pass:
the parameters are grouped into *buckets* (in reverse order, the order in which backward
finishes their gradients), and as soon as every gradient of a bucket is final, the bucket
is packed into its flat buffer and a non-blocking ``MPI_Iallreduce`` starts on it, while
the backward pass goes on with the earlier layers. ``step()`` then starts the buckets that
never completed (parameters without a gradient in this backward), waits for all of them
and copies the averages back.

"Final" comes from the engine: :func:`chainrule.autograd.engine.register_grad_ready_hook`
calls back as each leaf's ``.grad`` is complete. A bucket's buffer has the fused path's
layout (gradients one after another, then one "has a gradient" flag per parameter), so the
averages are the same numbers as the fused path's (bit for bit on 2 ranks, where each sum
has two terms).

One backward per step: a gradient that becomes ready again while its bucket is already
under way (gradient accumulation over several backward passes) raises; use the fused path
(``overlap=False``) for that.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..autograd.engine import register_grad_ready_hook
from ..autograd.tensor import Tensor
from ..nn.sparse_grad import SparseGrad
from .collectives import _fp16_sum_op

__all__ = ["DEFAULT_BUCKET_BYTES", "OverlappedReduction"]

#: Bucket size (bytes of gradients) when none is given: PyTorch DDP's first bucket is 1 MB.
DEFAULT_BUCKET_BYTES = 1 << 20


class GradientBucket:
    """Parameters of one dtype whose gradients travel in one flat buffer (the fused path's
    single buffer, or one bucket of the overlapped path): ``pack`` fills it, ``unpack``
    writes the averages back after the buffer was summed over the ranks."""

    def __init__(self, params: list[Tensor], dtype: np.dtype, fp16: bool) -> None:
        self.params = params
        self.sizes = [p.data.size for p in params]
        self.total = sum(self.sizes)
        self.flat = np.empty(self.total + len(params), dtype=dtype)
        self.half = np.empty(self.flat.size, dtype=np.float16) if fp16 else None
        self.ready = 0
        self.request: Any = None
        self.done = False

    def pack(self, nranks: int) -> np.ndarray:
        flat, total, offset = self.flat, self.total, 0
        for i, (p, n) in enumerate(zip(self.params, self.sizes)):
            has = p.grad is not None
            if isinstance(p.grad, SparseGrad):
                raise TypeError("DistributedOptimizer: a sparse gradient (Embedding(sparse="
                                "True)) cannot be averaged over ranks yet; build the "
                                "embedding with sparse=False")
            flat[offset:offset + n] = p.grad.data.reshape(-1) if has else 0
            flat[total + i] = 1 if has else 0
            offset += n
        if self.half is None:
            return flat
        flat[:total] /= nranks  # each share divided first: the float16 sum cannot overflow
        self.half[...] = flat
        return self.half

    def unpack(self, nranks: int) -> None:
        flat, total, offset = self.flat, self.total, 0
        if self.half is not None:
            flat[...] = self.half
        else:
            flat[:total] /= nranks
        for i, (p, n) in enumerate(zip(self.params, self.sizes)):
            if flat[total + i] > 0:
                g = flat[offset:offset + n].reshape(p.data.shape)
                if p.grad is None:
                    p.grad = Tensor(g.copy())
                else:
                    p.grad.data[...] = g
            offset += n


class OverlappedReduction:
    """Buckets of ``params`` reduced over ``world`` as their gradients become final.

    ``finish()`` completes the step's reduction (the averaged gradients are then in
    ``.grad``); ``discard()`` waits for what is under way and forgets it; ``close()``
    removes the engine hook. ``bytes_sent`` counts what this rank handed to MPI.
    """

    def __init__(self, params: list[Tensor], world: Any, compression: str | None = None,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        if not bucket_bytes > 0:
            raise ValueError(f"bucket_bytes must be > 0, got {bucket_bytes!r}")
        self.world = world
        self.fp16 = compression == "fp16"
        self.buckets: list[GradientBucket] = []
        self.where: dict[int, tuple[GradientBucket, int]] = {}
        self.bytes_sent = 0
        self._marked: set[int] = set()
        group: list[Tensor] = []
        for p in reversed(params):  # backward finishes the last layers first
            dtype = np.dtype(p.data.dtype)
            if group and (np.dtype(group[0].data.dtype) != dtype
                          or sum(q.data.nbytes for q in group) + p.data.nbytes > bucket_bytes):
                self._add(group)
                group = []
            group.append(p)
        if group:
            self._add(group)
        me = weakref.ref(self)  # the hook must not keep an unused optimizer alive

        def ready(leaf: Tensor) -> None:
            alive = me()
            if alive is not None:
                alive._ready(leaf)

        self._remove_hook = register_grad_ready_hook(ready)
        weakref.finalize(self, self._remove_hook)

    def _add(self, group: list[Tensor]) -> None:
        bucket = GradientBucket(group, np.dtype(group[0].data.dtype), self.fp16)
        self.buckets.append(bucket)
        for i, p in enumerate(group):
            self.where[id(p)] = (bucket, i)

    def _ready(self, leaf: Tensor) -> None:
        found = self.where.get(id(leaf))
        if found is None:
            return
        bucket, _ = found
        if bucket.request is not None or id(leaf) in self._marked:
            raise RuntimeError("DistributedOptimizer(overlap=True): a gradient became ready "
                               "twice before step() (several backward passes per step); "
                               "use overlap=False to accumulate gradients")
        self._marked.add(id(leaf))
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            self._start(bucket)
        for other in self.buckets:  # MPI moves non-blocking work on only inside its calls
            if other.request is not None and not other.done:
                other.done = other.request.Test()

    def _start(self, bucket: GradientBucket) -> None:
        from mpi4py import MPI

        buf = bucket.pack(self.world.size)
        if buf.dtype == np.float16:
            spec: Any = [buf.view(np.uint16), MPI.UINT16_T]
            bucket.request = self.world.Iallreduce(MPI.IN_PLACE, spec, op=_fp16_sum_op(MPI))
        else:
            bucket.request = self.world.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        self.bytes_sent += buf.nbytes

    def finish(self) -> None:
        """Start the buckets still waiting, wait for every bucket, write the averages."""
        for bucket in self.buckets:  # the same order on every rank
            if bucket.request is None:
                self._start(bucket)
        for bucket in self.buckets:
            if not bucket.done:
                bucket.request.Wait()
            bucket.unpack(self.world.size)
        self._reset()

    def discard(self) -> None:
        """Wait for the reductions under way (every rank started them) and forget them."""
        for bucket in self.buckets:
            if bucket.request is not None and not bucket.done:
                bucket.request.Wait()
        self._reset()

    def _reset(self) -> None:
        for bucket in self.buckets:
            bucket.request = None
            bucket.ready = 0
            bucket.done = False
        self._marked.clear()

    def close(self) -> None:
        """Remove the engine hook (the optimizer no longer reduces during backward)."""
        self._remove_hook()
