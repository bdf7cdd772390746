"""Graphs: trace a function once into a ``Graph`` of primitives, optimize it, run it fast.

* ``trace(fn, *example_args) -> Graph`` (``trace.py``: the tracer, ``Graph``, ``Node``,
  ``Var`` — the data structure is described there);
* ``compile(fn)`` / ``@compile`` (``compile.py``): one graph per signature, cached;
  ``compile_step(loss_fn, params, optimizer)`` (``step.py``): a compiled training step;
* ``passes.py``: dead-code elimination, constant folding, common subexpressions, the
  memory plan and elementwise fusion; ``run.py``: the generated executor.

See docs/graphs.md.
"""

from .compile import Compiled, RetraceWarning, compile, signature
from .step import CompiledStep, compile_step
from .trace import Graph, Node, TraceError, Var, trace

__all__ = ["Compiled", "CompiledStep", "Graph", "Node", "RetraceWarning", "TraceError", "Var",
           "compile", "compile_step", "signature", "trace"]
