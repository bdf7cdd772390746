"""The character models from the command line: ``chainrule train --model char-lstm|gpt
--dataset shakespeare`` and ``chainrule generate`` for text.

    chainrule train --model char-lstm --dataset shakespeare --minutes 20
    chainrule train --model gpt --dataset shakespeare --minutes 30
    chainrule generate --checkpoint runs/char-lstm-shakespeare/model.npz --length 500 \\
        --temperature 0.5 --prompt "ROMEO:"
    chainrule generate --checkpoint runs/gpt-shakespeare/model.npz --top-k 10

The two functions that touch the model's own checkpoint format are :func:`fit` and
:func:`load`; everything else is argument checking and printing.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from .. import io
from ..errors import CheckpointError, DataError, UsageError
from ..models import chargpt
from ..models.charlm import CharLMConfig, load_checkpoint, sample, save_checkpoint, train_charlm
from ..models.gpt import GPT
from ..train import plot_history
from . import _mlp_args, _runs, _session, common

__all__ = ["generate_text", "train"]

DEFAULT_MINUTES = {"char-lstm": 20.0, "gpt": 30.0}
MODELS = tuple(DEFAULT_MINUTES)
OPTIMIZER = {"char-lstm": "Adam (clipped at norm 5)",
             "gpt": "AdamW (decay on matrices, clipped at norm 1)"}
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
    """Raise UsageError for a bad argument; return the minutes of the budget (20 for the
    LSTM, 30 for the GPT when no --steps, --minutes or --epochs is given). ``--epochs``
    counts only when given."""
    common.require(args.dataset in ("shakespeare", "tinyshakespeare"),
                   f"model {args.model} trains on --dataset shakespeare, not {args.dataset!r}")
    common.require(args.model in MODELS,
                   f"dataset shakespeare is for --model char-lstm or gpt, not {args.model!r}")
    if not resumed and not _runs.given(args, "epochs"):
        args.epochs = None  # the budget is time (or --steps), not the parser's 20 epochs
    if args.model == "gpt" and not resumed and not _runs.given(args, "batch_size"):
        args.batch_size = chargpt.GPTConfig().batch  # the GPT's own default, saved with the run
    if args.epochs is not None:
        common.check_positive_int("--epochs", args.epochs)
    common.check_positive_number("--lr", args.lr)
    common.check_positive_int("--batch-size", args.batch_size)
    if getattr(args, "hidden", None) is not None:  # --hidden N: the LSTM's size (issue 20)
        args.hidden = _mlp_args.lstm_hidden(args.hidden, args.model)
    common.require(args.optimizer == "adam" and not _runs.given(args, "momentum"),
                   f"model {args.model} trains with {OPTIMIZER[args.model]}: --optimizer and "
                   "--momentum do not apply")
    common.require(args.model != "gpt" or args.epochs is None,
                   "model gpt trains on random windows, without epochs: give --minutes or "
                   "--steps")
    if args.minutes is None and args.steps is None and args.epochs is None:
        return DEFAULT_MINUTES[args.model]
    return args.minutes


def train(args: argparse.Namespace, resumed: Path | None = None) -> int:
    """``chainrule train --model char-lstm --dataset shakespeare``: a 2-layer LSTM (hidden
    256) trained with Adam and clipping by norm 5 for ``--minutes`` (default 20),
    ``--steps`` or ``--epochs``; ``--model gpt``: the character GPT
    (:mod:`chainrule.models.chargpt`, AdamW, a warmup then cosine schedule over the budget)
    for ``--minutes`` (default 30) or ``--steps``. Writes model.npz (the best validation
    weights), history.csv (one row per validation) and the curves into the run folder
    (default runs/MODEL-shakespeare), with checkpoint.npz for ``--resume``."""
    minutes = _check_train_args(args, resumed is not None)
    out = resumed or _runs.new_run_dir(args, OUTPUTS)
    text = _corpus(args)
    if args.model == "gpt":
        cfg: Any = chargpt.GPTConfig(batch=args.batch_size, seed=args.seed,
                                     **({} if args.lr is None else {"lr": args.lr}))
    else:
        cfg = CharLMConfig(batch=args.batch_size, lr=2e-3 if args.lr is None else args.lr,
                           seed=args.seed, dropout=0.1, lr_decay=0.95,
                           **({"hidden": args.hidden} if getattr(args, "hidden", None) else {}))
    return _session.run_session(args, out, resumed is not None,
                                lambda: _fit(args, text, cfg, out, minutes, resumed is not None),
                                OUTPUTS)


def _fit(args: argparse.Namespace, text: str, config: CharLMConfig, out: Path,
         minutes: float | None, resumed: bool) -> int:
    """Train the character model on ``text``; write model.npz, history.csv and the curves."""
    log = None if args.quiet else (lambda m: print(m, flush=True))
    common_args = dict(minutes=minutes, steps=args.steps, log=log, verbose=not args.quiet,
                       callbacks=_session.callbacks(args, out, history=False),
                       resume_from=_session.resume_path(out, resumed))
    if args.model == "gpt":
        model, vocab, hist = chargpt.train_chargpt(text, config, **common_args)
        hist["seconds"] = hist["total_seconds"]
        save: Any = chargpt.save_checkpoint
    else:
        model, vocab, hist = train_charlm(text, config, epochs=args.epochs, **common_args)
        save = save_checkpoint
    rows = {k: hist[k] for k in ("step", "train_loss", "val_loss")}
    spare = _runs.save_or_fallback(
        out / "model.npz", lambda path: save(path, model, vocab, config, rows), _session.say)
    _session.write_history(out / "history.csv", rows)
    curves = plot_history({"loss": rows["train_loss"], "val_loss": rows["val_loss"]},
                          out / "curves") if rows["val_loss"] else None
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps "
          f"({hist['seconds'] / 60:.1f} min); wrote {out}/: "
          f"{'model.npz, ' if spare is None else ''}history.csv, "
          f"{curves.name + ', ' if curves else ''}checkpoint.npz")
    return 0 if spare is None else 1


def load(path: str) -> tuple[Any, Any]:
    """The (model, vocabulary) saved at ``path`` (a char-lstm or a gpt); a file that is not
    one is a CheckpointError."""
    try:
        gpt = (io.read_checkpoint(path).get("architecture") or {}).get("name") == "gpt"
        model, vocab, _ = (chargpt.load_checkpoint if gpt else load_checkpoint)(path)
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
    top_k = getattr(args, "top_k", None)
    if isinstance(model, GPT):
        text = chargpt.sample(model, vocab, args.length, prompt=args.prompt,
                              temperature=args.temperature, top_k=top_k, seed=args.seed)
    else:
        common.require(top_k is None, "--top-k applies to a gpt checkpoint, not a char-lstm")
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
    top_k = getattr(args, "top_k", None)
    common.require(top_k is None or top_k >= 1, f"--top-k must be >= 1, got {top_k}")
    common.require(Path(args.checkpoint).is_file(), f"checkpoint {args.checkpoint} not found")
