"""``chainrule train --distributed``: the pieces ``cli/train.py`` needs (issue 18).

Launched as ``mpirun -n 4 chainrule train --model cnn --dataset mnist --distributed``,
every rank parses the same arguments and runs the same command; this module makes the
difference:

* :func:`add_arguments` adds ``--distributed`` (``--batch-size`` is then per rank);
* :func:`trainer_class` gives :class:`~chainrule.distributed.DistributedTrainer` for it
  (gradients averaged over the ranks, the data sharded, the logs averaged, writers on
  the primary only) and the plain ``Trainer`` otherwise;
* :func:`shared_run_dir` picks the run folder on the primary rank and tells the others
  (a numbered default folder chosen on each rank separately could differ);
* :func:`writes` says whether this rank writes the run's files, plots and messages;
* :func:`check_args` refuses what it cannot run (one line, exit 2, on every rank): the
  models other than the classifiers, and ``--minutes`` (the ranks' clocks could stop them
  at different steps; ``--steps`` stops them together); it records the number of ranks
  in the run's arguments, so that ``--resume`` refuses another number (the global batch
  would change);
* :func:`callbacks` drops the session's file writers on the other ranks;
* :func:`run_session` runs the session on the primary rank (run folder, args.json,
  messages) and only the training on the others, after the primary has prepared the
  folder; a rank whose run ends with a non-zero status aborts the others
  (``MPI_Abort``) instead of leaving them waiting in the next collective.

Without ``--distributed`` all of this is the single-process behaviour.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..distributed import DistributedTrainer, abort, broadcast_object, init, is_primary, size
from ..errors import TrainingDiverged, UsageError
from ..train import Trainer
from . import _session

__all__ = ["add_arguments", "batch_text", "callbacks", "check_args", "run_session",
           "shared_run_dir", "trainer_class", "writes"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--distributed`` to ``chainrule train``'s parser."""
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: launch with mpirun -n N "
                        "(needs pip install \"chainrule[mpi]\"); --batch-size is per rank")
    p.add_argument("--overlap", action="store_true",
                   help="with --distributed: all-reduce the gradients in buckets while the "
                        "backward pass runs (the same numbers as one all-reduce per step)")


def trainer_class(args: argparse.Namespace, default: type[Trainer] = Trainer) -> type[Trainer]:
    """``DistributedTrainer`` with ``--distributed``, else ``default`` (``Trainer``)."""
    if getattr(args, "distributed", False):
        init()
        if getattr(args, "overlap", False):
            return functools.partial(DistributedTrainer, overlap=True)  # type: ignore[return-value]
        return DistributedTrainer
    return default


def writes(args: argparse.Namespace) -> bool:
    """True on the rank that writes files and prints: always without ``--distributed``."""
    return not getattr(args, "distributed", False) or is_primary()


def shared_run_dir(args: argparse.Namespace, make: Callable[[], Any]) -> Path:
    """``make()`` (e.g. ``lambda: _runs.new_run_dir(args, OUTPUTS)``) on the primary rank,
    its answer on every rank. A UsageError raised by ``make`` on the primary stops every
    rank with the same message."""
    if not getattr(args, "distributed", False):
        return make()
    init()
    answer: tuple[str, Any] = ("", None)
    if is_primary():
        try:
            answer = ("ok", str(make()))
        except Exception as err:  # re-raised on every rank below
            answer = ("error", err)
    kind, value = broadcast_object(answer)
    if kind == "error":
        raise value
    return Path(value)


def _on(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "distributed", False))


def check_args(args: argparse.Namespace, models: Any) -> None:
    """UsageError (one line) for what ``--distributed`` cannot run: a model not in
    ``models`` (the classifiers), ``--minutes``, or a resumed run of another number of
    ranks. Records the number of ranks in ``args.ranks`` (saved in args.json)."""
    if not _on(args):
        if getattr(args, "overlap", False):
            raise UsageError("--overlap is for --distributed runs (mpirun -n N chainrule "
                             "train ... --distributed --overlap)")
        return
    if args.model not in models:
        raise UsageError(f"--distributed trains the classifiers ({', '.join(sorted(models))}), "
                         f"not {args.model!r}")
    if getattr(args, "minutes", None) is not None:
        raise UsageError("--minutes cannot bound a --distributed run (each rank's clock "
                         "could stop it at another step); use --steps")
    init()
    saved = getattr(args, "ranks", None)
    if saved is not None and saved != size():
        raise UsageError(f"this run trained on {saved} ranks; resume it with mpirun -n "
                         f"{saved} (on {size()} the global batch would change)")
    args.ranks = size()


def batch_text(args: argparse.Namespace) -> str:
    """``16``, or with ``--distributed`` on 2 ranks ``16 per rank x 2 ranks (32 in all)``."""
    if not _on(args) or size() == 1:
        return str(args.batch_size)
    return f"{args.batch_size} per rank x {size()} ranks ({args.batch_size * size()} in all)"


def callbacks(args: argparse.Namespace, cbs: list[Any]) -> list[Any]:
    """``cbs`` without the session's history file on the ranks that do not write (the
    trainer itself keeps checkpoints, logs and pictures on the primary rank)."""
    if writes(args):
        return cbs
    return [cb for cb in cbs if not isinstance(cb, _session.HistoryFile)]


def run_session(args: argparse.Namespace, out: Path, resumed: bool, body: Callable[[], int],
                outputs: Any = ()) -> int:
    """:func:`._session.run_session` on the primary rank; on the others, ``body()`` once
    the primary has prepared ``out`` (or its error, raised on every rank). A non-zero
    status of any rank, once training started, aborts all ranks with that status."""
    if not _on(args) or size() == 1:
        return _session.run_session(args, out, resumed, body, outputs)
    started, diverged = [], []

    def go() -> int:
        started.append(True)
        broadcast_object(("ok", None))
        try:
            return body()
        except TrainingDiverged:  # every rank diverges at the same step (averaged logs)
            diverged.append(True)
            raise

    if is_primary():
        try:
            status = _session.run_session(args, out, resumed, go, outputs)
        except BaseException as err:
            if not started:  # the others wait for the go: send them the error instead
                broadcast_object(("error", err if isinstance(err, UsageError)
                                  else UsageError(f"the primary rank stopped: {err!r}")))
                raise
            status = _fail(err)
        if not started:  # the session ended before training: tell the others
            broadcast_object(("error", UsageError(f"the primary rank stopped ({status})")))
    else:
        kind, err = broadcast_object(None)
        if kind == "error":
            raise err
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                status = body()
        except TrainingDiverged:
            status = 1  # the same step on every rank: the primary says it
            diverged.append(True)
        except BaseException as err:
            status = _fail(err)
    if status != 0 and not diverged:  # the others may be waiting in a collective
        sys.stdout.flush()
        sys.stderr.flush()
        abort(status)
    return status


def _fail(err: BaseException) -> int:
    """The status of a rank's run that raised ``err`` (printed unless an interrupt)."""
    if isinstance(err, KeyboardInterrupt):
        return 128 + int(getattr(err, "signum", signal.SIGINT))
    traceback.print_exception(err)
    return 1
