"""Under ``mpirun -n 2``: the communicator, the collectives, the sampler, the optimizer
state broadcast and the DistributedOptimizer's edge cases. Rank 0 prints one JSON line of
facts for tests/distributed/test_mpi.py to check; then mismatch.py's checks run."""

import json

import mismatch
import numpy as np

import chainrule.distributed as dist
from chainrule import Tensor, nn, optim


def main():
    dist.init()
    r, p = dist.rank(), dist.size()
    facts = {"ranks": dist.allgather_object((r, p, dist.local_rank(), dist.is_primary()))}
    facts["mean"] = dist.allreduce_mean(float(r + 1))
    facts["logs"] = dist.allreduce_mean({"loss": float(r), "size": 32, "name": "x"})
    facts["array"] = dist.allreduce_mean(np.arange(3.0) * (r + 1)).tolist()
    # the sampler: disjoint shards whose union is the epoch's permutation
    s = dist.DistributedSampler(11, shuffle=True, seed=5)
    s.set_epoch(2)
    shards = dist.allgather_object(s.indices().tolist())
    facts["shards"] = shards
    facts["order"] = s.global_order().tolist()
    # optimizer state: rank 0's moments and step count reach rank 1
    model = nn.Sequential(nn.Dense(3, 2))
    dist.broadcast_parameters(model)
    opt = optim.Adam(model.parameters(), lr=0.01)
    if r == 0:
        for q in model.parameters():
            q.grad = Tensor(np.full(q.data.shape, 0.5, q.data.dtype))
        opt.step()
    dist.broadcast_optimizer_state(opt)
    sd = opt.state_dict()
    flat = np.concatenate([v.ravel() for st in sd["state"].values() for v in st.values()
                           if isinstance(v, np.ndarray)] or [np.zeros(0)])
    facts["opt_state_equal"] = all(np.array_equal(o, flat) for o in dist.allgather_object(flat))
    facts["opt_state_size"] = int(flat.size)
    # gradients: averaged; a parameter with a gradient on rank 0 only gets half of it; one
    # with no gradient anywhere stays None; float16 compression is close
    for comp in (None, "fp16"):
        m = nn.Sequential(nn.Dense(3, 2), nn.Dense(2, 2))
        w = m.parameters()
        d = dist.DistributedOptimizer(optim.SGD(w, lr=0.0), compression=comp)
        d.zero_grad()
        w[0].grad = Tensor(np.full(w[0].data.shape, r + 1.0, w[0].data.dtype))
        if r == 0:
            w[1].grad = Tensor(np.full(w[1].data.shape, 4.0, w[1].data.dtype))
        d.step()
        facts[f"grads_{comp}"] = [None if q.grad is None else float(q.grad.data.mean())
                                  for q in w]
        facts[f"bytes_{comp}"] = d.bytes_sent
    if r == 0:
        print(json.dumps(facts), flush=True)
    dist.barrier()
    mismatch.main()  # in the same launch: mpirun's start-up costs seconds


if __name__ == "__main__":
    main()
