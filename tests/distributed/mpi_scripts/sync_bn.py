"""Under ``mpirun -n 2``: SyncBatchNorm on 2 ranks x 16 against plain batch norm in one
process with batch 32 (the same samples: rank r holds batch[r::2]), float64, 10 steps of
SGD with momentum, for a dense model (BatchNorm1d) and a convolutional one (BatchNorm2d),
both converted with convert_sync_batchnorm. Rank 0 prints one JSON line."""

import json

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.random import manual_seed

STEPS, B = 10, 16


def build(name):
    manual_seed(5)
    if name == "dense":
        return nn.Sequential(nn.Dense(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dense(12, 3))
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Dense(4 * 5 * 5, 3))


def batches(name, p):
    rng = np.random.default_rng(0)
    shape = (p * B, 6) if name == "dense" else (p * B, 2, 5, 5)
    for _ in range(STEPS):
        yield rng.normal(size=shape) * 3 + 1, rng.integers(0, 3, size=p * B)


def state(model):
    return {k: np.asarray(v).copy() for k, v in model.state_dict().items()}


def train(model, opt, name, p, shard):
    for x, y in batches(name, p):
        if shard:
            x, y = x[dist.rank()::p], y[dist.rank()::p]
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(cr.tensor(x)), y).backward()
        opt.step()
    return state(model)


def diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def main():
    cr.set_default_dtype(np.float64)
    dist.init()
    p = dist.size()
    facts = {}
    for name in ("dense", "cnn"):
        model = dist.convert_sync_batchnorm(build(name))
        start = state(model)
        kinds = sorted({type(m).__name__ for m in model.modules()})
        opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
        synced = train(model, opt, name, p, shard=True)
        everyone = dist.allgather_object(synced)
        model.eval()
        x_eval = next(batches(name, p))[0][:4]
        out = model(cr.tensor(x_eval)).numpy()
        ghost_model = build(name)  # not converted: per-replica statistics
        ghost = train(ghost_model, dist.DistributedOptimizer(optim.SGD(
            ghost_model.parameters(), lr=0.05, momentum=0.9)), name, p, shard=True)
        if dist.rank() == 0:
            ref_model = build(name)  # plain batch norm, the whole batch, one process
            ref_opt = optim.SGD(ref_model.parameters(), lr=0.05, momentum=0.9)
            ref = train(ref_model, ref_opt, name, p, shard=False)
            ref_model.eval()
            facts[name] = {
                "kinds": kinds, "max_diff": diff(synced, ref),
                "stats_diff": max(diff({k: synced[k]}, {k: ref[k]}) for k in synced
                                  if "running" in k),
                "replicas": diff(everyone[0], everyone[1]),
                "moved": diff(synced, start), "ghost_diff": diff(ghost, ref),
                "eval_diff": float(np.abs(out - ref_model(cr.tensor(x_eval)).numpy()).max())}
    if dist.rank() == 0:
        print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
