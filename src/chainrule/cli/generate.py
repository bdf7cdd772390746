"""``chainrule generate``: sample text from a char-lstm checkpoint, or a grid of images from a
vae / gan / dcgan checkpoint.

    chainrule generate --checkpoint runs/char-lstm-shakespeare/model.npz --length 500 \\
        --temperature 0.5 --prompt "ROMEO:"
    chainrule generate --checkpoint runs/vae-mnist/model.npz --n 64 --out samples.png
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _charlm, _generative, common

__all__ = ["NAME", "add_generate_parser", "register", "run", "run_charlm_train", "run_generate"]

NAME = "generate"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``generate`` command to ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = common.add_parser(
        subparsers, NAME,
        help="sample text (char-lstm, gpt) or images (vae, gan, dcgan) from a checkpoint",
        description="Sample characters from a model trained with "
                    "`chainrule train --model char-lstm` or `--model gpt`, or a grid of images "
                    "from one trained with --model vae, gan or dcgan.")
    p.add_argument("--checkpoint", required=True, help="model.npz written by the training run")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="softmax temperature > 0; lower is more conservative (default 0.8)")
    p.add_argument("--prompt", default="\n", help="text to start from (default a newline)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="gpt: sample among the K most likely characters (default all)")
    common.add_seed_arg(p, help="random seed (default 0)")
    p.add_argument("--n", type=int, default=64, help="images: how many (default 64)")
    p.add_argument("--label", type=int, default=None,
                   help="images from a conditional GAN: the class to draw (default all)")
    common.add_out_arg(p, "samples.png", "images: picture to write (default samples.png)")
    p.set_defaults(func=run_generate)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the prompt and ``--length`` sampled characters, or write a grid of images."""
    _charlm.check_generate_args(args)
    if _generative.holds_images(args.checkpoint):
        return _generative.generate_images(args)
    return _charlm.generate_text(args)


# --------------------------------------------------------------------------- old entry points

add_generate_parser = register


def run_generate(args: argparse.Namespace) -> int:
    """:func:`run` with bad input reported as one line: exit code 0 or 2."""
    return common.report(NAME, run, args)


def run_charlm_train(args: argparse.Namespace) -> int:
    """``chainrule train --model char-lstm`` with bad input reported as one line."""
    return common.report("train", _charlm.train, args)
