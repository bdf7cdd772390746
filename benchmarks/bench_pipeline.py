"""Does ``prefetch`` overlap preprocessing with training? (issue 20)

One epoch of MNIST through ``from_arrays(x, y).map(augment, workers=W).batch(64)``, with and
without ``.prefetch(2)``, each batch feeding one training step of the 784-300-100-10 MLP
(SGD). Reported: seconds per step (median of the repeats, alternated), the time of the
pipeline alone and of the steps alone, and the ratio without/with prefetch. The ideal
overlap gives max(pipeline, training) instead of their sum; Python's GIL limits it to
the parts that run in NumPy with the GIL released.

Run: ``python benchmarks/bench_pipeline.py [--samples N] [--repeats R] [--workers W]``
(data from ``$CHAINRULE_DATA``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from chainrule import nn, optim
from chainrule.data import from_arrays, load_mnist
from chainrule.random import manual_seed


def augment(x: np.ndarray, y: np.int64) -> tuple[np.ndarray, np.int64]:
    """A random shift of up to 2 pixels and a little noise (per image)."""
    rng = np.random.default_rng(int(y) * 7919 + int(x[14, 14] * 1000))
    dy, dx = rng.integers(-2, 3, size=2)
    img = np.roll(np.roll(x, dy, axis=0), dx, axis=1)
    img = img + rng.normal(0, 0.05, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 1).reshape(-1), y


def make_step():
    manual_seed(0)
    model = nn.Sequential(nn.Dense(784, 300), nn.ReLU(), nn.Dense(300, 100), nn.ReLU(),
                          nn.Dense(100, 10))
    opt = optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb: np.ndarray, yb: np.ndarray) -> None:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()

    return step


def timed(pipe, step) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for xb, yb in pipe:
        if step is not None:
            step(xb, yb)
        n += 1
    return time.perf_counter() - t0, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=60_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    (x, y), _ = load_mnist()
    x, y = x[:args.samples], y[:args.samples]
    base = from_arrays(x, y).map(augment, workers=args.workers).batch(64)
    pipes = {"no prefetch": base, "prefetch(2)": base.prefetch(2)}
    step = make_step()
    xb, yb = next(iter(base))
    step(xb, yb)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in (*pipes, "pipeline only", "steps only")}
    batches = [next(iter(base))]
    for _ in range(args.repeats):
        for name, pipe in pipes.items():
            secs, n = timed(pipe, step)
            times[name].append(secs / n)
        secs, n = timed(base, None)
        times["pipeline only"].append(secs / n)
        t0 = time.perf_counter()
        for _ in range(n):
            step(*batches[0])
        times["steps only"].append((time.perf_counter() - t0) / n)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:14s} {v * 1e3:7.3f} ms/step  (runs: "
              f"{', '.join(f'{t * 1e3:.3f}' for t in times[k])})")
    pipe, steps = med["pipeline only"], med["steps only"]
    print(f"ratio no-prefetch / prefetch: {med['no prefetch'] / med['prefetch(2)']:.2f}x; "
          f"ideal {(pipe + steps) / max(pipe, steps):.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "ms_per_step": {k: [t * 1e3 for t in v]
                                                           for k, v in times.items()}}, fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
