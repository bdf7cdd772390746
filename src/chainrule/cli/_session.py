"""One ``chainrule train`` run from start to end, whatever the model: the run folder
(:mod:`._runs`), the checkpoint callback, the step/time budget, the history file, and what
happens when training is interrupted (exit 130 for Ctrl-C, 143 for SIGTERM, with
``resume with: ...``) or diverges (exit 1, the last finite checkpoint kept).
"""

from __future__ import annotations

import argparse
import csv
import io as _io
import math
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrainingDiverged
from ..train import Budget, Callback, Checkpoint, read_training_checkpoint
from . import _runs, common

__all__ = ["HistoryFile", "LossExploded", "LossExplosion", "add_session_args", "budget",
           "callbacks", "check_session_args", "checkpoint_callback", "epochs_text", "resume_path",
           "run_session", "say", "write_history"]

NAME = "train"
#: Within an epoch, a checkpoint is also written this often (minutes) unless told otherwise.
DEFAULT_CHECKPOINT_MINUTES = 5.0
#: A finite step loss this many times the first step's is a divergence (:class:`LossExplosion`).
EXPLOSION_FACTOR = 1e4


def add_session_args(p: argparse.ArgumentParser, *, minutes_help: str) -> None:
    """``--steps``, ``--minutes``, ``--checkpoint-steps``, ``--checkpoint-minutes``,
    ``--resume``, ``--overwrite``."""
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many optimizer steps (with --epochs: whichever "
                        "comes first; a resumed run counts the steps done before)")
    p.add_argument("--minutes", type=float, default=None, help=minutes_help)
    p.add_argument("--checkpoint-steps", type=int, default=None, metavar="N",
                   help="also write checkpoint.npz every N steps within an epoch")
    p.add_argument("--checkpoint-minutes", type=float, default=None, metavar="M",
                   help="also write checkpoint.npz every M minutes within an epoch "
                        f"(default {DEFAULT_CHECKPOINT_MINUTES:g}; it is written at the end "
                        "of every epoch and on Ctrl-C anyway)")
    _runs.add_run_args(p)


def check_session_args(args: argparse.Namespace) -> None:
    """The budget and checkpoint flags in range (UsageError, one line)."""
    for flag in ("steps", "checkpoint_steps"):
        value = getattr(args, flag, None)
        if value is not None:
            common.check_positive_int("--" + flag.replace("_", "-"), value)
    for flag in ("minutes", "checkpoint_minutes"):
        common.check_positive_number("--" + flag.replace("_", "-"), getattr(args, flag, None))


def budget(args: argparse.Namespace) -> list[Callback]:
    """A :class:`~chainrule.train.Budget` for ``--steps``/``--minutes``, as a list of zero or
    one callbacks. They count the whole run: a resumed run adds to what was done before."""
    if args.steps is None and args.minutes is None:
        return []
    return [Budget(steps=args.steps, minutes=args.minutes)]


def epochs_text(args: argparse.Namespace) -> str:
    """``20 epochs``, with the budget if any: ``20 epochs or 500 steps or 5 min``."""
    parts = [f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}"]
    if args.steps is not None:
        parts.append(f"{args.steps} steps")
    if args.minutes is not None:
        parts.append(f"{args.minutes:g} min")
    return " or ".join(parts)


def checkpoint_callback(args: argparse.Namespace, out: Path) -> Callback:
    """The :class:`~chainrule.train.Checkpoint` callback writing ``out``/checkpoint.npz."""
    minutes = args.checkpoint_minutes
    if minutes is None and args.checkpoint_steps is None:
        minutes = DEFAULT_CHECKPOINT_MINUTES
    return Checkpoint(out, every_steps=args.checkpoint_steps, every_minutes=minutes)


class LossExploded(TrainingDiverged):
    """The loss grew finite but huge (see :class:`LossExplosion`)."""


class LossExplosion(Callback):
    """Raise :class:`~chainrule.errors.TrainingDiverged` as soon as a step's ``loss`` is
    finite but more than ``factor`` times the first step's (at least ``factor`` × 0.01):
    the blow-up of Adam with ``--lr 1e10``, which never reaches NaN. (NaN and infinity are
    :class:`~chainrule.train.TerminateOnNaN`'s.) Raised before the Checkpoint callback
    sees the step, so the checkpoint keeps the last state from before the blow-up."""

    def __init__(self, factor: float = EXPLOSION_FACTOR) -> None:
        self.factor = factor
        self.reference: float | None = None

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        trainer = self.trainer
        value = None if trainer is None else trainer.step_logs.get("loss")
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.reference is None:
            self.reference = abs(value)
            return
        limit = self.factor * max(self.reference, 0.01)
        if abs(value) > limit:
            raise LossExploded(
                f"training diverged: the loss is {value:.4g} at epoch {trainer.epoch + 1}, "
                f"batch {batch + 1} (step {trainer.global_step}), over {self.factor:g} times "
                f"the first step's {self.reference:.4g}", epoch=trainer.epoch, batch=batch,
                step=trainer.global_step, value=value)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.reference is None else {"reference": self.reference}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reference = state.get("reference")


def callbacks(args: argparse.Namespace, out: Path, history: bool = True) -> list[Callback]:
    """What every ``chainrule train`` loop gets: the history file (with ``history``), the
    ``--steps``/``--minutes`` budget (idem), the divergence check and the checkpoint."""
    extra = [HistoryFile(out / "history.csv"), *budget(args)] if history else []
    return [*extra, LossExplosion(), checkpoint_callback(args, out)]


def resume_path(out: Path, resumed: bool) -> Path | None:
    """What ``fit(resume_from=...)`` gets: the checkpoint of a resumed run, else None."""
    return out / _runs.CHECKPOINT_FILE if resumed else None


class HistoryFile(Callback):
    """Rewrite ``path`` (atomically) from the trainer's whole History after every epoch:
    ``epoch`` (1-based) and one column per logged value. A resumed run's History holds
    the epochs before the interruption, so the file never has gaps or repeated rows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.trainer is not None:
            history = self.trainer.history
            write_history(self.path, {"epoch": [e + 1 for e in history.epoch],
                                      **history.history})


def write_history(path: Path, columns: dict[str, list[Any]]) -> None:
    """Write equal-length ``columns`` as a CSV file (floats at full precision)."""
    text = _io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(columns))
    for row in zip(*columns.values(), strict=True):
        writer.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])
    _runs.write_text_atomic(path, text.getvalue())


def say(message: str) -> None:
    """``chainrule train: message`` on stderr."""
    print(f"chainrule {NAME}: {message}", file=sys.stderr, flush=True)


def _where(out: Path) -> str:
    """Where the checkpoint in ``out`` continues: ``epoch 3, after batch 12 (step 94)``."""
    try:
        data = read_training_checkpoint(out)
    except (OSError, ValueError):
        return "its checkpoint"
    loop, step = data["training"]["loop"], data["training"]["trainer"].get("global_step")
    epoch, batch = int(loop["epoch"]), int(loop["batch"])
    at = f"epoch {epoch + 1}" + (f", after batch {batch}" if batch else "")
    return at + (f" (step {step})" if step is not None else "")


def run_session(args: argparse.Namespace, out: Path, resumed: bool,
                body: Callable[[], int], outputs: Iterable[str] = ()) -> int:
    """Prepare the run folder ``out`` (args.json for a new run), then ``body()`` (which
    trains and writes the outputs); return its exit status.

    SIGINT (Ctrl-C) or SIGTERM: the checkpoint is written, and the exit status is 128 +
    the signal's number (130 for Ctrl-C, 143 for SIGTERM) after a line telling how to
    resume; a run stopped before any checkpoint leaves nothing behind. Divergence (a
    non-finite loss): exit 1 with one line; the last finite checkpoint stays.
    """
    created = not out.exists()
    _runs.check_location(out, [*_runs.RUN_FILES, *outputs])
    if resumed:
        print(f"resuming {out} from {_where(out)}", flush=True)
    elif args.out is None and out != _runs.default_dir(args.model, args.dataset):
        print(f"{_runs.default_dir(args.model, args.dataset)} holds an earlier run; "
              f"this one writes to {out}", flush=True)
    _runs.prepare(out, args, fresh=not resumed)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return body()  # a blow-up is reported as one line (below), not as warnings
    except KeyboardInterrupt as exc:
        signum = int(getattr(exc, "signum", signal.SIGINT))
        name = "SIGTERM" if signum == getattr(signal, "SIGTERM", 15) else "Ctrl-C"
        if (out / _runs.CHECKPOINT_FILE).is_file():
            say(f"interrupted ({name}); checkpoint saved in {out}/ at {_where(out)}; "
                f"resume with: chainrule train --resume {out}")
        else:
            if not resumed:
                _runs.remove_started_run(out, created)
            say(f"interrupted ({name}) before the first checkpoint; nothing was saved")
        return 128 + signum
    except TrainingDiverged as exc:
        kept = (out / _runs.CHECKPOINT_FILE).is_file()
        if not kept and not resumed:
            _runs.remove_started_run(out, created)
        say(f"error: {_diverged(exc, args)}"
            + (f"; the last finite checkpoint is kept in {out}/ ({_where(out)})" if kept
               else "; nothing was saved"))
        return 1
    except OSError as exc:  # a file of the run could not be written (disk full, ...)
        kept = (out / _runs.CHECKPOINT_FILE).is_file()
        say(f"error: {common.one_line(exc)}"
            + (f"; the checkpoint in {out}/ is kept ({_where(out)})" if kept else ""))
        return 1
    except Exception:
        if not resumed and not (out / _runs.CHECKPOINT_FILE).is_file():
            _runs.remove_started_run(out, created)  # nothing misleading is left behind
        raise


def _diverged(exc: TrainingDiverged, args: argparse.Namespace) -> str:
    """What diverged where, and what to try, for the command line."""
    if isinstance(exc, LossExploded) or exc.epoch < 0:
        where = common.one_line(exc)
    else:
        where = (f"training diverged: {exc.key} is {exc.value} at epoch {exc.epoch + 1}, "
                 f"batch {exc.batch + 1} (step {exc.step})")
    lr = "" if args.lr is None else f" (now {args.lr:g})"
    return f"{where}; try a lower --lr{lr}, or check the data for NaN or infinite values"
