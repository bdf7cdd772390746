"""``chainrule descent``: gradient-descent paths on a loss surface, drawn to a PNG.

    chainrule descent                                   # the book's batch/SGD/mini-batch
    chainrule descent --surface rosenbrock --optimizers sgd,momentum,adam --gif
    chainrule descent --surface beale --steps 500 --lr 0.01 --out beale.png

``--surface regression`` (the default) without ``--optimizers`` compares batch,
stochastic and mini-batch gradient descent on *Hands-On ML*'s linear regression (see
:mod:`chainrule.linear`); any other surface, or ``--optimizers``, compares chainrule.optim
optimizers (see :mod:`chainrule.viz.descent`). Bad input prints one line and exits 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from . import common

__all__ = ["NAME", "add_descent_parser", "register", "run", "run_descent"]

NAME = "descent"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``descent`` command to ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = common.add_parser(
        subparsers, NAME, help="draw gradient-descent paths on a loss surface (PNG, optional GIF)",
        description="Draw gradient-descent paths over the contours of a loss surface, with "
                    "the loss against the step beside them. --surface regression without "
                    "--optimizers compares batch, stochastic and mini-batch gradient descent "
                    "(Hands-On ML, chapter 4); otherwise chainrule.optim optimizers are "
                    "compared.")
    p.add_argument("--surface", default="regression",
                   help="rosenbrock, beale, saddle, quadratic or regression (default)")
    p.add_argument("--optimizers", default=None, metavar="A,B,...",
                   help="comma-separated: sgd, momentum, nesterov, adagrad, rmsprop, adam, "
                        "adamw (default: all seven; for regression: batch/SGD/mini-batch)")
    p.add_argument("--steps", type=int, default=None,
                   help="optimizer steps (default: the surface's); for the batch/SGD/mini-batch "
                        "comparison, the batch GD epochs (default 1000)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate for every optimizer (default: tuned per surface and "
                        "optimizer); for the comparison, batch GD's eta (default 0.1)")
    p.add_argument("--start", default=None, metavar="X,Y", help="starting point")
    common.add_training_args(
        p, epochs=50, batch_size=20,
        epochs_help="comparison only: stochastic and mini-batch epochs (default 50)",
        batch_help="comparison only: mini-batch size (default 20, at most 100)")
    common.add_seed_arg(p, 42, "comparison only: the legacy NumPy seed (default 42, the book's)")
    p.add_argument("--layout", default="grid", help="grid (default) or overlay")
    common.add_out_arg(p, None, "figure to write (default descent-<surface>.png)",
                       metavar="FILE.png")
    p.add_argument("--gif", action="store_true", help="also write an animation FILE.gif")
    p.add_argument("--dpi", type=float, default=100, help="PNG resolution (default 100)")
    return p


def _names(text: str) -> list[str]:
    from ..viz.descent import OPTIMIZERS

    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--optimizers: give at least one name, e.g. sgd,momentum,adam")
    for n in names:
        if n not in OPTIMIZERS:
            raise UsageError(f"--optimizers: unknown optimizer {n!r}; choose from "
                         f"{', '.join(OPTIMIZERS)}")
    return names


def _point(text: str) -> tuple[float, float]:
    parts = [s.strip() for s in text.split(",")]
    try:
        x, y = (float(s) for s in parts)
    except ValueError:
        raise UsageError(f"--start: expected two numbers X,Y, got {text!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise UsageError(f"--start: expected finite numbers, got {text!r}")
    return x, y


def _check(args: argparse.Namespace) -> None:
    from ..viz.descent import surface_names

    if args.surface not in surface_names():
        raise UsageError(f"--surface: unknown surface {args.surface!r}; choose one of "
                     f"{', '.join(surface_names())}")
    if args.lr is not None and not (np.isfinite(args.lr) and args.lr >= 0):
        raise UsageError(f"--lr must be a finite number >= 0, got {args.lr}")
    if args.steps is not None and args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    if args.epochs < 0:
        raise UsageError(f"--epochs must be >= 0, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.layout not in ("grid", "overlay"):
        raise UsageError(f"--layout must be grid or overlay, got {args.layout!r}")
    if not (np.isfinite(args.dpi) and 10 <= args.dpi <= 600):
        raise UsageError(f"--dpi must be between 10 and 600, got {args.dpi}")
    if args.out is not None and Path(args.out).suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out!r}")


def run(args: argparse.Namespace) -> int:
    """Draw the paths; the exit status is 0, or 1 when the figure cannot be made (no
    matplotlib, an unwritable file); bad input raises UsageError."""
    _check(args)
    optimizers = _names(args.optimizers) if args.optimizers is not None else None
    start = _point(args.start) if args.start is not None else None
    out = Path(args.out or f"descent-{args.surface}.png")
    gif = out.with_suffix(".gif") if args.gif else None
    try:
        if args.surface == "regression" and optimizers is None:
            return _book(args, out, gif, start)
        return _optimizers(args, optimizers, start, out, gif)
    except UsageError:
        raise
    except ValueError as e:  # the library's own checks (batch size, learning rate, ...)
        raise UsageError(str(e)) from None
    except (ImportError, OSError, FloatingPointError) as e:
        return common.fail(NAME, str(e), status=1)


def _book(args: argparse.Namespace, out: Path, gif: Path | None,
          start: tuple[float, float] | None) -> int:
    from ..linear import batch_gd, book_data, minibatch_gd, normal_equation, stochastic_gd
    from ..viz.descent import plot_descent_paths

    X, y = book_data()
    m = X.shape[0]
    if args.batch_size > m:
        raise UsageError(f"--batch-size={args.batch_size} is larger than the data ({m} samples)")
    common = dict(rng=args.seed, theta0=start)
    results = {
        "batch": batch_gd(X, y, lr=0.1 if args.lr is None else args.lr,
                          epochs=1000 if args.steps is None else args.steps, **common),
        "stochastic": stochastic_gd(X, y, epochs=args.epochs, **common),
        "mini-batch": minibatch_gd(X, y, batch_size=args.batch_size, epochs=args.epochs,
                                   **common),
    }
    plot = plot_descent_paths(results, path=out, gif=gif, dpi=args.dpi)
    theta = normal_equation(X, y)
    print(f"linear regression on the book's data (m = {m}); normal equation "
          f"theta = [{theta[0]:.8f}, {theta[1]:.8f}]")
    print(f"{'method':<12} {'updates':>8}  {'theta':<28} {'MSE - min':>10}")
    f_min = float(np.mean((theta[0] + theta[1] * X[:, 0] - y[:, 0]) ** 2))
    for name, r in results.items():
        th = f"[{r.theta[0]:.8f}, {r.theta[1]:.8f}]"
        print(f"{name:<12} {r.steps:>8}  {th:<28} {r.losses[-1] - f_min:>10.2e}")
    for f in plot.files:
        print(f"wrote {f}")
    return 0


def _optimizers(args: argparse.Namespace, optimizers: list[str] | None,
                start: tuple[float, float] | None, out: Path, gif: Path | None) -> int:
    from ..viz.descent import compare_optimizers, get_surface, plot_optimizer_paths

    surf = get_surface(args.surface)
    walks = compare_optimizers(surf, optimizers, lr=args.lr, steps=args.steps, start=start)
    plot = plot_optimizer_paths(surf, walks=walks, layout=args.layout, path=out, gif=gif,
                                dpi=args.dpi)
    minima = ", ".join(f"({a:g}, {b:g})" for a, b in surf.minima)
    print(f"{surf.name}: f = {surf.formula}; minimum f* = {surf.f_min:g} at {minima}")
    print(f"{'optimizer':<22} {'steps':>6}  {'final point':<24} {'f - f*':>10}")
    for label, w in walks.items():
        end = f"({w.path[-1, 0]:.6f}, {w.path[-1, 1]:.6f})"
        note = "  diverged" if w.diverged else ""
        print(f"{label:<22} {len(w.path) - 1:>6}  {end:<24} {w.gap:>10.2e}{note}")
    for f in plot.files:
        print(f"wrote {f}")
    return 0


# --------------------------------------------------------------------------- old entry points

add_descent_parser = register


def run_descent(args: argparse.Namespace) -> int:
    """:func:`run` with bad input reported as one line: exit code 0, 1 or 2."""
    return common.report(NAME, run, args)
