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
* :func:`writes` says whether this rank writes the run's files, plots and messages.

Without ``--distributed`` all of this is the single-process behaviour.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..distributed import DistributedTrainer, broadcast_object, init, is_primary
from ..train import Trainer

__all__ = ["add_arguments", "shared_run_dir", "trainer_class", "writes"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--distributed`` to ``chainrule train``'s parser."""
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: launch with mpirun -n N "
                        "(needs pip install \"chainrule[mpi]\"); --batch-size is per rank")


def trainer_class(args: argparse.Namespace) -> type[Trainer]:
    """``DistributedTrainer`` with ``--distributed``, else ``Trainer``."""
    if getattr(args, "distributed", False):
        init()
        return DistributedTrainer
    return Trainer


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
