"""Under ``mpirun -n 2``: rank 1 raises (``raise``) or dies (``kill``) in the middle of
training while rank 0 waits in the next all-reduce; rank 0 must not hang. Before the
fault, rank 0 writes a checkpoint to the path given as the second argument."""

import os
import signal
import sys

import numpy as np

import chainrule.distributed as dist
from chainrule import Tensor, nn, optim
from chainrule.io import save


def main():
    how, path = sys.argv[1], sys.argv[2]
    dist.init()
    model = nn.Sequential(nn.Dense(4, 3))
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    dist.broadcast_parameters(model)
    x, y = np.ones((8, 4)), np.zeros((8, 3))
    for step in range(1000):
        if step == 3 and dist.is_primary():
            save({"model": model.state_dict(), "step": step}, path)
        dist.barrier()
        if step == 5 and dist.rank() == 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("rank 1 failed on purpose")
        opt.zero_grad()
        (((model(Tensor(x)) - Tensor(y)) ** 2).mean()).backward()
        opt.step()
    print("finished without noticing the fault", flush=True)


if __name__ == "__main__":
    main()
