"""The ``chainrule`` command: the parser, and dispatch to one module per subcommand.

Each module in :data:`COMMANDS` has ``NAME``, ``register(subparsers)`` (adds its parser) and
``run(args) -> int`` (the exit status). ``run`` raises :class:`~chainrule.errors.UsageError`
(or another of :data:`.common.USER_ERRORS`) for bad input; :func:`main` prints it as one line
``chainrule <command>: error: ...`` and returns 2. With no command, ``chainrule`` runs the
demo.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import (  # save_model, serve: issue 19
    classic,
    common,
    descent,
    diff,
    export,
    generate,
    play,
    playground,
    save_model,
    serve,
    textbook,
    train,
)

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands, in the order ``chainrule --help`` lists them.
COMMANDS = (textbook, diff, train, classic, descent, generate, export)  # export: issue 16
COMMANDS += (play,)  # issue 17
COMMANDS += (save_model, serve)  # issue 19
COMMANDS += (playground,)  # issue 21


def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` parser with every subcommand of :data:`COMMANDS` registered."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Deep learning from first principles on NumPy. With no command, "
                    "differentiate the textbook function by every method.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chainrule`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    name = args.command or textbook.NAME
    command = next(c for c in COMMANDS if c.NAME == name)
    return common.report(name, _with_threads(command.run), args)


def _version() -> str:
    from .. import __version__

    return __version__


def _with_threads(run: common.Runner) -> common.Runner:
    """``run`` after ``--threads N`` (where the command has it) set NumPy's BLAS threads."""

    def run_with_threads(args: argparse.Namespace) -> int:
        threads = getattr(args, "threads", None)
        if threads is not None:
            common.check_positive_int("--threads", threads)
            from .. import set_num_threads
            from .._threads import ThreadControlError

            try:
                set_num_threads(threads)
            except ThreadControlError as exc:
                raise common.UsageError(str(exc)) from None
        return run(args)

    return run_with_threads


if __name__ == "__main__":
    sys.exit(main())
