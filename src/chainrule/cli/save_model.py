"""``chainrule save-model CHECKPOINT OUT_DIR``: a training checkpoint as a model directory.

    chainrule save-model runs/mlp-mnist/model.npz models/mnist/1

The model is rebuilt from the checkpoint (its registered architecture and weights) and
written by :func:`chainrule.save_model` as a model directory (model.json + model.npz, no
pickle, atomic) that ``chainrule serve`` and :func:`chainrule.load_model` read; the
checkpoint's plain metadata (epoch, vocabulary, ...) goes with it, its optimizer state
does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import common

__all__ = ["NAME", "register", "run"]

NAME = "save-model"

# Checkpoint entries that are not metadata of the model.
_NOT_METADATA = ("model", "architecture", "optimizer")


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="write a checkpoint's model as a model "
                                                 "directory (for chainrule serve)",
                          description="Rebuild the model of a checkpoint (written by "
                                      "`chainrule train` or save_model) and write it as a "
                                      "model directory: model.json (architecture, input "
                                      "shape) + model.npz (weights), atomically.")
    p.add_argument("checkpoint", help="model.npz with an architecture (chainrule train's)")
    p.add_argument("out_dir", help="the model directory to write, e.g. models/mnist/1 "
                                   "(a numeric last part is the version chainrule serve "
                                   "reads)")
    return p


def run(args: argparse.Namespace) -> int:
    from ..io import read_checkpoint
    from ..models.registry import model_from_checkpoint, save_model

    out = Path(args.out_dir)
    if out.suffix:
        raise UsageError(f"OUT_DIR must be a directory name without a suffix, got {out}")
    checkpoint = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(checkpoint, args.checkpoint)
    metadata = {k: v for k, v in checkpoint.items() if k not in _NOT_METADATA}
    try:
        save_model(model, out, **metadata)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    name = checkpoint["architecture"]["name"]
    print(f"wrote {out}: {name} (model.json, model.npz)")
    return 0
