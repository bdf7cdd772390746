"""``chainrule classic hopfield|boltzmann|rbm|dbn|som``: run each classic experiment.

Each prints its numbers and writes its figures to ``--out`` (default ``figures/classic``).
``--quick`` shrinks every experiment to seconds (for smoke tests).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

MODELS = ("hopfield", "boltzmann", "rbm", "dbn", "som")


def add_classic_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``classic`` sub-command to an argparse ``subparsers`` object."""
    p = sub.add_parser("classic", help="Hopfield nets, Boltzmann machines, RBMs, DBNs, SOMs",
                       description="Run a classic architecture's experiment and write its "
                                   "figures.")
    p.add_argument("model", choices=MODELS)
    p.add_argument("--out", default="figures/classic", help="folder for the figures")
    p.add_argument("--data-dir", default=None,
                   help="MNIST folder (default: $CHAINRULE_DATA or ~/.cache/chainrule)")
    p.add_argument("--quick", action="store_true", help="small, fast version")
    p.add_argument("--seed", type=int, default=0)
    return p


def _mnist(args: argparse.Namespace) -> tuple[Any, Any]:
    from .data import load_mnist

    return load_mnist(args.data_dir, flatten=True, download=False)


def _hopfield(args: argparse.Namespace, out: Path) -> None:
    from .classic import Hopfield, capacity_curve, spurious_states
    from .classic.plots import plot_capacity, plot_trajectory

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
    try:
        (x, y), _ = _mnist(args)
    except Exception as exc:  # noqa: BLE001 - the picture is optional
        print(f"(no MNIST restoration picture: {exc})")
        return
    idx = [int(np.flatnonzero(y == d)[0]) for d in (0, 1, 4)]
    pats = (x[idx] > 0.5).astype(np.int8) * 2 - 1
    net = Hopfield(784).fit(pats, rule="storkey")
    trajs, acc = [], []
    for p in pats:
        noisy = p.copy()
        noisy[rng.choice(784, 157, replace=False)] *= -1          # 20 % of the pixels
        traj = net.recall(noisy, steps=10, seed=args.seed)
        trajs.append(traj)
        acc.append(float((traj[-1] == p).mean()))
    print(f"MNIST 0/1/4 with 20 % pixels flipped, Storkey rule: pixels right after recall "
          f"{np.round(acc, 3).tolist()}")
    print(f"wrote {plot_trajectory(trajs, out / 'classic_hopfield_mnist.png')}")


def _boltzmann(args: argparse.Namespace, out: Path) -> None:
    from .classic import TRIPLETS, BoltzmannMachine, total_variation
    from .classic.plots import plot_distribution

    rng = np.random.default_rng(args.seed)
    keys = list(TRIPLETS)
    data = np.array(keys, dtype=np.int8)[rng.choice(3, 2000, p=list(TRIPLETS.values()))]
    bm = BoltzmannMachine(3, 3, seed=args.seed).fit(data, epochs=300 if args.quick else 1000)
    samples = bm.sample(20000, burn_in=50)
    rows, counts = np.unique(samples, axis=0, return_counts=True)
    model = {tuple(int(v) for v in r): float(c) / len(samples) for r, c in zip(rows, counts)}
    print(f"sample distribution: { {''.join(map(str, k)): round(v, 4) for k, v in model.items()} }")
    print(f"total variation to the target: {total_variation(samples, TRIPLETS):.4f}")
    print(f"wrote {plot_distribution(TRIPLETS, model, out / 'classic_boltzmann_triplets.png')}")


def _rbm(args: argparse.Namespace, out: Path) -> None:
    from .classic.plots import image_grid
    from .classic.rbm import RBM, compare_with_sklearn

    n_train, hidden, epochs = (2000, 32, 2) if args.quick else (20000, 100, 10)
    try:
        r = compare_with_sklearn(n_train=n_train, n_hidden=hidden, epochs=epochs,
                                 data_dir=args.data_dir, seed=args.seed)
        model = r.pop("model")
        print(f"RBM vs sklearn BernoulliRBM ({n_train} images, {hidden} hidden, {epochs} "
              f"epochs, lr 0.1, batch 10): " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()))
    except ImportError:
        (x, _), _ = _mnist(args)
        model = RBM(784, hidden, seed=args.seed).fit((x[:n_train] > 0.5).astype(np.float32),
                                                     epochs=epochs)
        print("(scikit-learn not installed: no comparison)")
    w = model.W.T[:100]
    lo, hi = w.min(1, keepdims=True), w.max(1, keepdims=True)
    print(f"wrote {image_grid((w - lo) / (hi - lo), out / 'classic_rbm_filters.png')}")
    s = model.sample(20, gibbs_steps=100 if args.quick else 1000)
    print(f"wrote {image_grid(s, out / 'classic_rbm_samples.png')}")


def _dbn(args: argparse.Namespace, out: Path) -> None:
    from .classic.dbn import semi_supervised_experiment
    from .classic.plots import image_grid

    kw: dict[str, Any] = dict(n_unlabelled=3000, top_epochs=20, mlp_epochs=20, epochs=2,
                              n_test=2000) if args.quick else {}
    r = semi_supervised_experiment(args.data_dir, seed=args.seed, **kw)
    dbn = r.pop("dbn")
    print(f"MNIST with {r['n_labels']} labels (1 %): DBN generative {r['acc_dbn_generative']:.4f}"
          f", DBN fine-tuned {r['acc_dbn_finetuned']:.4f}, MLP {r['acc_mlp']:.4f}")
    imgs = np.concatenate([dbn.generate(k, 2, gibbs_steps=20) for k in range(10)])
    labels = [str(k) for k in range(10) for _ in range(2)]
    print(f"wrote {image_grid(imgs, out / 'classic_dbn_generated.png', labels=labels)}")


def _som(args: argparse.Namespace, out: Path) -> None:
    from .classic import SOM
    from .classic.plots import plot_som

    rng = np.random.default_rng(args.seed)
    colours = rng.random((500, 3))
    som = SOM(15, 15, 3, sigma=4.0, seed=args.seed).init_from_data(colours)
    som.train_online(colours, 2000 if args.quick else 10000)
    print(f"colours: quantisation error {som.quantization_error(colours):.4f}, "
          f"topographic error {som.topographic_error(colours):.4f}")
    print(f"wrote {plot_som(som.weights, som.u_matrix(), out / 'classic_som_colours.png')}")
    try:
        from .classic.som import compare_with_minisom

        r = compare_with_minisom(colours, 10, 10, 2000 if args.quick else 10000, sigma=2.0)
        print("vs minisom (colours, same init/order/schedule): "
              + ", ".join(f"{k} {v:.4f}" for k, v in r.items()))
    except ImportError:
        print("(minisom not installed: no comparison)")
    try:
        (x, _), _ = _mnist(args)
    except Exception as exc:  # noqa: BLE001
        print(f"(no MNIST map: {exc})")
        return
    x = x[: 2000 if args.quick else 10000].astype(np.float64)
    som = SOM(12, 12, 784, sigma=4.0, seed=args.seed).init_from_data(x)
    t = time.perf_counter()
    som.train_batch(x, 10 if args.quick else 30)
    print(f"MNIST batch SOM ({len(x)} images, 12x12): QE {som.quantization_error(x):.3f}, "
          f"TE {som.topographic_error(x):.3f}, {time.perf_counter() - t:.1f} s")
    print(f"wrote {plot_som(som.weights, som.u_matrix(), out / 'classic_som_mnist.png', (28, 28))}")


def run_classic(args: argparse.Namespace) -> int:
    """Run ``args.model``'s experiment; returns the exit status."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    t = time.perf_counter()
    {"hopfield": _hopfield, "boltzmann": _boltzmann, "rbm": _rbm, "dbn": _dbn,
     "som": _som}[args.model](args, out)
    print(f"({args.model}: {time.perf_counter() - t:.1f} s)")
    return 0
