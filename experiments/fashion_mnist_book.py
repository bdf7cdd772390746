"""Hands-On ML ch. 10-11 on Fashion-MNIST as one script (issue 20).

Sections (``--sections``, each with ``--seeds``; data from ``$CHAINRULE_DATA``; the
book's split: the last 5,000 training images for validation, pixels / 255):

  baseline   784-300-100-10 ReLU MLP, SGD lr 0.01, batch 32, ``--epochs`` (book: 30
             epochs, test accuracy 0.8864)
  batchnorm  BN before each hidden layer (the book's model: 271,346 parameters, 2,368
             non-trainable, checked before training), SGD lr 0.01
  selu       100 hidden layers of 100 units: SELU with LeCun-normal init and
             standardized inputs vs ReLU with He-normal init, SGD lr 0.001 momentum 0.9
  optimizers SGD, momentum, Nesterov, RMSprop, Adam, AdamW, NAdam on the baseline
  onecycle   the baseline trained with the book's three-phase 1cycle
             (:class:`chainrule.optim.OneCycleThreePhase`, max_lr 0.1, batch 128)
  mcdropout  dropout 0.2 model; test accuracy of the mean of 100 stochastic passes vs one
             deterministic pass

Run e.g. ``python experiments/fashion_mnist_book.py --sections baseline --epochs 30``;
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


def data() -> dict[str, np.ndarray]:
    (x, y), (x_test, y_test) = load_fashion_mnist()
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    return {"x_train": x[:-5000], "y_train": y[:-5000], "x_valid": x[-5000:],
            "y_valid": y[-5000:], "x_test": x_test, "y_test": y_test}


def mlp(hidden=(300, 100), act=nn.ReLU, bn=False, dropout=0.0, init_name=None):
    layers: list[nn.Module] = []
    n = 784
    if bn:
        layers.append(nn.BatchNorm1d(784))
    for h in hidden:
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Dense(n, h, **({"init": init_name} if init_name else {})))
        layers += [act()] + ([nn.BatchNorm1d(h)] if bn else [])
        n = h
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Dense(n, 10))


def fit(model, opt, d, epochs, seed, batch=32, callbacks=()):
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt)
    train = from_arrays(d["x_train"], d["y_train"]).shuffle(len(d["x_train"]), seed=seed)
    t0 = time.perf_counter()
    hist = trainer.fit(train.batch(batch), val=(d["x_valid"], d["y_valid"]), epochs=epochs,
                       callbacks=list(callbacks), verbose=False)
    res = trainer.evaluate((d["x_test"], d["y_test"]))
    return {"test_accuracy": res["accuracy"], "val_accuracy": hist.history["val_accuracy"][-1],
            "seconds": time.perf_counter() - t0}


def section(name: str, d, seed: int, epochs: int) -> dict:
    manual_seed(seed)
    if name == "baseline":
        m = mlp()
        return fit(m, optim.SGD(m.parameters(), lr=0.01), d, epochs, seed)
    if name == "batchnorm":
        m = mlp(bn=True)
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
            opt = optim.SGD(m.parameters(), lr=0.001, momentum=0.9)
            out[act.__name__] = fit(m, opt, ds, epochs, seed)
        return out
    if name == "optimizers":
        makers = {"sgd": lambda p: optim.SGD(p, lr=0.001),
                  "momentum": lambda p: optim.SGD(p, lr=0.001, momentum=0.9),
                  "nesterov": lambda p: optim.SGD(p, lr=0.001, momentum=0.9, nesterov=True),
                  "rmsprop": lambda p: optim.RMSprop(p, lr=0.001, alpha=0.9),
                  "adam": lambda p: optim.Adam(p, lr=0.001),
                  "adamw": lambda p: optim.AdamW(p, lr=0.001, weight_decay=1e-5),
                  "nadam": lambda p: optim.NAdam(p, lr=0.001)}
        out = {}
        for k, make in makers.items():
            manual_seed(seed)
            m = mlp(hidden=(100, 100, 100), init_name="he_normal")
            out[k] = fit(m, make(m.parameters()), d, epochs, seed)
        return out
    if name == "onecycle":
        m = mlp()
        opt = optim.SGD(m.parameters(), lr=0.1)
        steps = epochs * -(-len(d["x_train"]) // 128)
        sched = optim.OneCycleThreePhase(opt, steps, max_lr=0.1)
        cb = LearningRateScheduler(sched, per_batch=True)
        return {"iterations": steps, **fit(m, opt, d, epochs, seed, batch=128, callbacks=[cb])}
    if name == "mcdropout":
        m = mlp(dropout=0.2)
        out = fit(m, optim.NAdam(m.parameters(), lr=0.001), d, epochs, seed)
        m.eval()
        with nn.mc_dropout(m):
            probas = np.mean([np.asarray(nn.functional.softmax(m(d["x_test"])).data)
                              for _ in range(100)], axis=0)
        out["mc_test_accuracy"] = float((probas.argmax(1) == d["y_test"]).mean())
        return out
    raise ValueError(f"unknown section {name!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", default=["baseline"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--limit", type=int, default=None, help="first N training images only")
    ap.add_argument("--out", default="docs/fashion_mnist_book.json")
    args = ap.parse_args(argv)
    d = data()
    if args.limit:
        d["x_train"], d["y_train"] = d["x_train"][:args.limit], d["y_train"][:args.limit]
    path = Path(args.out)
    saved = json.loads(path.read_text()) if path.exists() else {"book": BOOK}
    for name in args.sections:
        runs = [section(name, d, s, args.epochs) for s in args.seeds]
        saved[name] = {"epochs": args.epochs, "seeds": args.seeds, "limit": args.limit,
                       "runs": runs}
        print(name, json.dumps(runs), flush=True)
        path.write_text(json.dumps(saved, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
