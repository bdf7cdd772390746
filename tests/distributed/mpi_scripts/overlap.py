"""Under ``mpirun -n 2``: DistributedOptimizer(overlap=True) against the fused path, float64.

For each model (mlp, cnn) and each setting (1 MB buckets, 2 KB buckets, fp16 with 2 KB
buckets), the same 10 SGD-with-momentum steps from the same start on the same shards; the
parameters must agree exactly with the fused path's (with fp16: the fused fp16 path's).
Also: how many buckets were under way before step(); a layer without a gradient; two
backward passes before a step. Rank 0 prints one JSON line."""

import json

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.models import create_model
from chainrule.random import manual_seed

STEPS, B = 10, 16


def build(name):
    manual_seed(7)
    if name == "mlp":
        return create_model("mlp", input_shape=(16,), num_classes=4, hidden=(64, 32),
                            dropout=0.0)
    return create_model("cnn", input_shape=(1, 8, 8), num_classes=4, channels=(4, 8),
                        hidden=16, dropout=0.0)


def train(name, **options):
    model = build(name)
    start = np.concatenate([p.data.ravel() for p in model.parameters()])
    unused = nn.Dense(3, 3)  # its parameters never get a gradient
    params = [*model.parameters(), *unused.parameters()]
    opt = dist.DistributedOptimizer(optim.SGD(params, lr=0.05, momentum=0.9), **options)
    rng = np.random.default_rng(dist.rank())  # each rank its own data
    shape = (B, 1, 8, 8) if name == "cnn" else (B, 16)
    under_way = []
    for _ in range(STEPS):
        x, y = rng.normal(size=shape), rng.integers(0, 4, size=B)
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(cr.tensor(x)), y).backward()
        if opt.overlapped is not None:
            under_way.append(sum(b.request is not None for b in opt.overlapped.buckets))
        opt.step()
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    return flat, under_way, opt, [p.grad is None for p in unused.parameters()], \
        float(np.abs(flat - start).max())


def main():
    cr.set_default_dtype(np.float64)
    dist.init()
    facts = {}
    for name in ("mlp", "cnn"):
        fused = train(name)[0]
        fused16 = train(name, compression="fp16")[0]
        for label, options, ref in (("1MB", {}, fused), ("2KB", {"bucket_bytes": 2048}, fused),
                                    ("fp16", {"bucket_bytes": 2048, "compression": "fp16"},
                                     fused16)):
            flat, under_way, opt, none, moved = train(name, overlap=True, **options)
            replicas = dist.allgather_object(flat)
            facts[f"{name}/{label}"] = {
                "diff": float(np.abs(flat - ref).max()),
                "replicas": float(np.abs(replicas[0] - replicas[1]).max()),
                "buckets": len(opt.overlapped.buckets), "under_way": max(under_way),
                "unused_grad_none": none, "moved": moved}
    # two backward passes before a step: refused, on every rank alike
    model = build("mlp")
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1), overlap=True)
    x, y = cr.tensor(np.ones((4, 16))), np.zeros(4, dtype=int)
    nn.CrossEntropyLoss()(model(x), y).backward()
    try:
        nn.CrossEntropyLoss()(model(x), y).backward()
        facts["twice"] = None
    except RuntimeError as e:
        facts["twice"] = str(e)
    opt.zero_grad()  # waits for what was started and forgets it
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()
    facts["after_discard"] = dist.allgather_object(
        float(np.abs(model.parameters()[0].data).sum()))
    if dist.rank() == 0:
        print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
