"""What every subcommand shares: the one-line error style, the shared arguments and checks.

Errors: a subcommand's ``run`` raises :class:`~chainrule.errors.UsageError` (or one of the
library's bad-input errors in :data:`USER_ERRORS`); :func:`report` prints it as one line
``chainrule <command>: error: <message>`` on stderr and returns exit status 2. Parsers made by
:func:`add_parser` report argparse's own errors (``--epochs many``) the same way.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..errors import CheckpointError, DataError, DiffError, ShapeError, UsageError
from ._streams import pipe_safe_output

__all__ = ["CLI_OPTIMIZERS", "USER_ERRORS", "UsageError", "add_data_args", "add_optimizer_args",
           "add_out_arg", "add_parser", "add_seed_arg", "add_training_args", "check_choice",
           "check_fraction", "check_hyperparameters", "check_optimizer", "check_positive_int",
           "check_positive_number", "fail", "learning_rate", "make_optimizer", "one_line",
           "out_dir", "report", "require"]
__all__ += ["add_threads_arg"]  # issue 14: --threads

PROG = "chainrule"
#: Exceptions that mean the user's input was bad: one line and exit status 2, no traceback.
USER_ERRORS = (UsageError, DataError, DiffError, ShapeError, CheckpointError)
#: The optimizers ``--optimizer`` offers (entries of :data:`chainrule.optim.OPTIMIZERS`).
CLI_OPTIMIZERS = ("sgd", "adam")

Runner = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- errors


def one_line(exc: BaseException | str) -> str:
    """The message of ``exc`` with its whitespace (newlines included) collapsed."""
    return " ".join(str(exc).split())


def fail(command: str, message: str, status: int = 2) -> int:
    """Print ``chainrule <command>: error: <message>`` on stderr; return ``status``."""
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return status


def report(command: str, run: Runner, args: argparse.Namespace) -> int:
    """``run(args)``, with bad input (:data:`USER_ERRORS`) reported as one line (status 2)
    and Ctrl-C as ``interrupted`` (status 130). A closed output pipe (``| head``) silences
    the output instead of ending the command (:func:`._streams.pipe_safe_output`)."""
    with pipe_safe_output():
        try:
            return run(args)
        except USER_ERRORS as exc:
            message = str(exc)
            return fail(command, one_line(message) if "\n" in message else message)
        except KeyboardInterrupt:
            print(f"{PROG} {command}: interrupted", file=sys.stderr)
            return 130


def require(ok: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``ok``."""
    if not ok:
        raise UsageError(message)


def add_parser(subparsers: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """``subparsers.add_parser(name, **kwargs)`` whose argparse errors are one line, status 2."""
    p = subparsers.add_parser(name, **kwargs)

    def one_line_error(message: str) -> NoReturn:
        print(f"{p.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    p.error = one_line_error  # type: ignore[method-assign]
    return p


# --------------------------------------------------------------------------- arguments


def add_data_args(p: argparse.ArgumentParser, *, download: bool = True,
                  help: str = "folder with the MNIST/Fashion-MNIST files "
                              "(default $CHAINRULE_DATA)") -> None:
    """``--data-dir`` (default ``None``: ``$CHAINRULE_DATA`` or the user cache) and, with
    ``download``, ``--download``."""
    p.add_argument("--data-dir", default=None, help=help)
    if download:
        p.add_argument("--download", action="store_true",
                       help="download missing MNIST/Fashion-MNIST files")


def add_optimizer_args(p: argparse.ArgumentParser, lr_help: str = "") -> None:
    """``--optimizer`` (adam), ``--lr`` (None: the optimizer's default), ``--momentum`` (0.9);
    ``lr_help`` is added to the help of ``--lr``."""
    p.add_argument("--optimizer", default="adam", help="sgd or adam (default adam)")
    p.add_argument("--lr", type=float, default=None,
                   help=f"learning rate (default 1e-3 for adam, 0.05 for sgd{lr_help})")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")


def add_training_args(p: argparse.ArgumentParser, epochs: int = 20, batch_size: int = 32,
                      epochs_help: str | None = None, batch_help: str | None = None) -> None:
    """``--epochs`` and ``--batch-size``."""
    p.add_argument("--epochs", type=int, default=epochs,
                   help=epochs_help or f"passes over the data (default {epochs})")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=batch_help or f"samples per batch (default {batch_size})")
    add_threads_arg(p)


def add_threads_arg(p: argparse.ArgumentParser) -> None:
    """``--threads N``: NumPy's BLAS threads (applied by ``cli.main``; default: chainrule's
    policy, see ``chainrule.set_num_threads``)."""
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for NumPy's BLAS (default 1, or $CHAINRULE_NUM_THREADS; "
                        "see docs/guide.md)")


def add_seed_arg(p: argparse.ArgumentParser, default: int = 0, help: str | None = None) -> None:
    """``--seed``."""
    p.add_argument("--seed", type=int, default=default,
                   help=help or f"random seed of the run (default {default})")


def add_out_arg(p: argparse.ArgumentParser, default: str | None, help: str,
                metavar: str | None = None) -> None:
    """``--out`` (a folder or a file, as ``help`` says)."""
    p.add_argument("--out", default=default, help=help, metavar=metavar)


# --------------------------------------------------------------------------- checks


def check_positive_int(flag: str, value: int) -> None:
    require(value > 0, f"{flag} must be a positive integer, got {value}")


def check_positive_number(flag: str, value: float | None) -> None:
    """``None`` (not given) passes; otherwise a finite number > 0."""
    require(value is None or (math.isfinite(value) and value > 0),
            f"{flag} must be a positive number, got {value}")


def check_fraction(flag: str, value: float) -> None:
    require(0 <= value < 1, f"{flag} must be in [0, 1), got {value}")


def check_choice(what: str, value: str, known: Sequence[str]) -> None:
    require(value in known, f"unknown {what} {value!r}; known: {', '.join(known)}")


def check_hyperparameters(args: argparse.Namespace) -> None:
    """Epochs, batch size, lr, momentum and (if present) validation fraction in range."""
    check_positive_int("--epochs", args.epochs)
    check_positive_int("--batch-size", args.batch_size)
    check_positive_number("--lr", args.lr)
    check_fraction("--momentum", args.momentum)
    if hasattr(args, "val_fraction"):
        check_fraction("--val-fraction", args.val_fraction)


def check_optimizer(args: argparse.Namespace) -> None:
    check_choice("optimizer", args.optimizer, CLI_OPTIMIZERS)


def learning_rate(args: argparse.Namespace, default: float | None = None) -> float:
    """``--lr``, else ``default``, else the registry's starting rate for ``--optimizer``
    (0.05 for sgd, 1e-3 for adam)."""
    from ..optim import OPTIMIZERS

    if args.lr is not None:
        return args.lr
    return OPTIMIZERS[args.optimizer].default_lr if default is None else default


def make_optimizer(args: argparse.Namespace, params: Any, default_lr: float | None = None) -> Any:
    """``--optimizer`` over ``params`` from :func:`chainrule.optim.create_optimizer`, with
    :func:`learning_rate`; ``--momentum`` goes to SGD only."""
    from ..optim import create_optimizer

    extra = {"momentum": args.momentum} if args.optimizer == "sgd" else {}
    return create_optimizer(args.optimizer, params, learning_rate(args, default_lr), **extra)


def out_dir(path: str | Path) -> Path:
    """Create the output folder ``path``; a folder that cannot be made is a UsageError."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    return out
