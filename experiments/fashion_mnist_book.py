"""Hands-On ML ch. 10-11 on Fashion-MNIST as one script (issue 20).

Sections (``--sections``, each with ``--seeds``; data from ``$CHAINRULE_DATA``; the
book's split: the last 5,000 training images for validation, pixels / 255). Each section
follows the book's recipe (3rd edition notebooks), epochs included, unless ``--epochs``:

  baseline   784-300-100-10 ReLU MLP (Glorot-uniform, Keras' default), SGD lr 0.01,
             batch 32, 30 epochs (book: test accuracy 0.8864)
  batchnorm  BN on the inputs and after each hidden activation, He-normal, Keras' BN
             constants (eps 1e-3, momentum 0.99), SGD lr 0.01, 2 epochs; the book's model
             has 271,346 parameters, 2,368 non-trainable (checked before training)
  selu       100 hidden layers of 100 units: SELU with LeCun-normal init vs ReLU with
             He-normal init, inputs standardized per pixel, SGD lr 0.001, 5 epochs
  optimizers 3 x Dense(100, ReLU, He-normal): SGD, momentum, Nesterov, Adagrad, RMSprop,
             Adam, Adamax, NAdam, AdamW, lr 0.001 (Keras' eps 1e-7), 10 epochs
  onecycle   the same 3 x 100 model, batch 128, 25 epochs (10,750 iterations), Keras'
             three-phase 1cycle (:class:`chainrule.optim.OneCycleThreePhase`, max_lr 0.1)
  mcdropout  Dropout(0.2) before each Dense of a 100-100 ReLU/He-normal MLP, SGD lr 0.01
             momentum 0.9, 10 epochs; test accuracy of one deterministic pass vs the mean
             of 100 stochastic passes
  torch      the baseline recipe in PyTorch from the same initial weights and the same
             batches (evidence for the baseline, not tuning)

Run e.g. ``python experiments/fashion_mnist_book.py --sections baseline --seeds 0 1 2``;
results go to ``docs/fashion_mnist_book.json`` (merged by section).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from chainrule import nn, optim
from chainrule.data import from_arrays, load_fashion_mnist
from chainrule.random import manual_seed
from chainrule.train import LearningRateScheduler, Trainer

BOOK = {"baseline": 0.8864, "bn_params": 271_346, "bn_non_trainable": 2_368}
EPOCHS = {"baseline": 30, "batchnorm": 2, "selu": 5, "optimizers": 10, "onecycle": 25,
          "mcdropout": 10, "torch": 30}


def data() -> dict[str, np.ndarray]:
    (x, y), (x_test, y_test) = load_fashion_mnist()
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    return {"x_train": x[:-5000], "y_train": y[:-5000], "x_valid": x[-5000:],
            "y_valid": y[-5000:], "x_test": x_test, "y_test": y_test}


def mlp(hidden=(300, 100), act=nn.ReLU, bn=False, dropout=0.0, init_name=None):
    """Dense layers as in the book: [BN] then per hidden size [Dropout] Dense act [BN]."""
    layers: list[nn.Module] = []
    n = 784
    init = {"init": init_name} if init_name else {}
    if bn:  # Keras' BatchNormalization: epsilon 1e-3, moving-average momentum 0.99
        layers.append(nn.BatchNorm1d(784, eps=1e-3, momentum=0.01))
    for h in hidden:
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Dense(n, h, **init), act()]
        if bn:
            layers.append(nn.BatchNorm1d(h, eps=1e-3, momentum=0.01))
        n = h
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Dense(n, 10))


def batches(d, seed, batch):
    return from_arrays(d["x_train"], d["y_train"]).shuffle(len(d["x_train"]), seed=seed) \
        .batch(batch)


def fit(model, opt, d, epochs, seed, batch=32, callbacks=()):
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt)
    t0 = time.perf_counter()
    hist = trainer.fit(batches(d, seed, batch), val=(d["x_valid"], d["y_valid"]),
                       epochs=epochs, callbacks=list(callbacks), verbose=False)
    res = trainer.evaluate((d["x_test"], d["y_test"]))
    return {"test_accuracy": res["accuracy"], "val_accuracy": hist.history["val_accuracy"][-1],
            "val_curve": [round(v, 4) for v in hist.history["val_accuracy"]],
            "seconds": round(time.perf_counter() - t0, 1)}


def small(init_name="he_normal", **kw):
    """The book's ``build_model()`` of the optimizer and schedule sections."""
    return mlp(hidden=(100, 100, 100), init_name=init_name, **kw)


def optimizers() -> dict:
    keras = {"eps": 1e-7}
    return {"sgd": lambda p: optim.SGD(p, lr=0.001),
            "momentum": lambda p: optim.SGD(p, lr=0.001, momentum=0.9),
            "nesterov": lambda p: optim.SGD(p, lr=0.001, momentum=0.9, nesterov=True),
            "adagrad": lambda p: optim.Adagrad(p, lr=0.001, initial_accumulator_value=0.1,
                                               **keras),
            "rmsprop": lambda p: optim.RMSprop(p, lr=0.001, alpha=0.9, **keras),
            "adam": lambda p: optim.Adam(p, lr=0.001, **keras),
            "adamax": lambda p: optim.Adamax(p, lr=0.001, **keras),
            "nadam": lambda p: optim.NAdam(p, lr=0.001, **keras),
            "adamw": lambda p: optim.AdamW(p, lr=0.001, weight_decay=1e-5, **keras)}


def section(name: str, d, seed: int, epochs: int) -> dict:
    manual_seed(seed)
    if name == "baseline":
        m = mlp()
        return fit(m, optim.SGD(m.parameters(), lr=0.01), d, epochs, seed)
    if name == "batchnorm":
        m = mlp(bn=True, init_name="he_normal")
        total = m.num_parameters() + sum(b.size for _, b in m.named_buffers())
        out = {"params": total, "non_trainable": total - m.num_parameters()}
        return {**out, **fit(m, optim.SGD(m.parameters(), lr=0.01), d, epochs, seed)}
    if name == "selu":
        mean, std = d["x_train"].mean(0), d["x_train"].std(0) + 1e-8
        ds = {k: ((v - mean) / std).astype(np.float32) if k.startswith("x") else v
              for k, v in d.items()}
        out = {}
        for act, init_name in ((nn.SELU, "lecun_normal"), (nn.ReLU, "he_normal")):
            manual_seed(seed)
            m = mlp(hidden=(100,) * 100, act=act, init_name=init_name)
            opt = optim.SGD(m.parameters(), lr=0.001)  # the book: no momentum
            out[act.__name__] = fit(m, opt, ds, epochs, seed)
        return out
    if name == "optimizers":
        out = {}
        for k, make in optimizers().items():
            manual_seed(seed)
            m = small()
            out[k] = fit(m, make(m.parameters()), d, epochs, seed)
        return out
    if name == "onecycle":
        m = small()
        opt = optim.SGD(m.parameters(), lr=0.1)
        steps = epochs * -(-len(d["x_train"]) // 128)
        sched = optim.OneCycleThreePhase(opt, steps, max_lr=0.1)
        cb = LearningRateScheduler(sched, per_batch=True)
        return {"iterations": steps, **fit(m, opt, d, epochs, seed, batch=128, callbacks=[cb])}
    if name == "mcdropout":
        m = mlp(hidden=(100, 100), dropout=0.2, init_name="he_normal")
        out = fit(m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9), d, epochs, seed)
        m.eval()
        with nn.mc_dropout(m):
            probas = np.mean([np.asarray(nn.functional.softmax(m(d["x_test"])).data)
                              for _ in range(100)], axis=0)
        out["mc_test_accuracy"] = float((probas.argmax(1) == d["y_test"]).mean())
        return out
    if name == "torch":
        return torch_twin(d, seed, epochs)
    raise ValueError(f"unknown section {name!r}")


def torch_twin(d, seed: int, epochs: int) -> dict:
    """The baseline in PyTorch: same initial weights, same batches, SGD lr 0.01."""
    import torch

    torch.set_num_threads(1)
    manual_seed(seed)
    m = mlp()
    dense = [layer for layer in m if isinstance(layer, nn.Dense)]
    net = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                              torch.nn.Linear(300, 100), torch.nn.ReLU(),
                              torch.nn.Linear(100, 10))
    with torch.no_grad():
        for src, dst in zip(dense, [net[0], net[2], net[4]], strict=True):
            dst.weight.copy_(torch.from_numpy(np.asarray(src.weight.data)))
            dst.bias.copy_(torch.from_numpy(np.asarray(src.bias.data)))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    pipe, loss_fn = batches(d, seed, 32), torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    curve = []
    for _ in range(epochs):
        for xb, yb in pipe:
            opt.zero_grad()
            loss_fn(net(torch.from_numpy(np.asarray(xb))),
                    torch.from_numpy(np.asarray(yb)).long()).backward()
            opt.step()
        with torch.no_grad():
            pred = net(torch.from_numpy(d["x_valid"])).argmax(1).numpy()
        curve.append(round(float((pred == d["y_valid"]).mean()), 4))
    with torch.no_grad():
        pred = net(torch.from_numpy(d["x_test"])).argmax(1).numpy()
    return {"test_accuracy": float((pred == d["y_test"]).mean()), "val_accuracy": curve[-1],
            "val_curve": curve, "seconds": round(time.perf_counter() - t0, 1)}


def _spread(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f} (n={len(v)})" if len(v) > 1 else \
        f"{v[0]:.4f} (n=1)"


def report(saved: dict) -> list[str]:
    """Markdown rows ``| what | mean ± std (n) |`` of every section in ``saved``."""
    rows = []

    def add(what: str, runs: list[dict], key: str = "test_accuracy") -> None:
        rows.append(f"| {what} | {_spread([r[key] for r in runs])} |")

    for name, entry in saved.items():
        if name == "book":
            continue
        runs, head = entry["runs"], f"{name} ({entry['epochs']} epochs)"
        if name == "selu":
            for act in runs[0]:
                add(f"{head}, {act}: test accuracy", [r[act] for r in runs])
                add(f"{head}, {act}: validation accuracy", [r[act] for r in runs],
                    "val_accuracy")
        elif name == "optimizers":
            for opt in runs[0]:
                mine = [r[opt] for r in runs]
                rows.append(f"| {head}, {opt}: validation / test accuracy | "
                            f"{_spread([r['val_accuracy'] for r in mine])} / "
                            f"{_spread([r['test_accuracy'] for r in mine])} |")
        else:
            add(f"{head}: test accuracy", runs)
            if name == "mcdropout":
                add(f"{head}: MC-dropout test accuracy (100 passes)", runs,
                    "mc_test_accuracy")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", default=["baseline"], choices=list(EPOCHS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the book's, per section")
    ap.add_argument("--limit", type=int, default=None, help="first N training images only")
    ap.add_argument("--out", default="docs/fashion_mnist_book.json")
    ap.add_argument("--append", action="store_true",
                    help="add these seeds' runs to a section's saved runs (same epochs)")
    ap.add_argument("--report", action="store_true",
                    help="print the table of --out (mean ± std over seeds) and stop")
    args = ap.parse_args(argv)
    if args.report:
        print("\n".join(report(json.loads(Path(args.out).read_text()))))
        return 0
    d = data()
    if args.limit:
        d["x_train"], d["y_train"] = d["x_train"][:args.limit], d["y_train"][:args.limit]
    path = Path(args.out)
    for name in args.sections:
        epochs = args.epochs or EPOCHS[name]
        runs = []
        for s in args.seeds:
            runs.append(section(name, d, s, epochs))
            print(name, s, json.dumps(runs[-1]), flush=True)
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved["book"] = BOOK
        seeds, old = list(args.seeds), saved.get(name)
        if args.append and old and (old["epochs"], old["limit"]) == (epochs, args.limit):
            seeds, runs = old["seeds"] + seeds, old["runs"] + runs
        saved[name] = {"epochs": epochs, "seeds": seeds, "limit": args.limit, "runs": runs}
        path.write_text(json.dumps(saved, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
