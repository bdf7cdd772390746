"""``chainrule train``: train a model on a dataset from the command line.

    chainrule train                                   # MLP on the bundled 8x8 digits
    chainrule train --model mlp --dataset mnist --epochs 10 --data-dir ~/data
    chainrule train --model cnn --dataset mnist --epochs 5 --batch-size 64 --data-dir ~/data
    chainrule train --model vae --dataset mnist --latent-size 2       # see cli/_generative.py
    chainrule train --model char-lstm --dataset shakespeare --minutes 20   # see cli/_charlm.py
    chainrule train --resume runs/cnn-mnist           # continue an interrupted run

Classifiers come from :data:`chainrule.models.MODELS` ("mlp", "cnn"); "cnn" reads the
images as (1, H, W), so it works on MNIST (28x28) and on the bundled digits (8x8).

It trains with progress, prints the final validation and test accuracy, and writes into
the run folder (``--out``, default ``runs/<model>-<dataset>``, numbered ``-2``, ``-3``, ...
when that holds an earlier run; see :mod:`._runs`): ``args.json`` (the arguments, first),
``checkpoint.npz`` (every epoch, every ``--checkpoint-minutes`` (5) within an epoch, and on
Ctrl-C/SIGTERM), ``history.csv``, ``model.npz`` (model and optimizer state, via
:func:`chainrule.io.save`) and ``curves.png`` (or ``curves.svg`` without matplotlib).

``--steps N`` / ``--minutes M`` bound any model's run (with ``--epochs``: whichever comes
first). Ctrl-C or SIGTERM saves the checkpoint and exits 130 (143 for SIGTERM) with the
line ``resume with: chainrule train --resume DIR``; a resumed run ends bit-identical to an
uninterrupted one. A loss that becomes NaN/inf or blows up exits 1 with one line (batch,
what to try); the last finite checkpoint stays (see :mod:`._session`).

Bad input (unknown model or dataset, missing data, epochs/lr/batch size <= 0, a model that
does not fit the dataset's input shape, an output folder that holds another run or cannot
be written) prints one line to stderr and returns exit code 2, before any training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .. import nn
from ..errors import UsageError
from ..models import MODELS, build_model
from ..random import manual_seed
from ..train import Trainer, plot_history, save_checkpoint
from . import _charlm, _distributed, _generative, _mlp_args, _rl, _runs, _session, common
from .datasets import DATASETS, Splits, load_splits, standardized

__all__ = ["DATASETS", "GENERATIVE_NAMES", "NAME", "UsageError", "add_train_parser",
           "check_hyperparameters", "load_splits", "register", "run", "run_train"]

NAME = "train"
PROG = f"chainrule {NAME}"
#: Representation-learning models, trained by :mod:`._generative`.
GENERATIVE_NAMES = tuple(_generative.GENERATIVE)
check_hyperparameters = common.check_hyperparameters  # the old name in this module
#: What a classifier's run writes besides model.npz, checkpoint.npz, history.csv, args.json.
OUTPUTS = ("curves.png", "curves.svg")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` command to ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = common.add_parser(
        subparsers, NAME,
        help="train a model on a dataset (default: an MLP on the bundled digits)",
        description="Train a model, show progress, print validation and test accuracy, and "
                    "write model.npz, history.csv and a plot of the curves to --out.")
    p.add_argument("--model", default="mlp", help=f"model name ({', '.join(sorted(MODELS))}, "
                   f"{', '.join(GENERATIVE_NAMES)}, char-lstm, gpt; default mlp)")
    p.add_argument("--dataset", default="digits",
                   help=f"{', '.join(DATASETS)}, shakespeare (default digits, bundled)")
    common.add_training_args(p)
    common.add_optimizer_args(p, lr_help="; gan, dcgan: adam means the book's Adam, lr 2e-4 "
                                         "and betas (0.5, 0.999); char-lstm: 2e-3")
    common.add_seed_arg(p)
    common.add_data_args(p)
    common.add_out_arg(p, None, "output folder (default runs/MODEL-DATASET)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training data held out for validation (default 0.1)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.add_argument("--compile", action="store_true",
                   help="mlp, cnn: run each training step as one compiled graph (chainrule."
                        "graph; a model that cannot be traced trains eagerly, with a warning)")
    _session.add_session_args(
        p, minutes_help="stop after this many minutes of training (with --epochs: whichever "
                        "comes first; char-lstm: default 20 when no --steps)")
    p.add_argument("--latent-size", type=int, default=None,
                   help="autoencoders, vae, gans: size of the codings / latent space")
    p.add_argument("--conditional", action="store_true",
                   help="gan, dcgan: condition generator and discriminator on the class")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="gan, dcgan: one-sided label smoothing s (real targets 1 - s)")
    _rl.add_arguments(p)  # issue 17: --env, --iterations, --episodes, --eval-episodes
    _mlp_args.add_arguments(p)  # issue 20: mlp --hidden, --activation, --dropout, ...
    _distributed.add_arguments(p)  # issue 18: --distributed (mpirun -n N chainrule train)
    p.set_defaults(func=run_train)
    _runs.track_given(p)  # --resume compares the flags given again with the saved ones
    return p


def run(args: argparse.Namespace) -> int:
    """Train ``args.model`` on ``args.dataset``; raises UsageError on bad input."""
    _distributed.check_args(args, MODELS)  # issue 18: classifiers only (cli/_distributed.py)
    _mlp_args.check_model(args)  # --hidden, --dropout, ...: not ignored by other models
    if args.model in _rl.MODELS:  # issue 17: reinforcement-learning agents (cli/_rl.py)
        return _rl.train(args)
    resumed = _runs.resume_run(args) if args.resume is not None else None
    _session.check_session_args(args)
    if args.model in _charlm.MODELS or args.dataset == "shakespeare":
        return _charlm.train(args, resumed)  # the character LSTM has its own loop
    if args.model in GENERATIVE_NAMES:
        common.check_choice("dataset", args.dataset, list(DATASETS))
        common.check_optimizer(args)
        _generative.check_args(args)
        out = resumed or _runs.new_run_dir(args, _generative.OUTPUTS)
        splits = load_splits(args)
        return _generative.run_generative(args, splits, out, resumed=resumed is not None)
    _check_args(args)
    _distributed.check_args(args, MODELS)  # again: a resumed run's saved model and ranks
    out = resumed or _distributed.shared_run_dir(args, lambda: _runs.new_run_dir(args, OUTPUTS))
    data = _load(args)
    model = build_classifier(args, data)
    return _distributed.run_session(args, out, resumed is not None,
                                    lambda: _train(args, data, out, model, resumed is not None),
                                    OUTPUTS)


def _check_args(args: argparse.Namespace) -> None:
    """Raise UsageError (one line) for an unknown name or a bad hyperparameter."""
    if args.model not in MODELS:
        known = [*sorted(MODELS), *GENERATIVE_NAMES, "char-lstm"]
        raise UsageError(f"unknown model {args.model!r}; known: {', '.join(known)}")
    common.check_choice("dataset", args.dataset, list(DATASETS))
    common.check_optimizer(args)
    common.check_hyperparameters(args)


def _load(args: argparse.Namespace) -> Splits:
    return standardized(*load_splits(args))


def build_classifier(args: argparse.Namespace, data: Splits) -> nn.Module:
    """The classifier ``args.model``, built right after seeding (the one place the command
    makes a classifier); a shape it cannot take is a UsageError."""
    kwargs = _mlp_args.model_kwargs(args)  # issue 20: mlp --hidden etc. (UsageError)
    manual_seed(args.seed)
    try:
        return build_model(args.model, data.input_shape, data.num_classes, **kwargs)
    except ValueError as exc:
        raise UsageError(f"model {args.model!r} does not fit {args.dataset} (inputs of shape "
                         f"{data.input_shape}): {exc}") from None


# --------------------------------------------------------------------------- the run


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def _announce(args: argparse.Namespace, data: Splits, lr: float) -> None:
    sizes = "/".join(str(len(s[1])) for s in (data.train, data.val, data.test) if s is not None)
    print(f"{PROG}: {args.model} on {args.dataset} (train/{'val/' if data.val else ''}test "
          f"{sizes}), {args.optimizer} lr={lr:g}, "
          f"batch {_distributed.batch_text(args)}, "
          f"{_session.epochs_text(args)}, "
          f"seed {args.seed}", flush=True)


def _report(seconds: float, results: dict[str, float], out: Path, plot: Path,
            spare: Path | None) -> None:
    print(f"trained in {seconds:.1f} s")
    val = results.get("val_accuracy")
    print("validation accuracy: " + (_percent(val) if val is not None else
                                     "n/a (no validation split: --val-fraction 0)"))
    print(f"test accuracy: {_percent(results['test_accuracy'])} "
          f"(test loss {results['test_loss']:.4f})")
    how = "PNG via matplotlib" if plot.suffix == ".png" else \
        "SVG drawn without matplotlib; install chainrule[viz] for PNG"
    model = "model.npz, " if spare is None else ""
    print(f"wrote {out}/: {model}history.csv, {plot.name} ({how}), checkpoint.npz")


def _train(args: argparse.Namespace, data: Splits, out: Path, model: nn.Module,
           resumed: bool) -> int:
    lr = common.learning_rate(args)
    trainer_class = _distributed.trainer_class(args, Trainer)  # or DistributedTrainer
    trainer = trainer_class(model, nn.CrossEntropyLoss(),
                            common.make_optimizer(args, model.parameters()),
                            compile=getattr(args, "compile", False))
    if _distributed.writes(args):
        _announce(args, data, lr)
    start = time.perf_counter()
    history = trainer.fit(data.train, val=data.val, epochs=args.epochs,
                          batch_size=args.batch_size, seed=args.seed, verbose=not args.quiet,
                          callbacks=_distributed.callbacks(args, _session.callbacks(args, out)),
                          resume_from=_session.resume_path(out, resumed))
    seconds = time.perf_counter() - start
    if not _distributed.writes(args):
        return 0  # the primary rank evaluates, saves and reports
    results = {f"test_{k}": v for k, v in trainer.evaluate(data.test).items()}
    if data.val is not None:
        results.update({f"val_{k}": v for k, v in trainer.evaluate(data.val).items()})
    config = {"model": args.model, "dataset": args.dataset, "input_shape": list(data.input_shape),
              "num_classes": data.num_classes, "optimizer": args.optimizer, "lr": lr,
              "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed}
    spare = _runs.save_or_fallback(
        out / "model.npz",
        lambda path: save_checkpoint(path, model, trainer.optimizer, config=config,
                                     preprocess={"mean": data.mean, "std": data.std},
                                     results=results),
        _session.say)
    _report(seconds, results, out, plot_history(history, out / "curves"), spare)
    return 0 if spare is None else 1


# --------------------------------------------------------------------------- old entry points


add_train_parser = register


def run_train(args: argparse.Namespace) -> int:
    """:func:`run` with bad input reported as one line: exit code 0, 2 or 130."""
    return common.report(NAME, run, args)


def main(argv: list[str] | None = None) -> int:
    """``chainrule train [options]`` from Python: ``main(["--epochs", "3"])``."""
    parser = argparse.ArgumentParser(prog="chainrule")
    register(parser.add_subparsers(dest="command", required=True))
    return run_train(parser.parse_args(["train", *(argv if argv is not None else sys.argv[1:])]))
