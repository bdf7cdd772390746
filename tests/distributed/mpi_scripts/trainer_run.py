"""Under ``mpirun -n 2``: DistributedTrainer (per-rank batch 8) against one process's
Trainer (batch 16) in float64, then a resumed distributed run against an uninterrupted one.
Usage: trainer_run.py DIR. Rank 0 prints one JSON line."""

import json
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.errors import TrainingDiverged
from chainrule.random import manual_seed
from chainrule.train import Checkpoint, CSVLogger, LambdaCallback, Trainer


def problem(n=96):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, (x @ rng.normal(size=(4, 3))).argmax(1)


def make(cls, seed_weights):
    manual_seed(seed_weights)
    model = nn.Sequential(nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3))
    return model, cls(model, nn.CrossEntropyLoss(),
                      optim.SGD(model.parameters(), lr=0.1, momentum=0.9))


def keyword(*args, **kwargs):
    """``Trainer(..., distributed=True)``: the keyword of issue 18."""
    return Trainer(*args, distributed=True, **kwargs)


def _stop_at(trainer, step):
    if trainer.global_step == step:
        raise RuntimeError("stopped on purpose (both ranks, the same step)")


def _logs(history):
    return {k: v for k, v in history.history.items() if k != "time"}


def flat(model):
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def main():
    cr.set_default_dtype(np.float64)
    folder = Path(sys.argv[1])
    dist.init()
    r, p = dist.rank(), dist.size()
    # 1) 3 epochs, a checkpoint on the primary after every 6 steps, a CSV log
    model, trainer = make(dist.DistributedTrainer, 10 + r)  # rank 0's weights win
    start = {k: v.copy() for k, v in model.state_dict().items()}
    ck = Checkpoint(folder / "ck", every_steps=6)
    hist = trainer.fit(problem(), epochs=3, batch_size=8, seed=4, verbose=False,
                       callbacks=[ck, CSVLogger(folder / f"log{r}.csv")])
    full = flat(model)
    facts = {"replicas": max(float(np.abs(o - full).max())
                             for o in dist.allgather_object(full)),
             "losses_same": dist.allgather_object(hist.history["loss"]),
             "logs": sorted(x.name for x in folder.iterdir())}
    # 2) resume from the primary's checkpoint (all 3 epochs' steps: 18; saved at 18)
    #    -> instead resume from an earlier one: train 2 epochs, then continue to 3
    dist.barrier()
    m2, t2 = make(keyword, 10 + r)
    facts["keyword_class"] = type(t2).__name__
    t2.fit(problem(), epochs=2, batch_size=8, seed=4, verbose=False,
           callbacks=[Checkpoint(folder / "ck2", every_steps=6)])
    dist.barrier()
    m3, t3 = make(dist.DistributedTrainer, 99 + r)  # other weights: the checkpoint's win
    t3.fit(problem(), epochs=3, batch_size=8, seed=4, verbose=False,
           resume_from=folder / "ck2")
    facts["resumed_diff"] = float(np.abs(flat(m3) - full).max())
    # 2b) stopped in the middle of an epoch (step 10 of 18; last checkpoint at step 9):
    #     the resumed run's logs are the uninterrupted run's too (each rank's running
    #     metrics of the epoch come back from the checkpoint, not the primary's)
    dist.barrier()
    m6, t6 = make(dist.DistributedTrainer, 10 + r)
    try:
        t6.fit(problem(), epochs=3, batch_size=8, seed=4, verbose=False,
               callbacks=[Checkpoint(folder / "ck3", every_steps=3), LambdaCallback(
                   on_batch_end=lambda b, logs: _stop_at(t6, 10))])
    except RuntimeError:
        pass
    dist.barrier()
    m7, t7 = make(dist.DistributedTrainer, 99 + r)
    h7 = t7.fit(problem(), epochs=3, batch_size=8, seed=4, verbose=False,
                resume_from=folder / "ck3")
    facts["mid_epoch_diff"] = float(np.abs(flat(m7) - full).max())
    facts["mid_epoch_logs_same"] = _logs(h7) == _logs(hist)
    # the gradients reduced during backward (overlap=True, small buckets): the same run
    m5, t5 = make(lambda m, loss, opt: dist.DistributedTrainer(
        m, loss, dist.DistributedOptimizer(opt, overlap=True, bucket_bytes=64)), 10 + r)
    facts["overlap_buckets"] = len(t5.optimizer.overlapped.buckets)
    t5.fit(problem(), epochs=3, batch_size=8, seed=4, verbose=False)
    facts["overlap_diff"] = float(np.abs(flat(m5) - full).max())
    # 3) one sample is NaN: whichever rank draws it, every rank stops at the same step
    x, y = problem()
    x[17] = np.nan
    m4, t4 = make(dist.DistributedTrainer, 1)
    try:
        t4.fit((x, y), epochs=3, batch_size=8, seed=4, verbose=False)
        facts["diverged"] = None
    except TrainingDiverged:
        facts["diverged"] = dist.allgather_object(t4.global_step)
    if r == 0:  # one process, batch 16, the same seed: the same run
        ref, rt = make(Trainer, 0)
        ref.load_state_dict(start)
        rh = rt.fit(problem(), epochs=3, batch_size=8 * p, seed=4, verbose=False)
        facts["ref_diff"] = float(np.abs(flat(ref) - full).max())
        facts["ref_loss_diff"] = float(np.abs(np.subtract(rh.history["loss"],
                                                          hist.history["loss"])).max())
        print(json.dumps(facts), flush=True)


if __name__ == "__main__":
    main()
