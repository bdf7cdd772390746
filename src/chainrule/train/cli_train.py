"""``chainrule train``: train a model on a dataset from the command line.

    chainrule train                                   # MLP on the bundled 8x8 digits
    chainrule train --model mlp --dataset mnist --epochs 10 --data-dir ~/data
    chainrule train --model cnn --dataset mnist --epochs 5 --batch-size 64 --data-dir ~/data

Models come from :data:`chainrule.models.MODELS` ("mlp", "cnn"); "cnn" reads the
images as (1, H, W), so it works on MNIST (28x28) and on the bundled digits (8x8).

It trains with progress, prints the final validation and test accuracy, and writes into
the output folder (``--out``, default ``runs/<model>-<dataset>``): ``model.npz`` (model
and optimizer state, via :func:`chainrule.io.save`), ``history.csv`` and ``curves.png``
(or ``curves.svg`` when matplotlib is not installed).

Wiring into the main command::

    sub = parser.add_subparsers(dest="command")
    add_train_parser(sub)
    ...
    if args.command == "train":
        return run_train(args)

Bad input (unknown model or dataset, missing data, epochs/lr/batch size <= 0, a model that
does not fit the dataset's input shape) prints one line to stderr and returns exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..data import (
    ENV_VAR,
    DataError,
    DataFileNotFoundError,
    get_data_dir,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from ..models import MODELS, build_model
from ..random import manual_seed
from .callbacks import CSVLogger, save_checkpoint
from .history import plot_history
from .trainer import Trainer

__all__ = ["DATASETS", "OPTIMIZERS", "add_train_parser", "run_train"]

PROG = "chainrule train"
SPLIT_SEED = 0  # the train/val/test split never depends on --seed
#: Representation-learning models, trained by :mod:`.cli_generative`.
GENERATIVE_NAMES = ("autoencoder", "conv-autoencoder", "vae", "gan", "dcgan")
DIGITS_TEST_FRACTION = 0.2

Arrays = tuple[np.ndarray, np.ndarray]


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


# --------------------------------------------------------------------------- data


@dataclass
class Splits:
    """Standardised train/val/test arrays and what is needed to rebuild the model."""

    train: Arrays
    val: Arrays | None
    test: Arrays
    input_shape: tuple[int, ...]
    num_classes: int
    mean: float
    std: float


def _hold_out(x: np.ndarray, y: np.ndarray, fraction: float,
              rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Split off ``fraction`` of the samples at random: (rest, held out; maybe empty)."""
    order = rng.permutation(len(x))
    n_out = int(round(len(x) * fraction))
    keep, out = order[n_out:], order[:n_out]
    return (x[keep], y[keep]), (x[out], y[out])


def _nonempty(pair: Arrays) -> Arrays | None:
    return pair if len(pair[1]) else None


def _standardized(train: Arrays, val: Arrays | None, test: Arrays) -> Splits:
    """Scale every split with the training set's global mean and std (one number each:
    robust for pixels that are almost always zero)."""
    x = train[0]
    mean, std = float(x.mean()), float(x.std()) or 1.0

    def scale(pair: Arrays) -> Arrays:
        return ((pair[0] - mean) / std).astype(np.float32), pair[1]

    num_classes = int(max(train[1].max(), test[1].max())) + 1
    return Splits(scale(train), None if val is None else scale(val), scale(test),
                  tuple(x.shape[1:]), num_classes, mean, std)


RawSplits = tuple[Arrays, Arrays | None, Arrays]  # train, val (or None), test; unscaled


def _digits(args: argparse.Namespace) -> RawSplits:
    x, y = load_digits()
    rng = np.random.default_rng(SPLIT_SEED)
    rest, test = _hold_out(x, y, DIGITS_TEST_FRACTION, rng)
    train, val = _hold_out(*rest, args.val_fraction, rng)
    return train, _nonempty(val), test


def _idx_dataset(loader: Any, args: argparse.Namespace) -> RawSplits:
    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise UsageError(f"data directory {args.data_dir} does not exist")
    root = get_data_dir(args.data_dir)
    if args.data_dir is None and not args.download and not root.is_dir():
        raise UsageError(f"data directory {root} does not exist; pass --data-dir DIR or set "
                         f"{ENV_VAR} (or add --download)")
    (x, y), test = loader(args.data_dir, download=args.download)
    train, val = _hold_out(x, y, args.val_fraction, np.random.default_rng(SPLIT_SEED))
    return train, _nonempty(val), test


#: Dataset readers by name: ``reader(args) -> (train, val or None, test)`` as read from
#: disk (unscaled); the split never depends on ``--seed``.
DATASETS: dict[str, Any] = {
    "digits": _digits,
    "mnist": lambda args: _idx_dataset(load_mnist, args),
    "fashion-mnist": lambda args: _idx_dataset(load_fashion_mnist, args),
}


def load_splits(args: argparse.Namespace) -> RawSplits:
    """The dataset's unscaled (train, val or None, test) splits; data problems become
    one-line UsageErrors."""
    try:
        return DATASETS[args.dataset](args)
    except DataFileNotFoundError as exc:
        what = str(exc).splitlines()[0].split(";")[0]
        root = get_data_dir(args.data_dir)
        raise UsageError(f"{args.dataset} data not found in {root} ({what}); pass "
                         f"--data-dir DIR, set {ENV_VAR}, or add --download") from None
    except DataError as exc:
        raise UsageError(" ".join(str(exc).split())) from None


def _load(args: argparse.Namespace) -> Splits:
    return _standardized(*load_splits(args))


# --------------------------------------------------------------------------- arguments

#: Optimizers by name: (factory(params, lr, momentum), default learning rate).
OPTIMIZERS: dict[str, tuple[Any, float]] = {
    "sgd": (lambda params, lr, momentum: optim.SGD(params, lr=lr, momentum=momentum), 0.05),
    "adam": (lambda params, lr, momentum: optim.Adam(params, lr=lr), 1e-3),
}


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` command to ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = subparsers.add_parser(
        "train", help="train a model on a dataset (default: an MLP on the bundled digits)",
        description="Train a model, show progress, print validation and test accuracy, and "
                    "write model.npz, history.csv and a plot of the curves to --out.")
    p.add_argument("--model", default="mlp", help=f"model name ({', '.join(sorted(MODELS))}, "
                   f"{', '.join(GENERATIVE_NAMES)}, char-lstm; default mlp)")
    p.add_argument("--dataset", default="digits",
                   help=f"{', '.join(DATASETS)}, shakespeare (default digits, bundled)")
    p.add_argument("--epochs", type=int, default=20, help="passes over the data (default 20)")
    p.add_argument("--batch-size", type=int, default=32, help="samples per batch (default 32)")
    p.add_argument("--optimizer", default="adam", help="sgd or adam (default adam)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 1e-3 for adam, 0.05 for sgd)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the run (default 0)")
    p.add_argument("--data-dir", default=None,
                   help=f"folder with the MNIST/Fashion-MNIST files (default ${ENV_VAR})")
    p.add_argument("--download", action="store_true",
                   help="download missing MNIST/Fashion-MNIST files")
    p.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training data held out for validation (default 0.1)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.add_argument("--minutes", type=float, default=None,
                   help="char-lstm only: wall-time budget (default 20 when no --steps)")
    p.add_argument("--steps", type=int, default=None,
                   help="char-lstm only: optimizer-step budget")
    p.add_argument("--latent-size", type=int, default=None,
                   help="autoencoders, vae, gans: size of the codings / latent space")
    p.add_argument("--conditional", action="store_true",
                   help="gan, dcgan: condition generator and discriminator on the class")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="gan, dcgan: one-sided label smoothing s (real targets 1 - s)")
    p.set_defaults(func=run_train)
    return p


def _check_args(args: argparse.Namespace) -> None:
    """Raise UsageError (one line) for an unknown name or a bad hyperparameter."""
    if args.model not in MODELS:
        known = [*sorted(MODELS), *GENERATIVE_NAMES, "char-lstm"]
        raise UsageError(f"unknown model {args.model!r}; known: {', '.join(known)}")
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; known: {', '.join(DATASETS)}")
    if args.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {args.optimizer!r}; known: "
                         f"{', '.join(OPTIMIZERS)}")
    check_hyperparameters(args)


def check_hyperparameters(args: argparse.Namespace) -> None:
    """Raise UsageError (one line) for epochs, batch size, lr, momentum or validation
    fraction out of range; shared by every model the command trains."""
    if args.epochs <= 0:
        raise UsageError(f"--epochs must be a positive integer, got {args.epochs}")
    if args.batch_size <= 0:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a positive number, got {args.lr}")
    if not 0 <= args.momentum < 1:
        raise UsageError(f"--momentum must be in [0, 1), got {args.momentum}")
    if not 0 <= args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")


def _out_dir(args: argparse.Namespace) -> Path:
    out = Path(args.out if args.out is not None else f"runs/{args.model}-{args.dataset}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    return out


# --------------------------------------------------------------------------- the run


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def _announce(args: argparse.Namespace, data: Splits, lr: float) -> None:
    sizes = "/".join(str(len(s[1])) for s in (data.train, data.val, data.test) if s is not None)
    epochs = f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}"
    print(f"{PROG}: {args.model} on {args.dataset} (train/{'val/' if data.val else ''}test "
          f"{sizes}), {args.optimizer} lr={lr:g}, batch {args.batch_size}, {epochs}, "
          f"seed {args.seed}", flush=True)


def _report(seconds: float, results: dict[str, float], out: Path, plot: Path) -> None:
    print(f"trained in {seconds:.1f} s")
    val = results.get("val_accuracy")
    print("validation accuracy: " + (_percent(val) if val is not None else
                                     "n/a (no validation split: --val-fraction 0)"))
    print(f"test accuracy: {_percent(results['test_accuracy'])} "
          f"(test loss {results['test_loss']:.4f})")
    how = "PNG via matplotlib" if plot.suffix == ".png" else \
        "SVG drawn without matplotlib; install chainrule[viz] for PNG"
    print(f"wrote {out}/: model.npz, history.csv, {plot.name} ({how})")


def _model(args: argparse.Namespace, data: Splits) -> nn.Module:
    """The model, built right after seeding; a shape it cannot take is a UsageError."""
    manual_seed(args.seed)
    try:
        return build_model(args.model, data.input_shape, data.num_classes)
    except ValueError as exc:
        raise UsageError(f"model {args.model!r} does not fit {args.dataset} (inputs of shape "
                         f"{data.input_shape}): {exc}") from None


def _train(args: argparse.Namespace, data: Splits, out: Path, model: nn.Module) -> int:
    make, default_lr = OPTIMIZERS[args.optimizer]
    lr = default_lr if args.lr is None else args.lr
    trainer = Trainer(model, nn.CrossEntropyLoss(), make(model.parameters(), lr, args.momentum))
    _announce(args, data, lr)
    start = time.perf_counter()
    history = trainer.fit(data.train, val=data.val, epochs=args.epochs,
                          batch_size=args.batch_size, seed=args.seed, verbose=not args.quiet,
                          callbacks=[CSVLogger(out / "history.csv")])
    seconds = time.perf_counter() - start
    results = {f"test_{k}": v for k, v in trainer.evaluate(data.test).items()}
    if data.val is not None:
        results.update({f"val_{k}": v for k, v in trainer.evaluate(data.val).items()})
    config = {"model": args.model, "dataset": args.dataset, "input_shape": list(data.input_shape),
              "num_classes": data.num_classes, "optimizer": args.optimizer, "lr": lr,
              "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed}
    save_checkpoint(out / "model.npz", model, trainer.optimizer, config=config,
                    preprocess={"mean": data.mean, "std": data.std}, results=results)
    _report(seconds, results, out, plot_history(history, out / "curves"))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Run ``chainrule train`` with parsed ``args``; return the exit code (0, 2 on bad
    input, 130 when interrupted)."""
    if args.model == "char-lstm" or args.dataset == "shakespeare":
        from ..cli_generate import run_charlm_train  # the character LSTM has its own loop

        return run_charlm_train(args)
    if args.model in GENERATIVE_NAMES:
        return _run_generative(args)
    try:
        _check_args(args)
        data = _load(args)
        model = _model(args, data)
        out = _out_dir(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        return _train(args, data, out, model)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _run_generative(args: argparse.Namespace) -> int:
    """Autoencoders, the VAE and the GANs (see :mod:`.cli_generative`)."""
    from . import cli_generative as gen  # imported on demand: pictures need matplotlib

    try:
        if args.dataset not in DATASETS:
            raise UsageError(f"unknown dataset {args.dataset!r}; known: {', '.join(DATASETS)}")
        if args.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {args.optimizer!r}; known: "
                             f"{', '.join(OPTIMIZERS)}")
        gen.check_args(args)
        splits = load_splits(args)
        return gen.run_generative(args, splits, _out_dir(args))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """``python -m chainrule.train.cli_train [options]`` (the same as ``chainrule train``)."""
    parser = argparse.ArgumentParser(prog="chainrule")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    return run_train(parser.parse_args(["train", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
