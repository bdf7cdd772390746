"""Hands-On ML ch. 10 on California housing: the regression MLP and Wide & Deep (issue 20).

Data: ``$CHAINRULE_DATA/housing/california_housing.csv`` (Geron's ch. 2 CSV). The book's
ch. 10 uses scikit-learn's ``fetch_california_housing`` (8 features, target in $100,000),
which is the same census table: we rebuild those 8 features from the CSV
(``AveRooms = total_rooms / households``, ``AveBedrms = total_bedrooms / households``,
``AveOccup = population / households``, target ``median_house_value / 1e5``). The CSV
lacks ``total_bedrooms`` in 207 rows (Geron removed them for ch. 2); there ``AveBedrms``
is filled with the median of the others -- the one difference from the book's data.
The split is the book's: ``train_test_split(random_state=42)`` twice (scikit-learn). All
207 of those rows fall in the book's test set (none in training or validation), so the
model trains on the book's data exactly; ``test_rmse_unfilled_rows`` leaves them out.

Models (Keras defaults: Glorot-uniform weights, zero biases, batch 32, shuffled):
  mlp        Normalization -> 3 x Dense(50, relu) -> Dense(1), Adam 1e-3, 20 epochs
  wide_deep  Normalization -> Dense(30) -> Dense(30) -> concat(normalized input) -> Dense(1)
  two_inputs wide = features 0..4, deep = features 2..7, each normalized
  aux        two_inputs plus an auxiliary Dense(1) on the deep path, loss 0.9 main + 0.1 aux

Run: ``python experiments/california_housing.py --seeds 0 1 2`` (writes
docs/california_housing.json; the table is in docs/data_pipelines.md).
Evidence for the MLP's gap to the book: ``--torch --sklearn 42 0 1 2 --seeds 0 ... 9``
(PyTorch from the same initial weights and batches; scikit-learn's MLPRegressor) ->
docs/california_mlp_evidence.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from chainrule import nn, optim
from chainrule.autograd import ops
from chainrule.data import from_arrays, get_data_dir
from chainrule.random import manual_seed
from chainrule.train import Trainer

BOOK = {"mlp": 0.5297, "wide_deep": 0.7565, "two_inputs": 0.5821}


def load_book_arrays() -> dict[str, np.ndarray]:
    """The 8 scikit-learn features and the target, split as the book splits them."""
    from sklearn.model_selection import train_test_split

    path = Path(get_data_dir()) / "housing" / "california_housing.csv"
    table = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=range(9))
    lon, lat, age, rooms, bedrooms, pop, households, income, value = table.T
    ave_bedrms = bedrooms / households
    filled = np.isnan(ave_bedrms)
    ave_bedrms[filled] = np.nanmedian(ave_bedrms)
    # the last column marks the filled rows through the split (dropped below)
    x = np.c_[income, age, rooms / households, ave_bedrms, pop, pop / households, lat, lon,
              filled]
    y = value / 1e5
    x_full, x_test, y_full, y_test = train_test_split(x, y, random_state=42)
    x_train, x_valid, y_train, y_valid = train_test_split(x_full, y_full, random_state=42)
    return {"x_train": x_train[:, :8], "y_train": y_train, "x_valid": x_valid[:, :8],
            "y_valid": y_valid, "x_test": x_test[:, :8], "y_test": y_test,
            "filled_test": x_test[:, 8] == 1}


class RegressionMLP(nn.Module):
    def __init__(self, x_train: np.ndarray, width: int = 50, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Normalization().adapt(x_train)]
        n = x_train.shape[1]
        for _ in range(depth):
            layers += [nn.Dense(n, width), nn.ReLU()]
            n = width
        self.net = nn.Sequential(*layers, nn.Dense(n, 1))

    def forward(self, x):
        return self.net(x)


class WideAndDeep(nn.Module):
    """The book's Wide & Deep. ``wide``/``deep`` select the columns of the one input array
    fed to each path (the book's two inputs); None: both paths see everything."""

    def __init__(self, x_train: np.ndarray, wide: slice | None = None,
                 deep: slice | None = None, aux: bool = False) -> None:
        super().__init__()
        self.wide, self.deep, self.aux = wide, deep, aux
        self.norm_deep = nn.Normalization().adapt(x_train[:, deep or slice(None)])
        if wide is not None:
            self.norm_wide = nn.Normalization().adapt(x_train[:, wide])
        n_deep = x_train[:, deep or slice(None)].shape[1]
        n_wide = x_train[:, wide or slice(None)].shape[1]
        self.hidden1 = nn.Dense(n_deep, 30)
        self.hidden2 = nn.Dense(30, 30)
        self.output = nn.Dense(30 + n_wide, 1)
        if aux:
            self.aux_output = nn.Dense(30, 1)

    def forward(self, x):
        x = ops.lift(x)
        deep = self.norm_deep(x if self.deep is None else x[:, self.deep])
        wide = deep if self.wide is None else self.norm_wide(x[:, self.wide])
        h = ops.relu(self.hidden2(ops.relu(self.hidden1(deep))))
        out = self.output(ops.concatenate([wide, h], axis=1))
        return ops.concatenate([out, self.aux_output(h)], axis=1) if self.aux else out


def build(name: str, x_train: np.ndarray) -> nn.Module:
    if name == "mlp":
        return RegressionMLP(x_train)
    if name == "wide_deep":
        return WideAndDeep(x_train)
    two = {"wide": slice(0, 5), "deep": slice(2, 8)}
    if name == "two_inputs":
        return WideAndDeep(x_train, **two)
    if name == "aux":
        return WideAndDeep(x_train, aux=True, **two)
    raise ValueError(name)


def _loss(aux: bool):
    def mse(out, y):
        err = out - ops.lift(y)[:, None]
        if not aux:
            return (err * err).mean()
        sq = (err * err).mean(axis=0)
        return sq[0] * 0.9 + sq[1] * 0.1
    return mse


def _rmse(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    pred = np.asarray(model(x.astype(np.float32)).data, np.float64)[:, 0]
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def _train_pipeline(f32: dict[str, np.ndarray], seed: int):
    return from_arrays(f32["x_train"], f32["y_train"]).shuffle(len(f32["x_train"]),
                                                                seed=seed).batch(32)


def run(name: str, seed: int, data: dict[str, np.ndarray], epochs: int = 20,
        verbose: bool = False) -> dict[str, float]:
    manual_seed(seed)
    f32 = {k: v.astype(np.float32) for k, v in data.items()}
    model = build(name, data["x_train"])
    trainer = Trainer(model, _loss(name == "aux"), optim.Adam(model.parameters(), lr=1e-3),
                      metrics=())
    train = _train_pipeline(f32, seed)
    t0 = time.perf_counter()
    trainer.fit(train, epochs=epochs, verbose=verbose)
    # test rows whose AveBedrms is the CSV's own (all rows for data without the mark)
    clean = ~data.get("filled_test", np.zeros(len(data["y_test"]), dtype=bool))
    return {"valid_rmse": _rmse(model, data["x_valid"], data["y_valid"]),
            "test_rmse": _rmse(model, data["x_test"], data["y_test"]),
            "test_rmse_unfilled_rows": _rmse(model, data["x_test"][clean],
                                             data["y_test"][clean]),
            "seconds": time.perf_counter() - t0,
            "params": model.num_parameters(),
            "non_trainable": int(sum(np.size(b) for _, b in model.named_buffers()))}


def torch_twin(seed: int, data: dict[str, np.ndarray], epochs: int = 20) -> dict[str, float]:
    """The mlp recipe in PyTorch from chainrule's initial weights and normalization
    statistics for ``seed``, fed the same batches in the same order (the same pipeline).
    Adam with PyTorch's algorithm and eps 1e-8, as chainrule's Adam."""
    import torch

    torch.set_num_threads(1)
    manual_seed(seed)
    model = build("mlp", data["x_train"])  # the same draw as run("mlp", seed)
    norm = model.net[0]
    mean = np.asarray(norm.mean, np.float32)
    std = np.maximum(np.sqrt(np.asarray(norm.variance)), 1e-7).astype(np.float32)
    denses = [m for m in model.net if isinstance(m, nn.Dense)]
    layers: list = []
    for i, d in enumerate(denses):
        lin = torch.nn.Linear(d.in_features, d.out_features)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(d.weight.data, np.float32)))
            lin.bias.copy_(torch.from_numpy(np.asarray(d.bias.data, np.float32)))
        layers += [lin] + ([torch.nn.ReLU()] if i < len(denses) - 1 else [])
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    f32 = {k: v.astype(np.float32) for k, v in data.items()}
    train = _train_pipeline(f32, seed)

    def prep(x: np.ndarray):
        return torch.from_numpy((x.astype(np.float32) - mean) / std)

    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in train:
            opt.zero_grad()
            err = net(prep(xb))[:, 0] - torch.from_numpy(yb)
            (err * err).mean().backward()
            opt.step()

    def rmse(x: np.ndarray, y: np.ndarray) -> float:
        with torch.no_grad():
            pred = net(prep(x))[:, 0].double().numpy()
        return float(np.sqrt(np.mean((pred - y) ** 2)))

    return {"valid_rmse": rmse(data["x_valid"], data["y_valid"]),
            "test_rmse": rmse(data["x_test"], data["y_test"]),
            "seconds": time.perf_counter() - t0}


def sklearn_mlp(random_state: int, data: dict[str, np.ndarray]) -> dict[str, float]:
    """The book's scikit-learn comparison: StandardScaler + MLPRegressor([50, 50, 50]),
    default settings (Adam 1e-3, batch 200, up to 200 epochs); RMSE on the validation set
    (the book's 0.5053) and the test set."""
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=[50, 50, 50],
                                                        random_state=random_state))
    pipe.fit(data["x_train"], data["y_train"])

    def rmse(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pipe.predict(x) - y) ** 2)))

    return {"valid_rmse": rmse(data["x_valid"], data["y_valid"]),
            "test_rmse": rmse(data["x_test"], data["y_test"]),
            "epochs": int(pipe[-1].n_iter_), "seconds": time.perf_counter() - t0}


def _evidence(args: argparse.Namespace, data: dict[str, np.ndarray]) -> dict:
    """``--torch`` / ``--sklearn``: the MLP's gap to the book (docs/data_pipelines.md)."""
    out: dict = {}
    if args.torch:
        pairs = []
        for s in args.seeds:
            ours, theirs = run("mlp", s, data, args.epochs), torch_twin(s, data, args.epochs)
            pairs.append({"seed": s, "chainrule": ours, "torch": theirs})
            print(f"seed {s}: test RMSE chainrule {ours['test_rmse']:.4f} (unfilled rows "
                  f"{ours['test_rmse_unfilled_rows']:.4f}), torch from the same weights and "
                  f"batches {theirs['test_rmse']:.4f}", flush=True)
        out["torch_twin"] = pairs
        for who in ("chainrule", "torch"):
            t = np.array([p[who]["test_rmse"] for p in pairs])
            print(f"{who:9s} test RMSE {t.mean():.4f} +- {t.std():.4f} ({len(t)} seeds; "
                  f"book {BOOK['mlp']})", flush=True)
    if args.sklearn is not None:
        runs = {str(r): sklearn_mlp(r, data) for r in args.sklearn}
        out["sklearn"] = runs
        for r, res in runs.items():
            print(f"sklearn MLPRegressor random_state={r}: valid RMSE {res['valid_rmse']:.4f}, "
                  f"test {res['test_rmse']:.4f} ({res['epochs']} epochs; book valid 0.5053)",
                  flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=["mlp", "wide_deep", "two_inputs", "aux"])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default="docs/california_housing.json")
    ap.add_argument("--torch", action="store_true",
                    help="mlp only: chainrule beside PyTorch from the same weights and batches")
    ap.add_argument("--sklearn", type=int, nargs="*", default=None, metavar="RANDOM_STATE",
                    help="the book's MLPRegressor comparison (the book's random_state is 42)")
    ap.add_argument("--evidence-out", default="docs/california_mlp_evidence.json")
    args = ap.parse_args(argv)
    data = load_book_arrays()
    if args.torch or args.sklearn is not None:
        evidence = _evidence(args, data)
        evidence.update(seeds=args.seeds, epochs=args.epochs, book=BOOK["mlp"],
                        book_sklearn_valid=0.5053)
        Path(args.evidence_out).write_text(json.dumps(evidence, indent=1))
        return 0
    results: dict[str, list[dict[str, float]]] = {}
    for name in args.models:
        results[name] = [run(name, s, data, args.epochs) for s in args.seeds]
        test = np.array([r["test_rmse"] for r in results[name]])
        print(f"{name:11s} test RMSE {test.mean():.4f} +- {test.std():.4f} "
              f"(seeds {args.seeds}; book {BOOK.get(name, '-')})", flush=True)
    Path(args.out).write_text(json.dumps({"seeds": args.seeds, "epochs": args.epochs,
                                          "book": BOOK, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
