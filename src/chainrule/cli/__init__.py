"""The ``chainrule`` command: one module per subcommand, dispatched by :mod:`.main`.

``chainrule`` with no arguments differentiates the textbook function f(x, y) = x²y + y + 2
at (3, 4) by every method the library has, side by side (see :mod:`.textbook`).
"""

from .main import main
from .textbook import demo

__all__ = ["demo", "main"]
