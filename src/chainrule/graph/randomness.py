"""Random primitives: nodes that draw from ``chainrule.random`` every time a graph runs.

``random_primitive(name, forward)`` makes an (unregistered, non-differentiable) primitive
whose forward draws from the library's generator, e.g. dropout's mask. Eager mode calls it
like any primitive. In a graph it stays a node that draws anew at every run: the passes
never fold it or merge two of them, and the tracer does not count its draw as a random
number frozen into the graph (it restores the generator after the trace-time draw, so the
first run of a compiled function draws what an eager call would have drawn).
"""

from __future__ import annotations

from collections.abc import Callable

from ..autograd.primitive import Primitive

RANDOM: set[Primitive] = set()


def random_primitive(name: str, forward: Callable) -> Primitive:
    """A primitive whose ``forward`` draws random numbers (see the module docstring)."""
    p = Primitive(name, forward, None, None, differentiable=False)
    RANDOM.add(p)
    return p
