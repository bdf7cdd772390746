"""Under ``mpirun -n 2``: rank 1 builds a wider model; broadcasting must fail on every rank
with an error naming the parameter. Then the same for the optimizer state. Each rank
prints ``rank R: <error>`` lines."""

import numpy as np

import chainrule.distributed as dist
from chainrule import Tensor, nn, optim


def main():
    dist.init()
    width = 8 if dist.rank() == 0 else 9
    model = nn.Sequential(nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, width))
    try:
        dist.broadcast_parameters(model)
        print(f"rank {dist.rank()}: parameters broadcast", flush=True)
    except ValueError as err:
        print(f"rank {dist.rank()}: parameters: {err}", flush=True)
    ok = nn.Sequential(nn.Dense(4, 8))
    opt = optim.Adam(ok.parameters(), lr=0.1)
    if dist.rank() == 0:  # rank 0 has taken a step: it has moments
        for p in ok.parameters():
            p.grad = Tensor(np.ones_like(p.data))
        opt.step()
    bigger = nn.Sequential(nn.Dense(4, 8 if dist.rank() == 0 else 6))
    opt2 = optim.Adam(bigger.parameters(), lr=0.1)
    if dist.rank() == 0:
        opt2 = opt
    try:
        dist.broadcast_optimizer_state(opt2)
        print(f"rank {dist.rank()}: optimizer broadcast", flush=True)
    except ValueError as err:
        print(f"rank {dist.rank()}: optimizer: {err}", flush=True)


if __name__ == "__main__":
    main()
