"""Reproduce the MNIST table of "Deep Learning from Scratch" (Weidman, 2019), chapter 4.

Every row trains for up to 50 epochs with batch size 60 and reports accuracy on the
10,000 MNIST test images. Inputs are standardised with the training set's global mean and
standard deviation, as in the book. The book keeps the model with the lowest *test* loss
(it evaluates every 10 epochs and stops when the test loss rises); we never look at the
test set while training: the last 5,000 training images are held out as a validation set,
and the weights of the epoch with the lowest validation loss are kept (``--protocol
val``). ``--protocol last`` trains on all 60,000 images and reports the last epoch.

Rows (the book's test accuracy in brackets):

1. 784-89-10, tanh hidden, sigmoid output, MSE loss, SGD lr 0.1            [72.58 %]
2. + softmax cross-entropy (linear output)                                 [91.01 %]
3. + momentum 0.9                                                          [95.51 %]
4. + linear learning-rate decay 0.15 -> 0.05                               [95.91 %]
5. + exponential decay 0.2 -> 0.05 (instead of linear)                     [96.06 %]
6. + Glorot initialisation                                                 [96.71 %]
7. + dropout (keep 0.8) on the hidden layer                                [96.95 %]
8. deep 784-178-46-10 with Glorot, exponential decay and dropout           [97.15 %]
9. the same deep net without dropout                                       [96.52 %]

Differences from the book, on purpose: its "Glorot" scale is 2/(fan_in+fan_out) used as
a standard deviation; we use the real Glorot variance 2/(fan_in+fan_out). Its default
initialisation N(0, 1) saturates tanh from the first step; rows 1-5 use PyTorch's default
for linear layers instead (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases;
``--book-init`` restores N(0, 1)). The book's MSE divides the summed squared error by
the batch size only (not by the 10 outputs); we do the same.

    python experiments/dlfs_mnist.py [--epochs 50] [--rows 1,2,3] [--protocol val|last]
                                     [--book-init] [--out docs/dlfs_mnist_table.md]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import chainrule.nn as nn  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule.data import load_mnist, one_hot  # noqa: E402
from chainrule.optim import SGD  # noqa: E402
from chainrule.optim.schedules import ExponentialDecay, LinearDecay  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.train import EarlyStopping, LearningRateScheduler, Trainer  # noqa: E402

SEED = 20190119  # the book's seed


@dataclass
class Row:
    name: str
    book: float
    hidden: tuple[int, ...] = (89,)
    loss: str = "ce"  # "mse" (sigmoid output) or "ce" (softmax cross-entropy)
    momentum: float = 0.0
    lr: float = 0.1
    final_lr: float | None = None
    decay: str | None = None  # "linear" | "exponential"
    glorot: bool = False
    dropout: float = 0.0


ROWS = [
    Row("MSE loss, sigmoid output", 72.58, loss="mse"),
    Row("softmax cross-entropy", 91.01),
    Row("+ momentum 0.9", 95.51, momentum=0.9),
    Row("+ linear decay 0.15 -> 0.05", 95.91, momentum=0.9, lr=0.15, final_lr=0.05,
        decay="linear"),
    Row("+ exponential decay 0.2 -> 0.05", 96.06, momentum=0.9, lr=0.2, final_lr=0.05,
        decay="exponential"),
    Row("+ Glorot init", 96.71, momentum=0.9, lr=0.2, final_lr=0.05, decay="exponential",
        glorot=True),
    Row("+ dropout 0.2", 96.95, momentum=0.9, lr=0.2, final_lr=0.05, decay="exponential",
        glorot=True, dropout=0.2),
    Row("deep 784-178-46-10 + dropout", 97.15, hidden=(178, 46), momentum=0.9, lr=0.2,
        final_lr=0.05, decay="exponential", glorot=True, dropout=0.2),
    Row("deep 784-178-46-10, no dropout", 96.52, hidden=(178, 46), momentum=0.9, lr=0.2,
        final_lr=0.05, decay="exponential", glorot=True),
]


def dense(fan_in: int, width: int, row: Row, book_init: bool) -> nn.Linear:
    if row.glorot:
        return nn.Linear(fan_in, width, init="glorot_normal")
    layer = nn.Linear(fan_in, width, init="normal")  # the book's N(0, 1)
    if not book_init:  # PyTorch's default for nn.Linear
        bound = 1 / math.sqrt(fan_in)
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
        nn.init.uniform_(layer.bias, -bound, bound)
    return layer


def build(row: Row, book_init: bool = False) -> nn.Module:
    layers: list[nn.Module] = []
    fan_in = 784
    for width in row.hidden:
        layers += [dense(fan_in, width, row, book_init), nn.Tanh()]
        if row.dropout:
            layers.append(nn.Dropout(row.dropout))
        fan_in = width
    layers.append(dense(fan_in, 10, row, book_init))
    if row.loss == "mse":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def mse_per_example(pred, target):
    """The book's MSE: summed squared error divided by the batch size."""
    return F.mse_loss(pred, target, reduction="sum") / pred.shape[0]


def run_row(row: Row, data: tuple, epochs: int, protocol: str = "val",
            book_init: bool = False) -> dict:
    (x, y), (xt, yt) = data
    manual_seed(SEED)
    model = build(row, book_init)
    optimizer = SGD(model.parameters(), lr=row.lr, momentum=row.momentum)
    callbacks = []
    if row.decay:
        decay = LinearDecay if row.decay == "linear" else ExponentialDecay
        callbacks.append(LearningRateScheduler(decay(optimizer, row.final_lr, epochs)))
    if row.loss == "mse":
        loss, targets, test_targets = mse_per_example, one_hot(y, 10), one_hot(yt, 10)
    else:
        loss, targets, test_targets = nn.CrossEntropyLoss(), y, yt
    trainer = Trainer(model, loss, optimizer, metrics=["accuracy"])
    train, val = (x, targets), None
    if protocol == "val":
        n = len(x) - 5000
        train, val = (x[:n], targets[:n]), (x[n:], targets[n:])
        callbacks.append(EarlyStopping("val_loss", patience=epochs, restore_best=True))
    t0 = time.perf_counter()
    history = trainer.fit(train, val=val, epochs=epochs, batch_size=60, callbacks=callbacks,
                          seed=SEED, verbose=False)
    seconds = time.perf_counter() - t0
    acc = 100 * trainer.evaluate((xt, test_targets), batch_size=1000)["accuracy"]
    best = callbacks[-1].best_epoch + 1 if protocol == "val" else len(history.epoch)
    return {"row": row.name, "book": row.book, "ours": acc, "seconds": seconds,
            "epoch": best}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--rows", default="all", help="comma-separated row numbers (1-9)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--protocol", choices=("val", "last"), default="val")
    p.add_argument("--book-init", action="store_true", help="rows 1-5 with N(0, 1) weights")
    p.add_argument("--out", default=None, help="write a Markdown table here")
    a = p.parse_args(argv)
    picked = range(1, 10) if a.rows == "all" else [int(r) for r in a.rows.split(",")]
    (x, y), (xt, yt) = load_mnist(a.data_dir, flatten=True)
    mean, std = x.mean(), x.std()
    data = (((x - mean) / std).astype(np.float32), y), (((xt - mean) / std).astype(np.float32),
                                                        yt)
    results = []
    print(f"{'#':>2} {'experiment':34} {'book %':>8} {'ours %':>8} {'epoch':>6} {'time':>7}")
    for k in picked:
        r = run_row(ROWS[k - 1], data, a.epochs, a.protocol, a.book_init)
        results.append((k, r))
        print(f"{k:>2} {r['row']:34} {r['book']:>8.2f} {r['ours']:>8.2f} {r['epoch']:>6} "
              f"{r['seconds']:>6.0f}s", flush=True)
    if a.out:
        lines = ["| # | experiment | book test acc. | chainrule test acc. | kept epoch "
                 "| train time |", "|---|---|---|---|---|---|"]
        lines += [f"| {k} | {r['row']} | {r['book']:.2f} % | {r['ours']:.2f} % | "
                  f"{r['epoch']} | {r['seconds']:.0f} s |" for k, r in results]
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
