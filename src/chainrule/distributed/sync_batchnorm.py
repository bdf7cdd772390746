"""SyncBatchNorm: batch normalisation with the statistics of the whole global batch.

By default each replica normalises with the statistics of its own shard ("ghost batch
norm", docs/distributed.md). :class:`SyncBatchNorm` (PyTorch's ``nn.SyncBatchNorm``) sums
the per-channel sums over the ranks in training, so that ``P`` ranks with batch ``B``
normalise -- and update their running statistics -- exactly as one process with batch
``P*B`` would, and the replicas' running statistics stay equal.

The sums go through a differentiable all-reduce (:data:`allreduce_sum`): its backward is
the all-reduce of the cotangents, so the gradients that reach the layers below include
what the other ranks' losses owe to this rank's samples through the shared mean and
variance. Two all-reduces per layer in the forward pass (the mean, then the variance from
the centred values, as a single process computes them) and two in the backward pass.

Every rank must call the layer in the same order with the same shapes (but its own number
of samples). Evaluation uses the running statistics, as :class:`~chainrule.nn.BatchNorm1d`
does; with one process it is ``BatchNorm1d``/``BatchNorm2d``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.primitive import Primitive
from ..autograd.tensor import Tensor
from ..nn import BatchNorm1d, BatchNorm2d
from ..nn.module import Module
from ._mpi import size
from .collectives import allreduce_

__all__ = ["SyncBatchNorm", "allreduce_sum", "convert_sync_batchnorm"]


def _sum_over_ranks(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=a.dtype if a.dtype.kind == "f" else np.float64, order="C")
    return allreduce_(out, average=False)


def _allreduce_sum_rule(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    return allreduce_sum(g)


#: The sum of a tensor over all ranks (the same on every rank), differentiable: the
#: cotangent of each rank's input is the sum of the ranks' cotangents. Not in the rule
#: table (a collective, not an operation on one process's arrays).
allreduce_sum = Primitive("allreduce_sum", _sum_over_ranks, _allreduce_sum_rule,
                          _allreduce_sum_rule)


class SyncBatchNorm(BatchNorm1d):
    """Batch normalisation over (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs
    with the statistics of the global batch (all ranks) in training.

    Arguments as :class:`~chainrule.nn.BatchNorm1d`. Make one from an existing model's
    batch-norm layers with :func:`convert_sync_batchnorm`.
    """

    _ranks = (2, 3, 4, 5)

    def forward(self, x: Any) -> Tensor:
        x = ops.lift(x)
        training = self.training or not self.track_running_stats
        if not training or size() == 1:
            return super().forward(x)
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            raise ops.ShapeError(f"SyncBatchNorm({self.num_features}): expected a 2-D to 5-D "
                                 f"input with {self.num_features} channels on axis 1, got "
                                 f"shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        n = int(_sum_over_ranks(np.array([x.data.size // x.shape[1]], np.float64))[0])
        mean = allreduce_sum(ops.sum(x, axis=axes, keepdims=True)) / n
        centred = x - mean
        var = allreduce_sum(ops.sum(centred * centred, axis=axes, keepdims=True)) / n
        if self.track_running_stats:
            m, running_mean, running_var = self.momentum, self.running_mean, self.running_var
            running_mean *= 1 - m  # in place: the module keeps its buffers
            running_mean += m * mean.data.reshape(-1)
            running_var *= 1 - m
            running_var += m * var.data.reshape(-1) * (n / max(n - 1, 1))
        y = centred / ops.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * ops.reshape(self.weight, shape)
        if self.bias is not None:
            y = y + ops.reshape(self.bias, shape)
        return y


def convert_sync_batchnorm(model: Module) -> Module:
    """Turn every ``BatchNorm1d``/``BatchNorm2d`` of ``model`` into a
    :class:`SyncBatchNorm` in place (same parameters and running statistics); returns
    ``model`` (PyTorch's ``SyncBatchNorm.convert_sync_batchnorm``)."""
    for module in model.modules():
        if type(module) in (BatchNorm1d, BatchNorm2d):
            module.__class__ = SyncBatchNorm
    return model
