"""Convolutional networks on all of MNIST: the two CNNs of "Deep Learning from Scratch"
(Weidman, 2019) and the LeNet-style ``cnn`` of ``chainrule train``.

Experiments (``--runs``; the target in brackets):

* ``ch5``: the book's chapter-5 CNN, its only CNN experiment [90.50 %, the book's number]:
  Conv2D 1→32 5×5, "same" padding (2 on each side, as the book pads param_size // 2),
  no bias (the book's conv has none), tanh, flatten, dropout keep 0.8 (the book's form:
  ``x * mask`` in training, ``x * 0.8`` at test time), Dense 25088→10 linear, softmax
  cross-entropy, SGD lr 0.01 momentum 0.9, batch 60, ONE epoch, seed 20190402.
* ``ch7``: the book's PyTorch-chapter CNN ("about 97 % after one epoch") [97 %]:
  Conv 1→16 5×5 pad 2, tanh, dropout 0.2; Conv 16→8 5×5 pad 2, tanh, flatten, dropout 0.2;
  Dense 6272→32, tanh, dropout 0.2; Dense 32→10; ``nn.CrossEntropyLoss``; SGD lr 0.01
  momentum 0.9 (the book's optimizer), batch 60 (its DataLoader's), ONE epoch; PyTorch's
  default initialisation and inverted dropout (``nn.Dropout``), as the book used
  PyTorch's layers. ``--ch7-optimizer adam`` (lr 1e-3) and ``--ch7-batch-size 32`` (the
  default of the book's ``PyTorchTrainer.fit``) are the variants compared in docs/cnn.md.
* ``cnn``: ``chainrule.models.cnn`` (Conv 1→32 3×3, ReLU, MaxPool 2, Conv 32→64 3×3, ReLU,
  MaxPool 2, Dense 3136→128, ReLU, Dropout 0.5, Dense 10) [99.0 %]: Adam lr 1e-3, batch 64,
  up to ``--cnn-epochs`` (default 6) epochs.

Protocol (nothing is ever selected on the test set):

* Inputs are standardised with the training set's global mean and standard deviation
  (the book's preprocessing; the chapter-7 ``Normalize((0.1305,), (0.3081,))`` is the same
  up to rounding). Layout (N, 1, 28, 28), float32.
* ``ch5`` and ``ch7`` train on all 60,000 training images for exactly one epoch with the
  book's fixed hyperparameters and score the final weights on the 10,000 test images
  once. There is nothing to select.
* ``cnn`` holds out the LAST 5,000 training images for validation and trains on the other
  55,000; the weights of the epoch with the lowest validation loss are kept
  (``EarlyStopping(patience=epochs, restore_best=True)``) and scored on the test set once.
* ``--seeds K`` repeats each run with K seeds (the book's seed, +1, +2, ...) and reports
  mean ± standard deviation: one run of SGD is one draw.
* ``--holdout`` is for choosing between variants of the one-epoch recipes without the
  test set: train on the first 55,000 training images, score the last 5,000.
* ``--torch`` runs the one-epoch recipes in PyTorch from the same initial weights: a check
  of the recipe (does PyTorch reach the book's number?), not a chainrule result.

Results and the full protocol discussion: docs/cnn.md.

Initialisation of ``ch5`` (``--ch5-init``): ``glorot`` (default) is the real Glorot normal
(variance 2 / (fan_in + fan_out), zero dense bias); ``book`` is the book's code: the conv
weights N(0, std = 2 / (in_channels + out_channels)) and the dense layer's "standard"
N(0, 1) weights AND bias (its Dense is built with the default ``weight_init``), which
makes the initial logits tens in size (standard deviation 28, up to 120 on MNIST).

Time per epoch is wall time of the training batches only (no evaluation), with the CPU
time of the process next to it; run with ``OPENBLAS_NUM_THREADS=1`` for one thread.

    OPENBLAS_NUM_THREADS=1 python experiments/mnist_cnn.py [--runs ch5,ch7,cnn]
        [--seeds 1] [--cnn-epochs 6] [--ch5-init glorot|book] [--ch7-optimizer sgd|adam]
        [--ch7-batch-size 60] [--holdout] [--torch] [--data-dir DIR] [--out results.md]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlfs_mnist import BookDropout  # noqa: E402  (the book's dropout, chapter 4)

import chainrule.nn as nn  # noqa: E402
from chainrule.data import load_mnist  # noqa: E402
from chainrule.models import build_model  # noqa: E402
from chainrule.optim import SGD, Adam  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.train import EarlyStopping, Trainer  # noqa: E402
from chainrule.train.callbacks import Callback  # noqa: E402

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------- models


def torch_default_init(layer: nn.Module) -> nn.Module:
    """PyTorch's default for Conv2d and Linear: weight and bias U(±1/sqrt(fan_in))."""
    fan_in = nn.init.fans(layer.weight.shape)[0]
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    nn.init.uniform_(layer.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
    return layer


def dlfs_ch5(init: str = "glorot") -> nn.Sequential:
    """The book's chapter-5 CNN: one 32-channel 5×5 conv layer and a linear read-out."""
    conv = nn.Conv2d(1, 32, 5, padding=2, bias=False, init="glorot_normal")
    dense = nn.Linear(32 * 28 * 28, 10, init="glorot_normal")
    if init == "book":
        nn.init.normal_(conv.weight, 0.0, 2 / (1 + 32))
        nn.init.normal_(dense.weight, 0.0, 1.0)
        nn.init.normal_(dense.bias, 0.0, 1.0)
    return nn.Sequential(conv, nn.Tanh(), nn.Flatten(), BookDropout(0.2), dense)


def dlfs_ch7() -> nn.Sequential:
    """The book's PyTorch-chapter CNN (``MNIST_ConvNet``), in chainrule layers."""
    return nn.Sequential(
        torch_default_init(nn.Conv2d(1, 16, 5, padding=2)), nn.Tanh(), nn.Dropout(0.2),
        torch_default_init(nn.Conv2d(16, 8, 5, padding=2)), nn.Tanh(), nn.Flatten(),
        nn.Dropout(0.2),
        torch_default_init(nn.Linear(28 * 28 * 8, 32)), nn.Tanh(), nn.Dropout(0.2),
        torch_default_init(nn.Linear(32, 10)))


def ch7_optimizer(params: Any, args: argparse.Namespace) -> Any:
    """The book's SGD(lr 0.01, momentum 0.9), or Adam with its default lr 1e-3."""
    if args.ch7_optimizer == "adam":
        return Adam(params, lr=1e-3)
    return SGD(params, lr=0.01, momentum=0.9)


@dataclass
class Experiment:
    key: str
    name: str
    target: float  # test accuracy in %
    seed: int
    build: Callable[[argparse.Namespace], nn.Module]
    optimizer: Callable[[Any, argparse.Namespace], Any]
    batch_size: Callable[[argparse.Namespace], int]
    epochs: Callable[[argparse.Namespace], int]
    validate: bool  # hold out the last 5,000 training images and keep the best epoch


EXPERIMENTS = {
    "ch5": Experiment("ch5", "DLFS ch. 5 CNN (32×5×5 conv, tanh, dropout, dense 10)", 90.50,
                      20190402, lambda a: dlfs_ch5(a.ch5_init),
                      lambda params, a: SGD(params, lr=0.01, momentum=0.9), lambda a: 60,
                      lambda a: 1, False),
    "ch7": Experiment("ch7", "DLFS ch. 7 CNN (16 and 8 5×5 convs, tanh, dropout, dense 32, 10)",
                      97.0, 20190325, lambda a: dlfs_ch7(), ch7_optimizer,
                      lambda a: a.ch7_batch_size, lambda a: 1, False),
    "cnn": Experiment("cnn", "chainrule `cnn` (LeNet-style, 421,642 parameters)", 99.0, 0,
                      lambda a: build_model("cnn", (1, 28, 28), 10),
                      lambda params, a: Adam(params, lr=1e-3), lambda a: 64,
                      lambda a: a.cnn_epochs, True),
}


# --------------------------------------------------------------------------- running


class EpochTimer(Callback):
    """Wall and CPU seconds of each epoch's training batches (evaluation excluded)."""

    def on_train_begin(self, logs=None) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def on_batch_end(self, batch: int, logs=None) -> None:
        self._t1, self._c1 = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.wall.append(self._t1 - self._t0)
        self.cpu.append(self._c1 - self._c0)


def load(data_dir: str | None) -> Data:
    """MNIST as (N, 1, 28, 28) float32, standardised with the training set's statistics."""
    (x, y), (xt, yt) = load_mnist(data_dir)
    mean, std = float(x.mean()), float(x.std())

    def prep(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32).reshape(-1, 1, 28, 28)

    return (prep(x), y), (prep(xt), yt)


def run(exp: Experiment, args: argparse.Namespace, data: Data, seed: int) -> dict[str, Any]:
    (x, y), (xt, yt) = data
    manual_seed(seed)
    model = exp.build(args)
    trainer = Trainer(model, nn.CrossEntropyLoss(), exp.optimizer(model.parameters(), args),
                      metrics=["accuracy"])
    timer = EpochTimer()
    callbacks: list[Callback] = [timer]
    train, val = (x, y), None
    epochs = exp.epochs(args)
    if exp.validate:
        n = len(x) - 5000
        train, val = (x[:n], y[:n]), (x[n:], y[n:])
        callbacks.append(EarlyStopping("val_loss", patience=epochs, restore_best=True))
    history = trainer.fit(train, val=val, epochs=epochs, batch_size=exp.batch_size(args),
                          callbacks=callbacks, seed=seed, verbose=False)
    for e in history.epoch:
        val_txt = (f", val loss {history['val_loss'][e]:.4f} acc "
                   f"{100 * history['val_accuracy'][e]:.2f} %" if val is not None else "")
        print(f"    {exp.key} seed {seed} epoch {e + 1}: train loss {history['loss'][e]:.4f}"
              f"{val_txt}, {timer.wall[e]:.1f} s wall / {timer.cpu[e]:.1f} s CPU", flush=True)
    kept = callbacks[-1].best_epoch + 1 if exp.validate else len(history.epoch)
    acc = 100 * trainer.evaluate((xt, yt), batch_size=1000)["accuracy"]
    return {"acc": acc, "kept": kept, "wall": timer.wall, "cpu": timer.cpu}


# --------------------------------------------------------------------------- PyTorch check


def to_torch(model: nn.Sequential, torch: Any) -> Any:
    """The same network in PyTorch layers, starting from the same weights."""
    tnn = torch.nn

    class TorchBookDropout(tnn.Module):
        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p

        def forward(self, x: Any) -> Any:
            if not self.training:
                return x * (1 - self.p)
            return x * (torch.rand_like(x) >= self.p).to(x.dtype)

    layers = []
    for m in model:
        if isinstance(m, nn.Conv2d):
            t = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding,
                           bias=m.bias is not None)
        elif isinstance(m, nn.Linear):
            t = tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        elif isinstance(m, BookDropout):
            t = TorchBookDropout(m.p)
        elif isinstance(m, nn.Dropout):
            t = tnn.Dropout(m.p)
        elif isinstance(m, nn.MaxPool2d):
            t = tnn.MaxPool2d(m.kernel_size, m.stride)
        else:
            t = {nn.Tanh: tnn.Tanh, nn.ReLU: tnn.ReLU, nn.Flatten: tnn.Flatten}[type(m)]()
        with torch.no_grad():
            for name, param in t.named_parameters():
                param.copy_(torch.from_numpy(getattr(m, name).data))
        layers.append(t)
    return tnn.Sequential(*layers)


def run_torch(exp: Experiment, args: argparse.Namespace, data: Data,
              seed: int) -> dict[str, Any]:
    """The same one-epoch recipe in PyTorch (same initial weights, another shuffling and
    other dropout masks): is a shortfall chainrule's, or the recipe's?"""
    import torch

    (x, y), (xt, yt) = data
    manual_seed(seed)
    model = exp.build(args)
    group = exp.optimizer(model.parameters(), args).param_groups[0]
    tmodel = to_torch(model, torch)
    torch.manual_seed(seed)
    if "momentum" in group:
        opt = torch.optim.SGD(tmodel.parameters(), lr=group["lr"], momentum=group["momentum"])
    else:
        opt = torch.optim.Adam(tmodel.parameters(), lr=group["lr"])
    order = np.random.default_rng(seed).permutation(len(x))
    xs, ys = torch.from_numpy(x[order]), torch.from_numpy(y[order])
    tmodel.train()
    t0, c0 = time.perf_counter(), time.process_time()
    size = exp.batch_size(args)
    for i in range(0, len(x), size):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(tmodel(xs[i:i + size]), ys[i:i + size])
        loss.backward()
        opt.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tmodel.eval()
    with torch.no_grad():
        pred = torch.cat([tmodel(torch.from_numpy(xt[i:i + 1000])).argmax(1)
                          for i in range(0, len(xt), 1000)]).numpy()
    acc = 100 * float((pred == yt).mean())
    print(f"    {exp.key} (PyTorch) seed {seed} epoch 1: {wall:.1f} s wall / {cpu:.1f} s CPU",
          flush=True)
    return {"acc": acc, "kept": 1, "wall": [wall], "cpu": [cpu]}


def summarise(exp: Experiment, runs: list[dict[str, Any]]) -> dict[str, Any]:
    accs = [r["acc"] for r in runs]
    walls = [t for r in runs for t in r["wall"]]
    cpus = [t for r in runs for t in r["cpu"]]
    return {"key": exp.key, "name": exp.name, "target": exp.target, "accs": accs,
            "mean": statistics.fmean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else None,
            "kept": [r["kept"] for r in runs], "epochs": len(runs[0]["wall"]),
            "wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def fmt_acc(s: dict[str, Any]) -> str:
    return f"{s['mean']:.2f} %" if s["std"] is None else f"{s['mean']:.2f} ± {s['std']:.2f} %"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="ch5,ch7,cnn", help="comma-separated: ch5, ch7, cnn")
    p.add_argument("--seeds", type=int, default=1,
                   help="runs per experiment (the book's seed, +1, ...); mean ± std reported")
    p.add_argument("--cnn-epochs", type=int, default=6,
                   help="epoch budget of 'cnn' (the best epoch on validation is kept)")
    p.add_argument("--ch5-init", choices=("glorot", "book"), default="glorot")
    p.add_argument("--ch7-optimizer", choices=("sgd", "adam"), default="sgd",
                   help="sgd: the book's SGD lr 0.01 momentum 0.9; adam: Adam lr 1e-3")
    p.add_argument("--ch7-batch-size", type=int, default=60,
                   help="60: the book's DataLoader run; 32: PyTorchTrainer.fit's default")
    p.add_argument("--holdout", action="store_true",
                   help="model selection mode for the one-epoch recipes: train on the first "
                        "55,000 training images and report accuracy on the last 5,000 "
                        "instead of the test set")
    p.add_argument("--torch", action="store_true",
                   help="run the one-epoch recipes (ch5, ch7) in PyTorch instead, from the "
                        "same initial weights: a cross-check of the recipe, not of chainrule")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None, help="also write the results as a Markdown table")
    a = p.parse_args(argv)
    keys = a.runs.split(",")
    unknown = [k for k in keys if k not in EXPERIMENTS]
    if unknown:
        p.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    data = load(a.data_dir)
    if a.holdout:  # the test set is not touched: the last 5,000 training images stand in
        (x, y), _ = data
        data = (x[:-5000], y[:-5000]), (x[-5000:], y[-5000:])
    scored = "held-out training images (--holdout)" if a.holdout else "test"
    print(f"MNIST train {len(data[0][1])}, {scored} {len(data[1][1])}; seeds {a.seeds}; "
          f"ch5 init {a.ch5_init}; ch7 optimizer {a.ch7_optimizer}, batch {a.ch7_batch_size}"
          f"{'; in PyTorch' if a.torch else ''}", flush=True)
    results = []
    for k in keys:
        exp = EXPERIMENTS[k]
        if (a.torch or a.holdout) and exp.validate:
            print(f"{k}: skipped with --torch or --holdout (one-epoch recipes only)")
            continue
        go = run_torch if a.torch else run
        runs = [go(exp, a, data, exp.seed + i) for i in range(a.seeds)]
        s = summarise(exp, runs)
        results.append(s)
        per_seed = "" if len(runs) == 1 else " [" + ", ".join(f"{v:.2f}" for v in s["accs"]) + "]"
        print(f"{k}: {'held-out' if a.holdout else 'test'} accuracy {fmt_acc(s)}{per_seed} "
              f"(target {exp.target:.2f} %), kept "
              f"epoch {'/'.join(map(str, s['kept']))} of {s['epochs']}, {s['wall']:.1f} s wall "
              f"/ {s['cpu']:.1f} s CPU per epoch (median)", flush=True)
    if a.out:
        lines = ["| model | epochs (kept) | test accuracy | per seed | target | s/epoch wall "
                 "(CPU) |", "|---|---|---|---|---|---|"]
        lines += [f"| {s['name']} | {s['epochs']} ({'/'.join(map(str, s['kept']))}) | "
                  f"{fmt_acc(s)} | {', '.join(f'{v:.2f}' for v in s['accs'])} | "
                  f"≥ {s['target']:.2f} % | {s['wall']:.1f} ({s['cpu']:.1f}) |" for s in results]
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
