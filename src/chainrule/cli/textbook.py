"""``chainrule`` (or ``chainrule demo``): the textbook function f(x, y) = x²y + y + 2
differentiated at (3, 4) by every method the library has, side by side."""

from __future__ import annotations

import argparse
from typing import Any

from . import common

__all__ = ["NAME", "demo", "register", "run"]

NAME = "demo"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` command (also what a bare ``chainrule`` runs)."""
    return common.add_parser(subparsers, NAME,
                             help="the textbook function differentiated every way (default)")


def run(args: argparse.Namespace | None = None) -> int:
    """Print the gradient of the textbook function by each method."""
    return demo()


def _textbook(x, y):
    return x * x * y + y + 2


def demo() -> int:
    """Print the gradient of the textbook function by each method."""
    import chainrule as cr

    from ..diff import dual, numeric

    exact = (24.0, 10.0)
    rows: list[tuple[str, list[float], str]] = []

    counted = numeric.CountingFunction(_textbook)
    rows.append(("finite differences (forward)", numeric.gradients(counted, [3.0, 4.0]),
                 f"{counted.calls} evaluations"))
    rows.append(("forward mode, dual numbers", [float(p) for p in
                                                dual.partials(_textbook, 3.0, 4.0)],
                 "2 passes (one per input)"))
    out, tx = cr.jvp(_textbook, (3.0, 4.0), (1.0, 0.0))
    _, ty = cr.jvp(_textbook, (3.0, 4.0), (0.0, 1.0))
    rows.append(("forward mode, tensor jvp", [tx.item(), ty.item()], "2 passes"))
    gs = cr.grad(_textbook, (0, 1))(3.0, 4.0)
    rows.append(("reverse mode, tensor grad", [g.item() for g in gs], "1 forward + 1 backward"))
    x, y = cr.Variable(3.0), cr.Variable(4.0)
    with cr.GradientTape() as tape:
        z = _textbook(x, y)
    rows.append(("reverse mode, GradientTape", [g.item() for g in tape.gradient(z, [x, y])],
                 "1 forward + 1 backward"))

    print(f"f(x, y) = x*x*y + y + 2 at x=3, y=4: f = {out.item():g}; exact gradient "
          f"[{exact[0]:g}, {exact[1]:g}]\n")
    print(f"{'method':32} {'df/dx':>20} {'df/dy':>20} {'max error':>10}  cost")
    for name, g, cost in rows:
        err = max(abs(a - b) for a, b in zip(g, exact))
        print(f"{name:32} {g[0]!r:>20} {g[1]!r:>20} {err:>10.2e}  {cost}")
    v = [[h.item() for h in row] for row in cr.hessian(lambda v: _textbook(v[0], v[1]))(
        [3.0, 4.0])]
    print(f"\nHessian (forward-over-reverse): {v}")
    return 0
