"""ONNX export: ``chainrule.onnx.export(model_or_fn, example_inputs, path)``.

A model (or a function) is traced once with ``chainrule.trace`` in eval mode; every
recorded primitive goes through its entry in the one table ``table.OPS`` (the longer
entries in ``indexing.py`` and ``kernels.py``; ``build.py`` is the graph under
construction, ``convert.py`` the steps: trace, batch axis, map, check, write). Needs the
``onnx`` extra: ``pip install "chainrule[onnx]"`` (onnx, and onnxruntime to run the
files). See docs/graphs.md.
"""

from .convert import DEFAULT_OPSET, export, require_onnx
from .table import OPS

__all__ = ["DEFAULT_OPSET", "OPS", "export", "require_onnx"]
