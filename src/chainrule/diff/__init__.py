"""Textbook differentiation engines, independent of the Tensor engine.

* :mod:`chainrule.diff.numeric` -- finite differences (gradient, Jacobian, Hessian, and the
  ``n + 1``-evaluation forward differences of *Hands-On ML* appendix D).
* :mod:`chainrule.diff.dual` -- forward mode with dual numbers ``a + b*ε``.
* :mod:`chainrule.diff.symbolic` -- expression graphs: evaluate, derive (forward mode),
  gradient (reverse mode), simplify, print, LaTeX, compile, parse.

The submodules share function names (``derivative`` in numeric and dual; ``exp``, ``log``...
in dual and symbolic), so only unambiguous names are re-exported here. All engines raise
:class:`DiffError` (a :class:`ValueError`) on bad input.
"""

from chainrule.diff import dual, numeric, symbolic
from chainrule.diff.dual import Dual
from chainrule.diff.errors import DiffError
from chainrule.diff.numeric import (
    CountingFunction,
    gradients,
    numeric_gradient,
    numeric_hessian,
    numeric_jacobian,
)
from chainrule.diff.symbolic import Const, Expr, Var, hessian, parse

__all__ = [
    "Const",
    "CountingFunction",
    "DiffError",
    "Dual",
    "Expr",
    "Var",
    "dual",
    "gradients",
    "hessian",
    "numeric",
    "numeric_gradient",
    "numeric_hessian",
    "numeric_jacobian",
    "parse",
    "symbolic",
]
