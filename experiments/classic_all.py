"""The classic-architecture studies behind docs/classic.md; figures go to docs/figures.

    OPENBLAS_NUM_THREADS=1 python experiments/classic_all.py [hopfield boltzmann rbm dbn som] \\
        [--data-dir DIR] [--out docs/figures] [--quick]

hopfield: recall versus load for N = 100..1000 (capacity ≈ 0.138 N), spurious attractors,
corrupted MNIST digits. boltzmann: the triplet distribution. rbm: ours against
scikit-learn's BernoulliRBM. dbn: a DBN with 1 % of the MNIST labels against an MLP of the
same shape. som: colours and MNIST maps, against minisom. The data folder defaults to
``chainrule.data.get_data_dir()`` ($CHAINRULE_DATA). ``chainrule classic MODEL`` runs the
short demonstrations these studies build on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.cli import classic as demos
from chainrule.data import get_data_dir

MODELS = demos.MODELS


def hopfield(args: argparse.Namespace, out: Path) -> None:
    """Capacity curves, spurious states (N=100, P=5) and the MNIST restoration."""
    from chainrule.classic import Hopfield, capacity_curve, spurious_states
    from chainrule.viz.classic import plot_capacity

    sizes = (100, 200) if args.quick else (100, 200, 500, 1000)
    loads = np.round(np.arange(0.04, 0.26, 0.02), 2)
    curves = {}
    for n in sizes:
        trials = max(1, 2000 // n) if not args.quick else 2
        curves[n] = r = capacity_curve(n, loads, trials=trials, seed=args.seed)
        above = r["load"][r["success"] < 0.5]
        print(f"N={n:5d}: success {np.round(r['success'], 2).tolist()}  "
              f"(first load with < 50 % recalled: {above[0] if above.size else '-'})")
    print(f"loads: {loads.tolist()}")
    print(f"wrote {plot_capacity(curves, out / 'classic_hopfield_capacity.png')}")
    rng = np.random.default_rng(args.seed)
    xi = rng.choice([-1, 1], (5, 100))
    sp = spurious_states(Hopfield(100).fit(xi), xi, n_starts=200 if args.quick else 2000,
                         seed=args.seed)
    print(f"spurious states (N=100, P=5, random starts): {sp}")
    demos.hopfield_mnist(args, out, rng)


def rbm(args: argparse.Namespace, out: Path) -> None:
    """Our RBM against scikit-learn's BernoulliRBM (same data, same hyperparameters)."""
    from chainrule.classic.rbm import compare_with_sklearn

    n_train, hidden, epochs = (2000, 32, 2) if args.quick else (20000, 100, 10)
    try:
        r = compare_with_sklearn(n_train=n_train, n_hidden=hidden, epochs=epochs,
                                 data_dir=args.data_dir, seed=args.seed)
    except ImportError:
        print("(scikit-learn not installed: no comparison)")
        return demos.rbm(args, out)
    model = r.pop("model")
    print(f"RBM vs sklearn BernoulliRBM ({n_train} images, {hidden} hidden, {epochs} "
          f"epochs, lr 0.1, batch 10): " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()))
    demos.rbm_pictures(model, out, gibbs_steps=100 if args.quick else 1000)


def _train_mlp(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, lr: float,
               seed: int) -> Any:
    from chainrule import nn, optim
    from chainrule.train import Trainer

    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr))
    trainer.fit((x, y), epochs=epochs, batch_size=32, seed=seed, verbose=False)
    return trainer


def semi_supervised_experiment(data_dir: str | None = None, n_unlabelled: int = 20000,
                               label_fraction: float = 0.01, hidden: Sequence[int] = (256, 256),
                               top_hidden: int = 512, epochs: int = 5, top_epochs: int = 100,
                               mlp_epochs: int = 60, seed: int = 0,
                               n_test: int = 10000) -> dict[str, Any]:
    """MNIST with ``label_fraction`` of the 60,000 training labels.

    The DBN pretrains on ``n_unlabelled`` training images (no labels), its top RBM learns
    from the labelled ones only; it is scored by its generative classifier (up, then down to
    the labels) and after backprop fine-tuning (:meth:`DBN.to_mlp`, same labelled data).
    The baseline is an MLP of the same shape (ReLU, Adam) trained on the same labels.
    """
    from chainrule import nn
    from chainrule import random as crandom
    from chainrule.classic import DBN
    from chainrule.data import load_mnist

    (xtr, ytr), (xte, yte) = load_mnist(data_dir, flatten=True, download=False)
    xte, yte = xte[:n_test], yte[:n_test]
    rng = np.random.default_rng(seed)
    n_lab = int(round(label_fraction * len(xtr)))
    lab = rng.choice(len(xtr), n_lab, replace=False)
    xl, yl = xtr[lab], ytr[lab]
    xu = xtr[rng.choice(len(xtr), n_unlabelled, replace=False)]
    dbn = DBN([784, *hidden], n_labels=10, top_hidden=top_hidden, seed=seed)
    dbn.fit(xu, xl, yl, epochs=epochs, top_epochs=top_epochs)
    acc_gen = float((dbn.predict(xte) == yte).mean())
    crandom.manual_seed(seed)
    mlp = dbn.to_mlp(10)
    t = _train_mlp(mlp, xl, yl, mlp_epochs, 1e-3, seed)
    acc_ft = float((t.predict(xte).argmax(1) == yte).mean())
    crandom.manual_seed(seed)
    layers: list[Any] = []
    sizes = [784, *hidden]
    for i in range(len(hidden)):
        layers += [nn.Linear(sizes[i], sizes[i + 1], init="he_normal"), nn.ReLU()]
    base = nn.Sequential(*layers, nn.Linear(sizes[-1], 10))
    tb = _train_mlp(base, xl, yl, mlp_epochs, 1e-3, seed)
    acc_mlp = float((tb.predict(xte).argmax(1) == yte).mean())
    return {"n_labels": n_lab, "acc_dbn_generative": acc_gen, "acc_dbn_finetuned": acc_ft,
            "acc_mlp": acc_mlp, "dbn": dbn}


def dbn(args: argparse.Namespace, out: Path) -> None:
    """The semi-supervised DBN against an MLP, and digits it generates."""
    kw: dict[str, Any] = dict(n_unlabelled=3000, top_epochs=20, mlp_epochs=20, epochs=2,
                              n_test=2000) if args.quick else {}
    r = semi_supervised_experiment(args.data_dir, seed=args.seed, **kw)
    net = r.pop("dbn")
    print(f"MNIST with {r['n_labels']} labels (1 %): DBN generative {r['acc_dbn_generative']:.4f}"
          f", DBN fine-tuned {r['acc_dbn_finetuned']:.4f}, MLP {r['acc_mlp']:.4f}")
    demos.dbn_pictures(net, out)


def som(args: argparse.Namespace, out: Path) -> None:
    """The colour map, our SOM against minisom on the colours, and the MNIST map."""
    from chainrule.classic.som import compare_with_minisom

    colours = demos.som_colours(args, out)
    try:
        r = compare_with_minisom(colours, 10, 10, 2000 if args.quick else 10000, sigma=2.0)
        print("vs minisom (colours, same init/order/schedule): "
              + ", ".join(f"{k} {v:.4f}" for k, v in r.items()))
    except ImportError:
        print("(minisom not installed: no comparison)")
    demos.som_mnist(args, out)


STUDIES = {"hopfield": hopfield, "boltzmann": demos.boltzmann, "rbm": rbm, "dbn": dbn,
           "som": som}


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help=f"any of {', '.join(MODELS)} (default all)")
    p.add_argument("--data-dir", default=str(get_data_dir()),
                   help="folder with mnist/ (default $CHAINRULE_DATA or the user cache)")
    p.add_argument("--out", default="docs/figures", help="folder for the figures")
    p.add_argument("--quick", action="store_true", help="small, fast version")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    for name in args.models or MODELS:
        t = time.perf_counter()
        STUDIES[name](args, out)
        print(f"({name}: {time.perf_counter() - t:.1f} s)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
