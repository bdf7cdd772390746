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
from ..models.charlm import CharLMConfig, load_checkpoint, sample, train_charlm
from . import common

__all__ = ["generate_text", "train"]

DEFAULT_OUT = "runs/char-lstm-shakespeare"


def _corpus(args: argparse.Namespace) -> str:
    from ..data import load_text

    try:
        return load_text("tinyshakespeare", data_dir=getattr(args, "data_dir", None),
                         download=bool(getattr(args, "download", False)))
    except (DataError, OSError) as exc:
        raise UsageError(f"tinyshakespeare not found ({common.one_line(exc)}); pass "
                         "--data-dir DIR (with text/tinyshakespeare.txt) or --download") from None


def _check_train_args(args: argparse.Namespace) -> tuple[float | None, int | None]:
    """Raise UsageError for a bad argument; return the (minutes, steps) budget."""
    common.require(args.dataset in ("shakespeare", "tinyshakespeare"),
                   f"model char-lstm trains on --dataset shakespeare, not {args.dataset!r}")
    common.require(args.model == "char-lstm",
                   f"dataset shakespeare is for --model char-lstm, not {args.model!r}")
    minutes, steps = args.minutes, args.steps
    common.check_positive_number("--minutes", minutes)
    if steps is not None:
        common.check_positive_int("--steps", steps)
    common.check_positive_number("--lr", args.lr)
    common.check_positive_int("--batch-size", args.batch_size or 32)  # 0: the default 32
    return (20.0 if minutes is None and steps is None else minutes), steps


def fit(text: str, config: CharLMConfig, out: Path, minutes: float | None, steps: int | None,
        quiet: bool) -> dict[str, Any]:
    """Train the character LSTM on ``text`` into ``out``/model.npz; return its history."""
    _, _, hist = train_charlm(text, config, minutes=minutes, steps=steps,
                              checkpoint=out / "model.npz",
                              log=None if quiet else (lambda m: print(m, flush=True)))
    return hist


def train(args: argparse.Namespace) -> int:
    """``chainrule train --model char-lstm --dataset shakespeare``: a 2-layer LSTM (hidden
    256) trained with Adam and clipping by norm 5 for ``--minutes`` (default 20) or
    ``--steps``; writes ``--out``/model.npz (default runs/char-lstm-shakespeare)."""
    minutes, steps = _check_train_args(args)
    text = _corpus(args)
    out = common.out_dir(args.out or DEFAULT_OUT)
    cfg = CharLMConfig(batch=args.batch_size or 32, lr=2e-3 if args.lr is None else args.lr,
                       seed=args.seed, dropout=0.1, lr_decay=0.95,
                       **({"hidden": args.hidden} if getattr(args, "hidden", None) else {}))
    hist = fit(text, cfg, out, minutes, steps, args.quiet)
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps "
          f"({hist['seconds'] / 60:.1f} min); wrote {out / 'model.npz'}")
    return 0


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
