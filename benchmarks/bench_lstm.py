"""LSTM training throughput, chainrule against PyTorch's nn.LSTM, side by side.

The reference workload of the recurrent-networks issue: one-hot characters (vocabulary
64) -> LSTM(hidden 256) -> Linear(64), sequence length 32, batch 32, softmax
cross-entropy over all steps, SGD with momentum, float32. Reports training sequences per
second; target >= 0.7x PyTorch's on the same machine and thread count.

    python benchmarks/bench_lstm.py [--threads N] [--cpu-clock] [--quick]

``--cpu-clock`` (with --threads 1) times CPU time of this thread only, which ignores other
processes on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import freeze_heap, import_chainrule, import_torch, measure  # noqa: E402

cr = import_chainrule()
from chainrule import nn, optim  # noqa: E402

VOCAB, HIDDEN, STEPS, BATCH = 64, 256, 32, 32
LR, MOMENTUM = 0.1, 0.9


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, VOCAB, (BATCH, STEPS))
    return np.eye(VOCAB, dtype=np.float32)[idx], rng.integers(0, VOCAB, (BATCH, STEPS))


class CharModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(VOCAB, HIDDEN)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x):
        return self.out(self.lstm(x))


def chainrule_step():
    x, y = data()
    model = CharModel()
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def torch_step(torch):
    x, y = (torch.from_numpy(a) for a in data())

    class TorchModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(VOCAB, HIDDEN, batch_first=True)
            self.out = torch.nn.Linear(HIDDEN, VOCAB)

        def forward(self, x):
            return self.out(self.lstm(x)[0])

    model = TorchModel()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> None:
        opt.zero_grad()
        out = model(x)
        torch.nn.functional.cross_entropy(out.reshape(-1, VOCAB), y.reshape(-1)).backward()
        opt.step()

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (set NumPy's "
                   "with OPENBLAS_NUM_THREADS before starting Python)")
    p.add_argument("--cpu-clock", action="store_true")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    torch = import_torch()
    if torch is not None and a.threads:
        torch.set_num_threads(a.threads)
    fns = {"chainrule": chainrule_step()}
    if torch is not None:
        fns["torch"] = torch_step(torch)
    freeze_heap()
    clock = time.thread_time if a.cpu_clock else time.perf_counter
    timings = measure(fns, min_time=0.2 if a.quick else 1.0, repeat=3 if a.quick else 7,
                      warmup=2, clock=clock)
    print(f"LSTM training step: one-hot {VOCAB} -> LSTM({HIDDEN}) -> Linear({VOCAB}), "
          f"seq {STEPS}, batch {BATCH}, float32, SGD momentum "
          f"(torch threads {torch.get_num_threads() if torch else '-'})")
    print(f"{'implementation':<12} {'ms/step':>9} {'sequences/s':>12} {'vs torch':>9}")
    ref = timings["torch"].best if "torch" in timings else None
    for name, t in timings.items():
        ratio = f"{ref / t.best:.2f}" if ref else "-"
        print(f"{name:<12} {t.best * 1e3:>9.2f} {BATCH / t.best:>12,.0f} {ratio:>9}")
    if ref:
        verdict = "ok" if ref / timings["chainrule"].best >= 0.7 else "MISS"
        print(f"target chainrule >= 0.7x torch throughput: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
