"""``chainrule generate`` (sample text from a char-lstm checkpoint) and the runner behind
``chainrule train --model char-lstm --dataset shakespeare``.

    chainrule train --model char-lstm --dataset shakespeare --minutes 20
    chainrule generate --checkpoint runs/char-lstm-shakespeare/model.npz --length 500 \
        --temperature 0.5 --prompt "ROMEO:"
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .data.errors import DataError
from .models.charlm import CharLMConfig, load_checkpoint, sample, train_charlm

__all__ = ["add_generate_parser", "run_charlm_train", "run_generate"]

PROG = "chainrule"


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------- generate
def add_generate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``generate`` command to ``sub`` (from ``parser.add_subparsers()``)."""
    p = sub.add_parser("generate", help="sample text (char-lstm) or images (vae, gan, dcgan) "
                       "from a checkpoint",
                       description="Sample characters from a model trained with "
                                   "`chainrule train --model char-lstm`, or a grid of images "
                                   "from one trained with --model vae, gan or dcgan.")
    p.add_argument("--checkpoint", required=True, help="model.npz written by the training run")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="softmax temperature > 0; lower is more conservative (default 0.8)")
    p.add_argument("--prompt", default="\n", help="text to start from (default a newline)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n", type=int, default=64, help="images: how many (default 64)")
    p.add_argument("--label", type=int, default=None,
                   help="images from a conditional GAN: the class to draw (default all)")
    p.add_argument("--out", default="samples.png", help="images: picture to write "
                   "(default samples.png)")
    p.set_defaults(func=run_generate)
    return p


def run_generate(args: argparse.Namespace) -> int:
    """Print the prompt followed by ``--length`` sampled characters; 2 on bad input."""
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        return _error(f"--temperature must be a positive number, got {args.temperature}")
    if args.length < 0:
        return _error(f"--length must be >= 0, got {args.length}")
    if not args.prompt:
        return _error("--prompt must have at least one character")
    if not Path(args.checkpoint).is_file():
        return _error(f"checkpoint {args.checkpoint} not found")
    if _holds_images(args.checkpoint):
        return _generate_images(args)
    try:
        model, vocab, _ = load_checkpoint(args.checkpoint)
    except (DataError, ValueError, KeyError) as exc:
        return _error(f"cannot read checkpoint {args.checkpoint}: {' '.join(str(exc).split())}")
    try:
        vocab.encode(args.prompt)
    except ValueError as exc:
        return _error(f"--prompt has {exc}")
    text = sample(model, vocab, args.length, prompt=args.prompt,
                  temperature=args.temperature, seed=args.seed)
    print(args.prompt + text)
    return 0


def _holds_images(path: str) -> bool:
    """True for checkpoints written by ``chainrule train --model vae|gan|...``."""
    from .io import load
    from .train.cli_train import GENERATIVE_NAMES

    try:
        config = load(path).get("config")
    except (DataError, ValueError, OSError):
        return False  # reported by the char-lstm loader
    return isinstance(config, dict) and config.get("model") in GENERATIVE_NAMES


def _generate_images(args: argparse.Namespace) -> int:
    from .train.cli_generative import sample_checkpoint

    if args.n <= 0:
        return _error(f"--n must be a positive integer, got {args.n}")
    try:
        path = sample_checkpoint(args.checkpoint, args.n, args.out, seed=args.seed,
                                 label=args.label)
    except (DataError, ValueError, KeyError) as exc:
        return _error(f"cannot sample from {args.checkpoint}: {' '.join(str(exc).split())}")
    print(f"wrote {path} ({args.n} images)")
    return 0


# --------------------------------------------------------------------------- train
def _corpus(args: argparse.Namespace) -> str:
    from .data import load_text

    try:
        return load_text("tinyshakespeare", data_dir=getattr(args, "data_dir", None),
                         download=bool(getattr(args, "download", False)))
    except (DataError, OSError) as exc:
        raise DataError(f"tinyshakespeare not found ({' '.join(str(exc).split())}); pass "
                        "--data-dir DIR (with text/tinyshakespeare.txt) or --download") from None


def run_charlm_train(args: argparse.Namespace) -> int:
    """``chainrule train --model char-lstm --dataset shakespeare``: a 2-layer LSTM (hidden
    256) trained with Adam and clipping by norm 5 for ``--minutes`` (default 20) or
    ``--steps``; writes ``--out``/model.npz (default runs/char-lstm-shakespeare)."""
    if getattr(args, "dataset", "shakespeare") not in ("shakespeare", "tinyshakespeare"):
        return _error(f"model char-lstm trains on --dataset shakespeare, not {args.dataset!r}")
    if getattr(args, "model", "char-lstm") != "char-lstm":
        return _error(f"dataset shakespeare is for --model char-lstm, not {args.model!r}")
    minutes, steps = getattr(args, "minutes", None), getattr(args, "steps", None)
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        return _error(f"--minutes must be a positive number, got {minutes}")
    if steps is not None and steps <= 0:
        return _error(f"--steps must be a positive integer, got {steps}")
    if minutes is None and steps is None:
        minutes = 20.0
    lr = getattr(args, "lr", None)
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        return _error(f"--lr must be a positive number, got {lr}")
    batch = getattr(args, "batch_size", 32) or 32
    if batch <= 0:
        return _error(f"--batch-size must be a positive integer, got {batch}")
    try:
        text = _corpus(args)
    except DataError as exc:
        return _error(str(exc))
    out = Path(getattr(args, "out", None) or "runs/char-lstm-shakespeare")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot create output folder {out}: {exc.strerror or exc}")
    cfg = CharLMConfig(batch=batch, lr=2e-3 if lr is None else lr,
                       seed=getattr(args, "seed", 0), dropout=0.1, lr_decay=0.95,
                       **({"hidden": args.hidden} if getattr(args, "hidden", None) else {}))
    quiet = bool(getattr(args, "quiet", False))
    try:
        _, _, hist = train_charlm(text, cfg, minutes=minutes, steps=steps,
                                  checkpoint=out / "model.npz",
                                  log=None if quiet else (lambda m: print(m, flush=True)))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps "
          f"({hist['seconds'] / 60:.1f} min); wrote {out / 'model.npz'}")
    return 0
