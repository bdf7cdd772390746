"""Reproduce the MNIST table of "Deep Learning from Scratch" (Weidman, 2019), chapter 4.

Every row trains for up to 50 epochs with batch size 60 and reports accuracy on the
10,000 MNIST test images. Inputs are standardised with the training set's global mean and
standard deviation, as in the book.

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

Protocols (``--protocol``), i.e. which weights are scored on the test set:

* ``val`` (default): the last 5,000 training images are held out; the weights of the
  epoch with the lowest validation loss are kept. The test set is never looked at.
* ``last``: train on all 60,000 images and report the last epoch.
* ``book``: the book's own protocol (``lincoln``'s ``Trainer.fit``), which SELECTS ON THE
  TEST SET: train on all 60,000 images; every 10 epochs compute the book's loss on the
  test set and, as soon as it is not lower than at the previous check, put back the
  weights saved at the start of that epoch (so 9, 19, 29... epochs) and stop. Reported
  for comparison with the book only; its numbers are optimistic by construction.

Learning rates are decayed once per epoch over the nominal 50 epochs, as in the book.
The book's SGDMomentum (``v = m v + lr g; p -= v``) and ours (``v = m v + g; p -= lr v``)
differ only when the lr changes (once per epoch here, by <= 3 %), for the ~10 steps the
old velocity lasts; we use ours.

Differences from the book's code, each because the book's code is buggy or saturates:

* Initialisation (``--book-init`` restores the book's): the book's "Glorot" uses
  2/(fan_in+fan_out) as a standard deviation (for weights and biases); rows 6-9 use the
  real Glorot normal (variance 2/(fan_in+fan_out), zero bias). The book's default N(0, 1)
  saturates tanh from the first step; rows 1-5 use PyTorch's default for linear layers
  instead (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases).
* Nothing else. In particular dropout is the book's: multiply by a keep mask while
  training and by keep_prob at test time (Srivastava et al.'s original form, see
  :class:`BookDropout`). Inverted dropout (``nn.Dropout``, ``--dropout inverted``) is the
  same model in another parametrisation, but NOT the same training run at the same lr:
  in the book's coordinates every layer after an inverted dropout trains with
  lr / keep_prob**2 = 1.56 lr, which at the book's already aggressive lr 0.2 and
  momentum 0.9 cost 0.4 points in row 7 and 1 point in row 8 when we measured it.

The book's MSE divides the summed squared error by the batch size only (not by the 10
outputs); we do the same.

Training at lr 0.2 with momentum 0.9 is chaotic: two runs that differ only in float
rounding (float32 vs float64, or chainrule vs PyTorch) have O(1) different weights after
~150 steps, so a single run is one draw. ``--seeds K`` runs every row with K seeds
(20190119, 20190120, ...) and reports the mean and standard deviation (0.2 points in
row 6 over six seeds).

``--torch`` runs the same rows in PyTorch (CPU, one thread), as independent evidence that
a shortfall is the recipe's and not chainrule's: chainrule's initial weights are copied
into ``torch.nn.Linear`` layers (both store the weight as (out, in)), the batches are the
chainrule loader's (same seed), the dropout masks are drawn exactly as chainrule draws
them (same generator, same order), and ``torch.optim.SGD`` is our momentum form, with the
same schedule object setting its lr once per epoch. Only float rounding differs.
``--torch-check 5,50`` prints the largest parameter difference between the two after that
many steps of the same run (it should be float32 rounding, before the chaos grows).

    python experiments/dlfs_mnist.py [--epochs 50] [--rows 1,2,3] [--protocol val|last|book]
                                     [--seeds 1] [--book-init] [--dropout book|inverted]
                                     [--torch] [--torch-check 5,50]
                                     [--out docs/dlfs_mnist_table.md]
"""

from __future__ import annotations

import argparse
import copy
import functools
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import chainrule.nn as nn  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule.autograd import ops  # noqa: E402
from chainrule.autograd.tensor import Tensor  # noqa: E402
from chainrule.data import load_mnist, one_hot  # noqa: E402
from chainrule.optim import SGD  # noqa: E402
from chainrule.optim.schedules import ExponentialDecay, LinearDecay  # noqa: E402
from chainrule.random import get_rng, manual_seed  # noqa: E402
from chainrule.train import EarlyStopping, LearningRateScheduler, Trainer  # noqa: E402
from chainrule.train.callbacks import Callback  # noqa: E402
from chainrule.train.trainer import make_loader  # noqa: E402

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


class BookDropout(nn.Module):
    """The book's (and Srivastava et al.'s) dropout: ``x * mask`` while training, with
    ``mask ~ Bernoulli(1 - p)``, and ``x * (1 - p)`` at test time (no 1/(1-p) rescaling
    in training, unlike ``nn.Dropout``)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        x = ops.lift(x)
        if not self.training:
            return x * (1.0 - self.p)
        keep = get_rng().random(x.shape) >= self.p
        return x * Tensor(keep.astype(x.dtype))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dense(fan_in: int, width: int, row: Row, book_init: bool) -> nn.Linear:
    if row.glorot and not book_init:
        return nn.Linear(fan_in, width, init="glorot_normal")
    layer = nn.Linear(fan_in, width, init="normal")  # the book's N(0, 1)
    if row.glorot:  # the book's "Glorot": 2 / (fan_in + fan_out) used as a std
        scale = 2 / (fan_in + width)
        nn.init.normal_(layer.weight, 0.0, scale)
        nn.init.normal_(layer.bias, 0.0, scale)
    elif book_init:
        nn.init.normal_(layer.bias, 0.0, 1.0)
    else:  # PyTorch's default for nn.Linear
        bound = 1 / math.sqrt(fan_in)
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
        nn.init.uniform_(layer.bias, -bound, bound)
    return layer


def build(row: Row, book_init: bool = False, dropout: str = "book") -> nn.Module:
    layers: list[nn.Module] = []
    fan_in = 784
    for width in row.hidden:
        layers += [dense(fan_in, width, row, book_init), nn.Tanh()]
        if row.dropout:
            layers.append(BookDropout(row.dropout) if dropout == "book"
                          else nn.Dropout(row.dropout))
        fan_in = width
    layers.append(dense(fan_in, 10, row, book_init))
    if row.loss == "mse":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def mse_per_example(pred, target):
    """The book's MSE: summed squared error divided by the batch size."""
    return F.mse_loss(pred, target, reduction="sum") / pred.shape[0]


def book_loss(out: np.ndarray, target: np.ndarray, row: Row) -> float:
    """The loss the book's trainer watches: its MSE, or its "softmax cross-entropy"
    ``sum(-t log p - (1 - t) log(1 - p)) / N`` with p clipped to [1e-9, 1 - 1e-9]."""
    n, out = len(out), out.astype(np.float64)  # 1 - 1e-9 is 1.0 in float32
    if row.loss == "mse":
        return float(((out - target) ** 2).sum() / n)
    t = one_hot(target, 10)
    z = out - out.max(axis=1, keepdims=True)
    p = np.exp(z)
    p = np.clip(p / p.sum(axis=1, keepdims=True), 1e-9, 1 - 1e-9)
    return float((-t * np.log(p) - (1 - t) * np.log(1 - p)).sum() / n)


class BookEarlyStopping(Callback):
    """``lincoln``'s early stopping, which looks at the TEST set.

    At the start of every ``every``-th epoch the weights are saved; at its end the book's
    loss on ``test`` is computed and, unless it is lower than at every earlier check, the
    weights saved at the start of that epoch (after 9, 19, ... epochs, although the book
    prints "using the model from epoch 10, 20, ...") are put back and training stops.
    ``kept_epochs`` is the number of epochs the final weights were trained for.
    """

    def __init__(self, test: tuple[np.ndarray, np.ndarray], row: Row, every: int = 10):
        self.test, self.row, self.every = test, row, every

    def on_train_begin(self, logs=None) -> None:
        self.best, self.saved, self.kept_epochs = math.inf, None, None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if (epoch + 1) % self.every == 0:
            self.saved = {k: np.array(v, copy=True) for k, v in self.model.state_dict().items()}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if (epoch + 1) % self.every:
            return
        out = self.trainer.predict(self.test[0], batch_size=1000)
        loss = book_loss(out, self.test[1], self.row)
        if loss < self.best:
            self.best = loss
            return
        self.model.load_state_dict(self.saved)
        self.kept_epochs = epoch
        self.trainer.stop_training = True


class StepRecorder(Callback):
    """Copies the parameters after each of ``steps`` training steps and ends training after
    the last; works for a chainrule :class:`Trainer` and for :func:`run_row_torch`."""

    def __init__(self, steps: list[int]) -> None:
        self.steps, self.count, self.saved = set(steps), 0, []

    def record(self, params) -> bool:
        """Count a step (``params``: NumPy arrays); True when training should stop."""
        self.count += 1
        if self.count in self.steps:
            self.saved.append([np.array(p, copy=True) for p in params])
        return self.count >= max(self.steps)

    def on_batch_end(self, batch: int, logs=None) -> None:
        if self.record(p.data for p in self.model.parameters()):
            self.trainer.stop_training = True


def make_schedule(row: Row, optimizer, epochs: int):
    """The row's lr decay, stepped once per epoch, or None. Any optimizer with
    ``param_groups`` will do, ``torch.optim.SGD`` included."""
    if not row.decay:
        return None
    decay = LinearDecay if row.decay == "linear" else ExponentialDecay
    return decay(optimizer, row.final_lr, epochs)


def targets_and_split(row: Row, data: tuple, protocol: str) -> tuple:
    """``(train, val, test)`` as ``(x, targets)`` pairs (one-hot targets for the MSE row);
    ``val`` is the last 5,000 training images under the ``val`` protocol, else None."""
    (x, y), (xt, yt) = data
    if row.loss == "mse":
        y, yt = one_hot(y, 10), one_hot(yt, 10)
    if protocol != "val":
        return (x, y), None, (xt, yt)
    n = len(x) - 5000
    return (x[:n], y[:n]), (x[n:], y[n:]), (xt, yt)


def run_row(row: Row, data: tuple, epochs: int, protocol: str = "val",
            book_init: bool = False, dropout: str = "book", seed: int = SEED,
            recorder: StepRecorder | None = None) -> dict:
    manual_seed(seed)
    model = build(row, book_init, dropout)
    optimizer = SGD(model.parameters(), lr=row.lr, momentum=row.momentum)
    callbacks: list[Callback] = [] if recorder is None else [recorder]
    schedule = make_schedule(row, optimizer, epochs)
    if schedule is not None:
        callbacks.append(LearningRateScheduler(schedule))
    loss = mse_per_example if row.loss == "mse" else nn.CrossEntropyLoss()
    trainer = Trainer(model, loss, optimizer, metrics=["accuracy"])
    train, val, (xt, test_targets) = targets_and_split(row, data, protocol)
    if protocol == "val":
        callbacks.append(EarlyStopping("val_loss", patience=epochs, restore_best=True))
    elif protocol == "book":
        callbacks.append(BookEarlyStopping((xt, test_targets), row))
    t0 = time.perf_counter()
    history = trainer.fit(train, val=val, epochs=epochs, batch_size=60, callbacks=callbacks,
                          seed=seed, verbose=False)
    seconds = time.perf_counter() - t0
    acc = 100 * trainer.evaluate((xt, test_targets), batch_size=1000)["accuracy"]
    kept = len(history.epoch)
    if protocol == "val":
        kept = callbacks[-1].best_epoch + 1
    elif protocol == "book" and callbacks[-1].kept_epochs is not None:
        kept = callbacks[-1].kept_epochs
    return {"acc": acc, "seconds": seconds, "epoch": kept}


def import_torch():
    """PyTorch, imported only when asked for. One thread: as fast for these small layers,
    and a run repeats exactly."""
    try:
        import torch
    except ImportError:
        raise SystemExit("--torch needs PyTorch, which is not installed "
                         "(pip install torch)") from None
    torch.set_num_threads(1)
    return torch


@functools.cache
def torch_dropout_class() -> type:
    torch = import_torch()

    class NumpyMaskDropout(torch.nn.Module):
        """:class:`BookDropout` (or, ``inverted``, ``nn.Dropout``) in PyTorch, its mask
        drawn exactly as chainrule draws it: ``get_rng().random(shape) >= p``."""

        def __init__(self, p: float, inverted: bool) -> None:
            super().__init__()
            self.p, self.inverted = p, inverted

        def forward(self, x):
            if not self.training:
                return x if self.inverted else x * (1.0 - self.p)
            keep = get_rng().random(tuple(x.shape)) >= self.p
            mask = keep / (1.0 - self.p) if self.inverted else keep
            return x * torch.from_numpy(mask.astype(np.float32))

    return NumpyMaskDropout


def to_torch(model: nn.Sequential):
    """A ``torch.nn.Sequential`` copy of a model made by :func:`build`, same weights."""
    torch = import_torch()
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):  # weight (out, in) in both libraries
            layer = torch.nn.Linear(m.in_features, m.out_features)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(m.weight.data))
                layer.bias.copy_(torch.from_numpy(m.bias.data))
        elif isinstance(m, nn.Tanh | nn.Sigmoid):
            layer = torch.nn.Tanh() if isinstance(m, nn.Tanh) else torch.nn.Sigmoid()
        elif isinstance(m, BookDropout | nn.Dropout):
            layer = torch_dropout_class()(m.p, inverted=isinstance(m, nn.Dropout))
        else:
            raise TypeError(f"to_torch: no PyTorch version of {type(m).__name__}")
        layers.append(layer)
    return torch.nn.Sequential(*layers)


def run_row_torch(row: Row, data: tuple, epochs: int, protocol: str = "val",
                  book_init: bool = False, dropout: str = "book", seed: int = SEED,
                  recorder: StepRecorder | None = None) -> dict:
    """:func:`run_row` in PyTorch, from the same initial weights, batches and dropout
    masks (see the module docstring); the protocols mirror ``EarlyStopping`` and
    :class:`BookEarlyStopping`."""
    torch = import_torch()
    manual_seed(seed)
    model = to_torch(build(row, book_init, dropout))
    optimizer = torch.optim.SGD(model.parameters(), lr=row.lr, momentum=row.momentum)
    schedule = make_schedule(row, optimizer, epochs)
    train, val, (xt, test_targets) = targets_and_split(row, data, protocol)

    def loss(out, target: np.ndarray):
        target = torch.from_numpy(target)
        if row.loss == "mse":  # the book's: summed squared error / batch size
            return ((out - target) ** 2).sum() / len(out)
        return torch.nn.functional.cross_entropy(out, target)

    def predict(x: np.ndarray):
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(x))

    manual_seed(seed)  # as Trainer.fit: the dropout masks come from here on
    loader = make_loader(train, 60, shuffle=True, seed=seed)  # Trainer.fit's batches
    best, kept, saved, stop = math.inf, epochs, None, False
    t0 = time.perf_counter()
    for epoch in range(epochs):
        if protocol == "book" and (epoch + 1) % 10 == 0:
            saved = copy.deepcopy(model.state_dict())
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss(model(torch.from_numpy(xb)), yb).backward()
            optimizer.step()
            if recorder is not None and recorder.record(
                    p.detach().numpy() for p in model.parameters()):
                stop = True
                break
        if stop:
            break
        if schedule is not None:
            schedule.step()
        if protocol == "val":
            value = float(loss(predict(val[0]), val[1]))
            if value < best:
                best, kept, saved = value, epoch + 1, copy.deepcopy(model.state_dict())
        elif protocol == "book" and (epoch + 1) % 10 == 0:
            value = book_loss(predict(xt).numpy(), test_targets, row)
            if value >= best:
                model.load_state_dict(saved)
                kept = epoch
                break
            best = value
    if protocol == "val" and saved is not None:
        model.load_state_dict(saved)
    seconds = time.perf_counter() - t0
    test_labels = data[1][1]
    acc = 100 * float((predict(xt).argmax(1).numpy() == test_labels).mean())
    return {"acc": acc, "seconds": seconds, "epoch": kept}


def torch_check(row: Row, data: tuple, steps: list[int], epochs: int, book_init: bool,
                dropout: str, seed: int) -> list[float]:
    """Max |chainrule - PyTorch| over all parameters after each of ``steps`` steps of the
    same run (same start, batches, masks and lr)."""
    saved = []
    for runner in (run_row, run_row_torch):
        recorder = StepRecorder(steps)
        runner(row, data, epochs, "last", book_init, dropout, seed, recorder)
        saved.append(recorder.saved)
    return [max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
            for ours, theirs in zip(*saved)]


def summarise(k: int, runs: list[dict]) -> dict:
    accs = [r["acc"] for r in runs]
    return {"k": k, "row": ROWS[k - 1].name, "book": ROWS[k - 1].book,
            "mean": statistics.fmean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else None,
            "accs": accs, "epochs": [r["epoch"] for r in runs],
            "seconds": sum(r["seconds"] for r in runs)}


def fmt_acc(s: dict) -> str:
    return f"{s['mean']:.2f}" if s["std"] is None else f"{s['mean']:.2f} ± {s['std']:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--rows", default="all", help="comma-separated row numbers (1-9)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--protocol", choices=("val", "last", "book"), default="val",
                   help="val: held-out validation split; last: final epoch; book: the "
                        "book's early stopping on the TEST loss")
    p.add_argument("--seeds", type=int, default=1,
                   help=f"runs per row, seeds {SEED}, {SEED + 1}, ...; mean ± std reported")
    p.add_argument("--book-init", action="store_true",
                   help="the book's initialisation: N(0, 1) in rows 1-5, its std "
                        "2/(fan_in+fan_out) in rows 6-9")
    p.add_argument("--dropout", choices=("book", "inverted"), default="book",
                   help="book: scale by keep_prob at test time; inverted: nn.Dropout")
    p.add_argument("--torch", action="store_true",
                   help="train with PyTorch instead, from chainrule's initial weights and "
                        "with its batches and dropout masks")
    p.add_argument("--torch-check", default=None, metavar="STEPS",
                   help="e.g. 5,50: print max |chainrule - PyTorch| parameter difference "
                        "after that many steps of each row (first seed), then exit")
    p.add_argument("--out", default=None, help="write a Markdown table here")
    a = p.parse_args(argv)
    picked = range(1, 10) if a.rows == "all" else [int(r) for r in a.rows.split(",")]
    seeds = [SEED + i for i in range(a.seeds)]
    if a.torch or a.torch_check:
        import_torch()  # fail before loading anything if it is missing
    (x, y), (xt, yt) = load_mnist(a.data_dir, flatten=True)
    mean, std = x.mean(), x.std()
    data = (((x - mean) / std).astype(np.float32), y), (((xt - mean) / std).astype(np.float32),
                                                        yt)
    if a.torch_check:
        steps = [int(s) for s in a.torch_check.split(",")]
        print(f"max |chainrule - PyTorch| over the parameters, seed {seeds[0]}, "
              f"dropout {a.dropout}{', book init' if a.book_init else ''}")
        for k in picked:
            diffs = torch_check(ROWS[k - 1], data, steps, a.epochs, a.book_init, a.dropout,
                                seeds[0])
            print(f"{k:>2} {ROWS[k - 1].name:34} "
                  + "  ".join(f"{s} steps: {d:.2e}" for s, d in zip(steps, diffs)), flush=True)
        return 0
    library = "PyTorch" if a.torch else "chainrule"
    runner = run_row_torch if a.torch else run_row
    print(f"{library}, protocol {a.protocol}, seeds {seeds}, dropout {a.dropout}"
          f"{', book init' if a.book_init else ''}")
    ours = "torch %" if a.torch else "ours %"
    print(f"{'#':>2} {'experiment':34} {'book %':>8} {ours:>14} {'epoch':>9} {'time':>7}")
    results = []
    for k in picked:
        runs = [runner(ROWS[k - 1], data, a.epochs, a.protocol, a.book_init, a.dropout, s)
                for s in seeds]
        r = summarise(k, runs)
        results.append(r)
        per_seed = "" if len(seeds) == 1 else "  [" + ", ".join(f"{v:.2f}" for v in r["accs"]) + "]"
        print(f"{k:>2} {r['row']:34} {r['book']:>8.2f} {fmt_acc(r):>14} "
              f"{'/'.join(map(str, r['epochs'])):>9} {r['seconds']:>6.0f}s{per_seed}", flush=True)
    if a.out:
        lines = [f"{library}, protocol `{a.protocol}`, seeds {', '.join(map(str, seeds))}, "
                 f"{a.dropout} dropout{', book init' if a.book_init else ''}.", "",
                 f"| # | experiment | book test acc. | {library} test acc. | per seed "
                 "| kept epoch | train time |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['k']} | {r['row']} | {r['book']:.2f} % | {fmt_acc(r)} % | "
                  f"{', '.join(f'{v:.2f}' for v in r['accs'])} | "
                  f"{', '.join(map(str, r['epochs']))} | {r['seconds']:.0f} s |"
                  for r in results]
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
