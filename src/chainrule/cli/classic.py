"""``chainrule classic hopfield|boltzmann|rbm|dbn|som``: a short demonstration of each
classic architecture.

Each trains the model with library calls, prints a few numbers and writes its pictures to
``--out`` (default ``figures/classic``); ``--quick`` shrinks it to seconds (for smoke
tests). The studies behind ``docs/classic.md`` (Hopfield capacity, spurious states, RBM vs
scikit-learn, SOM vs minisom, the semi-supervised DBN against an MLP) are in
``experiments/classic_all.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import common

__all__ = ["DEMOS", "MODELS", "NAME", "add_classic_parser", "boltzmann", "dbn", "dbn_pictures",
           "hopfield", "hopfield_mnist", "mnist", "rbm", "rbm_pictures", "register", "run",
           "run_classic", "som", "som_colours", "som_mnist"]

NAME = "classic"
MODELS = ("hopfield", "boltzmann", "rbm", "dbn", "som")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``classic`` command to an argparse ``subparsers`` object."""
    p = common.add_parser(subparsers, NAME,
                          help="Hopfield nets, Boltzmann machines, RBMs, DBNs, SOMs",
                          description="Train a classic architecture on a small problem, print "
                                      "what it learned and write its figures.")
    p.add_argument("model", choices=MODELS)
    common.add_out_arg(p, "figures/classic", "folder for the figures")
    common.add_data_args(p, help="MNIST folder (default: $CHAINRULE_DATA or "
                                 "~/.cache/chainrule); rbm and dbn need it")
    p.add_argument("--quick", action="store_true", help="small, fast version")
    common.add_seed_arg(p, help="random seed (default 0)")
    common.add_threads_arg(p)
    return p


def mnist(args: argparse.Namespace) -> tuple[Any, Any]:
    """MNIST from ``--data-dir`` (downloaded with ``--download``), flattened:
    ((x, y), (x_test, y_test)). Missing data is a one-line UsageError."""
    from ..data import DataFileNotFoundError, load_mnist
    from .datasets import check_data_dir, data_error

    download = getattr(args, "download", False)
    check_data_dir(args.data_dir, download)
    try:
        return load_mnist(args.data_dir, flatten=True, download=download)
    except DataFileNotFoundError as exc:
        raise data_error("mnist", exc, args.data_dir, download) from None


# --------------------------------------------------------------------------- the demos


def hopfield(args: argparse.Namespace, out: Path) -> None:
    """Store 5 random 10x10 patterns, recall them from 20 % flipped pixels; MNIST digits too."""
    from ..classic import Hopfield
    from ..viz.classic import plot_trajectory

    rng = np.random.default_rng(args.seed)
    xi = rng.choice([-1, 1], (5, 100))
    net = Hopfield(100).fit(xi)
    trajs = [net.recall(_flip(p, 20, rng), steps=10, seed=args.seed) for p in xi]
    right = [float((t[-1] == p).mean()) for t, p in zip(trajs, xi)]
    print(f"5 random patterns in 100 units (Hebb), 20 % flipped: units right after recall "
          f"{np.round(right, 3).tolist()}")
    print(f"wrote {plot_trajectory(trajs, out / 'classic_hopfield_recall.png', (10, 10))}")
    hopfield_mnist(args, out, rng)


def hopfield_mnist(args: argparse.Namespace, out: Path, rng: np.random.Generator) -> None:
    """MNIST 0, 1 and 4 stored with the Storkey rule, recalled from 20 % flipped pixels."""
    from ..classic import Hopfield
    from ..viz.classic import plot_trajectory

    try:
        (x, y), _ = mnist(args)
    except Exception as exc:  # noqa: BLE001 - the picture is optional
        print(f"(no MNIST restoration picture: {exc})")
        return
    idx = [int(np.flatnonzero(y == d)[0]) for d in (0, 1, 4)]
    pats = (x[idx] > 0.5).astype(np.int8) * 2 - 1
    net = Hopfield(784).fit(pats, rule="storkey")
    trajs = [net.recall(_flip(p, 157, rng), steps=10, seed=args.seed) for p in pats]
    acc = [float((t[-1] == p).mean()) for t, p in zip(trajs, pats)]
    print(f"MNIST 0/1/4 with 20 % pixels flipped, Storkey rule: pixels right after recall "
          f"{np.round(acc, 3).tolist()}")
    print(f"wrote {plot_trajectory(trajs, out / 'classic_hopfield_mnist.png')}")


def _flip(pattern: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``pattern`` (±1) with ``n`` random units flipped."""
    noisy = pattern.copy()
    noisy[rng.choice(len(pattern), n, replace=False)] *= -1
    return noisy


def boltzmann(args: argparse.Namespace, out: Path) -> None:
    """Learn the triplet distribution with 3 visible + 3 hidden units; sample it back."""
    from ..classic import TRIPLETS, BoltzmannMachine, total_variation
    from ..viz.classic import plot_distribution

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


def rbm(args: argparse.Namespace, out: Path) -> None:
    """An RBM on binarised MNIST: its filters and samples from Gibbs chains."""
    from ..classic.rbm import RBM

    n_train, hidden, epochs = (2000, 32, 2) if args.quick else (20000, 100, 10)
    (x, _), (xt, _) = mnist(args)
    model = RBM(784, hidden, seed=args.seed).fit((x[:n_train] > 0.5).astype(np.float32),
                                                 epochs=epochs)
    pll = model.pseudo_log_likelihood((xt[:2000] > 0.5).astype(np.float32), seed=args.seed)
    print(f"RBM ({n_train} images, {hidden} hidden, {epochs} epochs): pseudo-log-likelihood "
          f"{float(np.mean(pll)):.3f} on 2000 test images")
    rbm_pictures(model, out, gibbs_steps=100 if args.quick else 1000)


def rbm_pictures(model: Any, out: Path, gibbs_steps: int) -> None:
    """The first 100 filters (each scaled to [0, 1]) and 20 samples of an RBM on MNIST."""
    from ..viz.classic import image_grid

    w = model.W.T[:100]
    lo, hi = w.min(1, keepdims=True), w.max(1, keepdims=True)
    print(f"wrote {image_grid((w - lo) / (hi - lo), out / 'classic_rbm_filters.png')}")
    s = model.sample(20, gibbs_steps=gibbs_steps)
    print(f"wrote {image_grid(s, out / 'classic_rbm_samples.png')}")


def dbn(args: argparse.Namespace, out: Path) -> None:
    """A DBN pretrained on unlabelled MNIST, its top RBM on 1 % of the labels."""
    from ..classic import DBN

    n_unlabelled, epochs, top_epochs, n_test = \
        (3000, 2, 20, 2000) if args.quick else (20000, 5, 100, 10000)
    (x, y), (xt, yt) = mnist(args)
    rng = np.random.default_rng(args.seed)
    lab = rng.choice(len(x), len(x) // 100, replace=False)
    unlabelled = x[rng.choice(len(x), n_unlabelled, replace=False)]
    net = DBN([784, 256, 256], n_labels=10, top_hidden=512, seed=args.seed)
    net.fit(unlabelled, x[lab], y[lab], epochs=epochs, top_epochs=top_epochs)
    acc = float((net.predict(xt[:n_test]) == yt[:n_test]).mean())
    print(f"MNIST with {len(lab)} labels (1 %): DBN generative classifier accuracy {acc:.4f}")
    dbn_pictures(net, out)


def dbn_pictures(net: Any, out: Path) -> None:
    """Two generated digits per class."""
    from ..viz.classic import image_grid

    imgs = np.concatenate([net.generate(k, 2, gibbs_steps=20) for k in range(10)])
    labels = [str(k) for k in range(10) for _ in range(2)]
    print(f"wrote {image_grid(imgs, out / 'classic_dbn_generated.png', labels=labels)}")


def som(args: argparse.Namespace, out: Path) -> None:
    """A 15x15 map of random colours (online training); a 12x12 map of MNIST (batch)."""
    som_colours(args, out)
    som_mnist(args, out)


def som_colours(args: argparse.Namespace, out: Path) -> np.ndarray:
    """A 15x15 SOM of 500 random colours and its U-matrix; returns the colours."""
    from ..classic import SOM
    from ..viz.classic import plot_som

    rng = np.random.default_rng(args.seed)
    colours = rng.random((500, 3))
    net = SOM(15, 15, 3, sigma=4.0, seed=args.seed).init_from_data(colours)
    net.train_online(colours, 2000 if args.quick else 10000)
    print(f"colours: quantisation error {net.quantization_error(colours):.4f}, "
          f"topographic error {net.topographic_error(colours):.4f}")
    print(f"wrote {plot_som(net.weights, net.u_matrix(), out / 'classic_som_colours.png')}")
    return colours


def som_mnist(args: argparse.Namespace, out: Path) -> None:
    """A 12x12 batch SOM of MNIST images and its U-matrix (skipped without MNIST)."""
    from ..classic import SOM
    from ..viz.classic import plot_som

    try:
        (x, _), _ = mnist(args)
    except Exception as exc:  # noqa: BLE001 - the picture is optional
        print(f"(no MNIST map: {exc})")
        return
    x = x[: 2000 if args.quick else 10000].astype(np.float64)
    net = SOM(12, 12, 784, sigma=4.0, seed=args.seed).init_from_data(x)
    t = time.perf_counter()
    net.train_batch(x, 10 if args.quick else 30)
    print(f"MNIST batch SOM ({len(x)} images, 12x12): QE {net.quantization_error(x):.3f}, "
          f"TE {net.topographic_error(x):.3f}, {time.perf_counter() - t:.1f} s")
    print(f"wrote {plot_som(net.weights, net.u_matrix(), out / 'classic_som_mnist.png', (28, 28))}")


#: The demonstration of each model: ``demo(args, out_folder)``.
DEMOS: dict[str, Callable[[argparse.Namespace, Path], None]] = {
    "hopfield": hopfield, "boltzmann": boltzmann, "rbm": rbm, "dbn": dbn, "som": som}


def run(args: argparse.Namespace) -> int:
    """Run ``args.model``'s demonstration; returns the exit status."""
    _require_matplotlib()
    out = common.out_dir(args.out)
    t = time.perf_counter()
    DEMOS[args.model](args, out)
    print(f"({args.model}: {time.perf_counter() - t:.1f} s)")
    return 0


def _require_matplotlib() -> None:
    """Every demo draws its figures with matplotlib: say so before any training."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise common.UsageError("the classic demos draw their figures with matplotlib, which is "
                                "not installed: pip install 'chainrule[viz]'")


# --------------------------------------------------------------------------- old entry points

add_classic_parser = register


def run_classic(args: argparse.Namespace) -> int:
    """:func:`run` with bad input reported as one line: exit code 0 or 2."""
    return common.report(NAME, run, args)
