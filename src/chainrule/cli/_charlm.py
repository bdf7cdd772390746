"""The character LSTM from the command line: ``chainrule train --model char-lstm --dataset
shakespeare`` and ``chainrule generate`` for text.

    chainrule train --model char-lstm --dataset shakespeare --minutes 20
    chainrule generate --checkpoint runs/char-lstm-shakespeare/model.npz --length 500 \\
        --temperature 0.5 --prompt "ROMEO:"

The two functions that touch the model's own checkpoint format are :func:`fit` and
:func:`load`; everything else is argument checking and printing.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, DataError, UsageError
from ..models.charlm import CharLMConfig, load_checkpoint, sample, save_checkpoint, train_charlm
from ..train import plot_history
from . import _runs, _session, common

__all__ = ["generate_text", "train"]

DEFAULT_MINUTES = 20.0
#: What a run writes besides model.npz, checkpoint.npz, history.csv and args.json.
OUTPUTS = ("curves.png", "curves.svg")


def _corpus(args: argparse.Namespace) -> str:
    from ..data import load_text

    try:
        return load_text("tinyshakespeare", data_dir=getattr(args, "data_dir", None),
                         download=bool(getattr(args, "download", False)))
    except (DataError, OSError) as exc:
        raise UsageError(f"tinyshakespeare not found ({common.one_line(exc)}); pass "
                         "--data-dir DIR (with text/tinyshakespeare.txt) or --download") from None


def _check_train_args(args: argparse.Namespace, resumed: bool) -> float | None:
    """Raise UsageError for a bad argument; return the minutes of the budget (20 when no
    --steps, --minutes or --epochs is given). ``--epochs`` counts only when given."""
    common.require(args.dataset in ("shakespeare", "tinyshakespeare"),
                   f"model char-lstm trains on --dataset shakespeare, not {args.dataset!r}")
    common.require(args.model == "char-lstm",
                   f"dataset shakespeare is for --model char-lstm, not {args.model!r}")
    if not resumed and not _runs.given(args, "epochs"):
        args.epochs = None  # the budget is time (or --steps), not the parser's 20 epochs
    if args.epochs is not None:
        common.check_positive_int("--epochs", args.epochs)
    common.check_positive_number("--lr", args.lr)
    common.check_positive_int("--batch-size", args.batch_size)
    common.require(args.optimizer == "adam" and not _runs.given(args, "momentum"),
                   "model char-lstm trains with Adam (clipped at norm 5): --optimizer and "
                   "--momentum do not apply")
    if args.minutes is None and args.steps is None and args.epochs is None:
        return DEFAULT_MINUTES
    return args.minutes


def train(args: argparse.Namespace, resumed: Path | None = None) -> int:
    """``chainrule train --model char-lstm --dataset shakespeare``: a 2-layer LSTM (hidden
    256) trained with Adam and clipping by norm 5 for ``--minutes`` (default 20),
    ``--steps`` or ``--epochs``; writes model.npz (the best validation weights),
    history.csv (one row per validation) and the curves into the run folder (default
    runs/char-lstm-shakespeare), with checkpoint.npz for ``--resume``."""
    minutes = _check_train_args(args, resumed is not None)
    out = resumed or _runs.new_run_dir(args, OUTPUTS)
    text = _corpus(args)
    cfg = CharLMConfig(batch=args.batch_size, lr=2e-3 if args.lr is None else args.lr,
                       seed=args.seed, dropout=0.1, lr_decay=0.95,
                       **({"hidden": args.hidden} if getattr(args, "hidden", None) else {}))
    return _session.run_session(args, out, resumed is not None,
                                lambda: _fit(args, text, cfg, out, minutes, resumed is not None),
                                OUTPUTS)


def _fit(args: argparse.Namespace, text: str, config: CharLMConfig, out: Path,
         minutes: float | None, resumed: bool) -> int:
    """Train the character LSTM on ``text``; write model.npz, history.csv and the curves."""
    model, vocab, hist = train_charlm(
        text, config, minutes=minutes, steps=args.steps, epochs=args.epochs,
        log=None if args.quiet else (lambda m: print(m, flush=True)), verbose=not args.quiet,
        callbacks=_session.callbacks(args, out, history=False),
        resume_from=_session.resume_path(out, resumed))
    rows = {k: hist[k] for k in ("step", "train_loss", "val_loss")}
    spare = _runs.save_or_fallback(
        out / "model.npz", lambda path: save_checkpoint(path, model, vocab, config, rows),
        _session.say)
    _session.write_history(out / "history.csv", rows)
    curves = plot_history({"loss": rows["train_loss"], "val_loss": rows["val_loss"]},
                          out / "curves") if rows["val_loss"] else None
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps "
          f"({hist['seconds'] / 60:.1f} min); wrote {out}/: "
          f"{'model.npz, ' if spare is None else ''}history.csv, "
          f"{curves.name + ', ' if curves else ''}checkpoint.npz")
    return 0 if spare is None else 1


def load(path: str) -> tuple[Any, Any]:
    """The (model, vocabulary) saved at ``path``; a file that is not one is a CheckpointError."""
    try:
        model, vocab, _ = load_checkpoint(path)
    except (DataError, ValueError, KeyError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {common.one_line(exc)}") from None
    return model, vocab


def generate_text(args: argparse.Namespace) -> int:
    """Print the prompt followed by ``--length`` sampled characters."""
    model, vocab = load(args.checkpoint)
    try:
        vocab.encode(args.prompt)
    except ValueError as exc:
        raise UsageError(f"--prompt has {exc}") from None
    text = sample(model, vocab, args.length, prompt=args.prompt,
                  temperature=args.temperature, seed=args.seed)
    print(args.prompt + text)
    return 0


def check_generate_args(args: argparse.Namespace) -> None:
    """Temperature, length and prompt of ``chainrule generate`` (any checkpoint)."""
    common.require(math.isfinite(args.temperature) and args.temperature > 0,
                   f"--temperature must be a positive number, got {args.temperature}")
    common.require(args.length >= 0, f"--length must be >= 0, got {args.length}")
    common.require(bool(args.prompt), "--prompt must have at least one character")
    common.require(Path(args.checkpoint).is_file(), f"checkpoint {args.checkpoint} not found")
