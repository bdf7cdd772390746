"""Run under ``mpirun -n P``: P ranks with per-rank batch B against one process with batch
P*B on the same data order (computed on rank 0), in float64, SGD with momentum.

Usage: exactness.py MODELS STEPS  (MODELS: comma-separated mlp, cnn, bn). For each model
rank 0 prints one JSON line:
``max_diff`` between the replicas' and the reference's parameters, ``replica_diff``
between ranks, and for ``bn`` the batch-norm facts docs/distributed.md states.
"""

import json
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.data import ArrayDataset
from chainrule.models import create_model
from chainrule.random import manual_seed

B, SEED, LR, MOMENTUM = 32, 3, 0.05, 0.9


def build(name):
    if name == "mlp":
        return create_model("mlp", input_shape=(16,), num_classes=4, hidden=(32,), dropout=0.0)
    if name == "cnn":
        return create_model("cnn", input_shape=(1, 8, 8), num_classes=4, channels=(4, 8),
                            hidden=16, dropout=0.0)
    return nn.Sequential(nn.Flatten(), nn.Dense(16, 24), nn.BatchNorm1d(24), nn.ReLU(),
                         nn.Dense(24, 4))


def params(model):
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def main():
    cr.set_default_dtype(np.float64)
    dist.init()
    for name in sys.argv[1].split(","):
        run(name, int(sys.argv[2]))


def run(name, steps):
    p = dist.size()
    manual_seed(100 + dist.rank())  # different initial weights on each rank ...
    model = build(name)
    dist.broadcast_parameters(model)  # ... until rank 0's are broadcast
    start = {k: v.copy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    n = p * B * 25
    shape = (n, 1, 8, 8) if name == "cnn" else (n, 16)
    x = rng.normal(size=shape)
    y = rng.integers(0, 4, size=n)
    data = ArrayDataset(x, y)
    loss_fn = nn.CrossEntropyLoss()
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM))
    dist.broadcast_optimizer_state(opt)
    model.train()

    def batches(loader):
        while True:
            yield from loader

    it = batches(dist.DistributedLoader(data, B, seed=SEED, drop_last=True))
    for _ in range(steps):
        xb, yb = next(it)
        opt.zero_grad()
        loss_fn(model(cr.Tensor(xb)), yb).backward()
        opt.step()
    mine = params(model)
    replica_diff = max(float(np.abs(o - mine).max()) for o in dist.allgather_object(mine))
    report = {"model": name, "size": p, "steps": steps, "replica_diff": replica_diff}
    if name == "bn":
        running = model.state_dict()
        keys = [k for k in running if "running" in k]
        stats = np.concatenate([running[k].ravel() for k in keys])
        report["stats_differ"] = bool(max(float(np.abs(o - stats).max())
                                          for o in dist.allgather_object(stats)) > 1e-6)
        for k in keys:
            dist.allreduce_(running[k])
        synced = np.concatenate([running[k].ravel() for k in keys])
        report["stats_synced"] = max(float(np.abs(o - synced).max())
                                     for o in dist.allgather_object(synced))
    if dist.rank() == 0:
        ref = build(name)
        ref.load_state_dict(start)
        ref.train()
        ropt = optim.SGD(ref.parameters(), lr=LR, momentum=MOMENTUM)
        it = batches(dist.DistributedLoader(data, B * p, seed=SEED, drop_last=True, rank=0,
                                            size=1))
        for _ in range(steps):
            xb, yb = next(it)
            ropt.zero_grad()
            if name == "bn":  # per-replica statistics: each rank's strided half on its own
                loss = sum(loss_fn(ref(cr.Tensor(xb[r::p])), yb[r::p]) for r in range(p)) / p
            else:
                loss = loss_fn(ref(cr.Tensor(xb)), yb)
            loss.backward()
            ropt.step()
        report["max_diff"] = float(np.abs(params(ref) - mine).max())
        report["param_scale"] = float(np.abs(mine).max())
        report["moved"] = float(np.abs(params(ref) - np.concatenate(
            [v.ravel() for k, v in start.items() if "running" not in k])).max())
        if name == "bn":  # the same steps with whole-batch statistics differ
            big = build(name)
            big.load_state_dict(start)
            big.train()
            bopt = optim.SGD(big.parameters(), lr=LR, momentum=MOMENTUM)
            it = batches(dist.DistributedLoader(data, B * p, seed=SEED, drop_last=True,
                                                rank=0, size=1))
            for _ in range(steps):
                xb, yb = next(it)
                bopt.zero_grad()
                loss_fn(big(cr.Tensor(xb)), yb).backward()
                bopt.step()
            report["whole_batch_diff"] = float(np.abs(params(big) - mine).max())
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
