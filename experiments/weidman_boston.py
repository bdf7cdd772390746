"""Weidman, *Deep Learning from Scratch*, Boston housing: ch. 2 and ch. 3 recipes (issue 20).

Data: ``$CHAINRULE_DATA/housing/boston_housing.csv`` (the table behind scikit-learn's old
``load_boston``). Book preparation: ``StandardScaler`` on all rows, then
``train_test_split(test_size=0.3, random_state=80718)``.

ch. 2 (NumPy by hand, as the book): mini-batch gradient descent, batch 23, learning rate
0.001, weights ``np.random.randn`` after ``np.random.seed(seed)``, data re-permuted when a
pass ends. Linear regression (1,000 iterations, gradient of the *sum* of squared errors,
book seed 180708) and the 13-13-1 sigmoid network (10,000 iterations, gradient
``-(y - P)`` summed over the batch, book seed 180807). Book: test MAE / RMSE 3.5643 /
5.0508 and 2.5289 / 3.6775.

ch. 3 (the book's small framework, rebuilt on chainrule): Dense layers initialised with
``randn``, mean squared error, SGD lr 0.01, batch 23, 50 epochs, evaluation every 10
epochs with the book's rule (stop and keep the previous model when the test loss rises),
seed 20190501. Models: linear, 13 sigmoid -> 1, 13 sigmoid -> 13 sigmoid -> 1. Book test
MSE 25.09 / 16.21 / 14.60 (the book's own run; our seeds give the spread).

ch. 7 (PyTorch; the book's ``BostonModel`` and ``PyTorchTrainer``): Linear(13, 13) -> tanh
-> dropout 0.2 (the book's ``hidden_dropout=0.8`` is a keep probability) -> Linear(13, 1),
PyTorch's default init, SGD lr 0.001 momentum 0.9, MSE, 100 epochs, batch 32, the training
set re-permuted each epoch; ``final_lr_exp=0.001`` equals the initial lr, so its
ExponentialLR has gamma 1 (no decay). Test MSE in evaluation mode. Book: 14.37 (the
notebook in the book's repository prints 16.13 and 15.74 for two other runs). Run in
chainrule (float32, as the book's tensors) and in PyTorch (``--torch``, a check): with
each library's own seeds, and chainrule from PyTorch's initial weights for the same seed.

Run: ``python experiments/weidman_boston.py --seeds 0 1 2 3 4`` -> docs/weidman_boston.json
(``--chapters 7 --seeds 0 ... 9`` runs ch. 7 alone and merges it into the JSON)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from chainrule import nn, optim
from chainrule.autograd import ops
from chainrule.data import get_data_dir
from chainrule.nn import init

BOOK_CH2 = {"linear": (3.5643, 5.0508), "nn_13": (2.5289, 3.6775)}
BOOK_CH2_SEEDS = {"linear": 180708, "nn_13": 180807}
BOOK_CH3 = {"linear": 25.09, "nn_13": 16.21, "deep_13_13": 14.60}
BOOK_CH7, BOOK_CH7_SEED = 14.37, 20190325


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    path = Path(get_data_dir()) / "housing" / "boston_housing.csv"
    table = np.genfromtxt(path, delimiter=",", skip_header=1)
    data = StandardScaler().fit_transform(table[:, :13])
    x_tr, x_te, y_tr, y_te = train_test_split(data, table[:, 13], test_size=0.3,
                                              random_state=80718)
    return x_tr, x_te, y_tr.reshape(-1, 1), y_te.reshape(-1, 1)


# ---------------------------------------------------------------------------- ch. 2
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def ch2_train(x: np.ndarray, y: np.ndarray, hidden: int | None, n_iter: int, seed: int,
              lr: float = 0.001, batch: int = 23) -> dict[str, np.ndarray]:
    np.random.seed(seed)
    if hidden is None:
        w = {"W": np.random.randn(x.shape[1], 1), "B": np.random.randn(1, 1)}
    else:
        w = {"W1": np.random.randn(x.shape[1], hidden), "B1": np.random.randn(1, hidden),
             "W2": np.random.randn(hidden, 1), "B2": np.random.randn(1, 1)}
    perm = np.random.permutation(len(x))
    x, y = x[perm], y[perm]
    start = 0
    for _ in range(n_iter):
        if start >= len(x):
            perm = np.random.permutation(len(x))
            x, y, start = x[perm], y[perm], 0
        xb, yb = x[start:start + batch], y[start:start + batch]
        start += batch
        if hidden is None:
            d = -2 * (yb - (xb @ w["W"] + w["B"]))
            g = {"W": xb.T @ d, "B": d.sum(axis=0)}
        else:
            o1 = _sigmoid(xb @ w["W1"] + w["B1"])
            d = -(yb - (o1 @ w["W2"] + w["B2"]))
            dn1 = (d @ w["W2"].T) * o1 * (1 - o1)
            g = {"W2": o1.T @ d, "B2": d.sum(axis=0), "W1": xb.T @ dn1, "B1": dn1.sum(axis=0)}
        for k in w:
            w[k] -= lr * g[k]
    return w


def ch2_predict(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    if "W" in w:
        return x @ w["W"] + w["B"]
    return _sigmoid(x @ w["W1"] + w["B1"]) @ w["W2"] + w["B2"]


def ch2(seed: int, model: str, split) -> tuple[float, float]:
    x_tr, x_te, y_tr, y_te = split
    w = ch2_train(x_tr, y_tr, None if model == "linear" else 13,
                  1000 if model == "linear" else 10_000, seed)
    err = ch2_predict(x_te, w) - y_te
    return float(np.abs(err).mean()), float(np.sqrt((err ** 2).mean()))


# ---------------------------------------------------------------------------- ch. 3
def ch3_model(name: str, seed: int) -> nn.Module:
    rng = np.random.default_rng(seed)
    sizes = {"linear": [], "nn_13": [13], "deep_13_13": [13, 13]}[name]
    layers: list[nn.Module] = []
    n = 13
    for h in sizes:
        layers += [nn.Dense(n, h, dtype=np.float64), nn.Sigmoid()]
        n = h
    layers.append(nn.Dense(n, 1, dtype=np.float64))
    model = nn.Sequential(*layers)
    for p in model.parameters():  # the book: weights and biases ~ N(0, 1)
        init.normal_(p, rng=rng)
    return model


def ch3(seed: int, name: str, split, epochs: int = 50, eval_every: int = 10,
        lr: float = 0.01, batch: int = 23) -> float:
    x_tr, x_te, y_tr, y_te = split
    model = ch3_model(name, seed)
    opt = optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed + 1)

    def test_mse() -> float:
        return float(((np.asarray(model(x_te).data) - y_te) ** 2).mean())

    best = np.inf
    saved = {k: v.copy() for k, v in model.state_dict().items()}
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(len(x_tr))
        for s in range(0, len(x_tr), batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            err = model(x_tr[idx]) - ops.lift(y_tr[idx])
            (err * err).mean().backward()
            opt.step()
        if epoch % eval_every == 0:
            loss = test_mse()
            if loss >= best:  # the book's rule: keep the model of the last evaluation
                model.load_state_dict(saved)
                break
            best = loss
            saved = {k: v.copy() for k, v in model.state_dict().items()}
    return test_mse()


# ---------------------------------------------------------------------------- ch. 7
CH7 = dict(epochs=100, batch=32, lr=0.001, momentum=0.9, dropout=0.2, hidden=13)


def ch7_torch(seed: int, split) -> tuple[float, dict[str, np.ndarray]]:
    """The book's ch. 7 run in PyTorch: test MSE and the initial weights it drew."""
    import torch

    x_tr, x_te, y_tr, y_te = (torch.tensor(a, dtype=torch.float32) for a in split)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(13, CH7["hidden"]), torch.nn.Tanh(),
                                torch.nn.Dropout(CH7["dropout"]),
                                torch.nn.Linear(CH7["hidden"], 1))
    init = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=CH7["lr"], momentum=CH7["momentum"])
    loss_fn = torch.nn.MSELoss()
    for _ in range(CH7["epochs"]):
        model.train()
        perm = torch.randperm(len(x_tr))
        xs, ys = x_tr[perm], y_tr[perm]
        for i in range(0, len(xs), CH7["batch"]):
            opt.zero_grad()
            loss_fn(model(xs[i:i + CH7["batch"]]), ys[i:i + CH7["batch"]]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(x_te), y_te)), init


def ch7_chainrule(seed: int, split, start: dict[str, np.ndarray] | None = None) -> float:
    """The same recipe in chainrule (float32); ``start``: PyTorch's initial weights."""
    from chainrule.random import manual_seed

    x_tr, x_te, y_tr, y_te = (a.astype(np.float32) for a in split)
    manual_seed(seed)  # dropout masks
    rng = np.random.default_rng(seed)
    h = CH7["hidden"]
    model = nn.Sequential(nn.Dense(13, h, dtype=np.float32), nn.Tanh(),
                          nn.Dropout(CH7["dropout"]), nn.Dense(h, 1, dtype=np.float32))
    if start is None:  # PyTorch's default for Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        for layer in (model[0], model[3]):
            bound = 1 / np.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                p.data[...] = rng.uniform(-bound, bound, p.data.shape)
    else:
        model.load_state_dict(start)
    opt = optim.SGD(model.parameters(), lr=CH7["lr"], momentum=CH7["momentum"])
    for _ in range(CH7["epochs"]):
        model.train()
        perm = rng.permutation(len(x_tr))
        xs, ys = x_tr[perm], y_tr[perm]
        for i in range(0, len(xs), CH7["batch"]):
            opt.zero_grad()
            err = model(xs[i:i + CH7["batch"]]) - ops.lift(ys[i:i + CH7["batch"]])
            (err * err).mean().backward()
            opt.step()
    model.eval()
    return float(((np.asarray(model(x_te).data) - y_te) ** 2).mean())


def ch7(seeds: list[int], split, with_torch: bool) -> dict:
    out: dict = {"book": BOOK_CH7, "recipe": CH7, "seeds": seeds,
                 "chainrule": [ch7_chainrule(s, split) for s in seeds]}
    _report("ch7 chainrule, own init", out["chainrule"])
    if with_torch:
        runs = [ch7_torch(s, split) for s in seeds]
        out["torch"] = [r[0] for r in runs]
        out["chainrule_from_torch_init"] = [ch7_chainrule(s, split, r[1])
                                            for s, r in zip(seeds, runs)]
        out["torch_book_seed"] = ch7_torch(BOOK_CH7_SEED, split)[0]
        _report("ch7 torch", out["torch"])
        _report("ch7 chainrule, torch's init", out["chainrule_from_torch_init"])
        print(f"ch7 torch, book seed {BOOK_CH7_SEED}: {out['torch_book_seed']:.2f}")
    return out


def _report(label: str, mses: list[float]) -> None:
    a = np.array(mses)
    print(f"{label:30s} test MSE {a.mean():.2f} +- {a.std():.2f} (min {a.min():.2f}, "
          f"max {a.max():.2f}, {len(a)} seeds) | book {BOOK_CH7}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--chapters", type=int, nargs="+", default=[2, 3, 7], choices=[2, 3, 7])
    ap.add_argument("--torch", action="store_true",
                    help="ch. 7: also run the recipe in PyTorch (and from its initial weights)")
    ap.add_argument("--out", default="docs/weidman_boston.json")
    args = ap.parse_args(argv)
    split = load_split()
    path = Path(args.out)
    out: dict = json.loads(path.read_text()) if path.exists() else {}
    if 2 in args.chapters or 3 in args.chapters:
        out.update({"seeds": args.seeds, "book_ch2": BOOK_CH2, "book_ch3": BOOK_CH3})
    if 2 in args.chapters:
        out["ch2"] = {}
    for model, seed in BOOK_CH2_SEEDS.items() if 2 in args.chapters else ():
        book_seed = ch2(seed, model, split)
        spread = np.array([ch2(s, model, split) for s in args.seeds])
        out["ch2"][model] = {"book_seed": book_seed, "seeds": spread.tolist()}
        print(f"ch2 {model:10s} book seed {seed}: MAE {book_seed[0]:.4f} RMSE "
              f"{book_seed[1]:.4f} | seeds: MAE {spread[:, 0].mean():.4f} +- "
              f"{spread[:, 0].std():.4f} RMSE {spread[:, 1].mean():.4f} +- "
              f"{spread[:, 1].std():.4f} | book {BOOK_CH2[model]}", flush=True)
    if 3 in args.chapters:
        out["ch3"] = {}
    for name in BOOK_CH3 if 3 in args.chapters else ():
        mses = np.array([ch3(s, name, split) for s in args.seeds])
        out["ch3"][name] = mses.tolist()
        print(f"ch3 {name:10s} test MSE {mses.mean():.2f} +- {mses.std():.2f} "
              f"(min {mses.min():.2f}, max {mses.max():.2f}) | book {BOOK_CH3[name]}",
              flush=True)
    if 7 in args.chapters:
        out["ch7"] = ch7(args.seeds, split, args.torch)
    path.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
