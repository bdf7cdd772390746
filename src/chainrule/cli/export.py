"""``chainrule export CHECKPOINT --onnx model.onnx``: a trained model as an ONNX file.

    chainrule export runs/mlp-mnist/model.npz --onnx mnist.onnx
    chainrule export runs/gpt/model.npz --onnx gpt.onnx --input-shape 64

The model is rebuilt from the checkpoint (its architecture and weights) and written by
``chainrule.onnx.export`` in eval mode, with a dynamic batch axis unless
``--static-batch``. The example input's per-example shape comes from the checkpoint
(``input_shape`` of classifiers and autoencoders, ``context`` token ids of a language
model) or from ``--input-shape``; needs ``pip install "chainrule[onnx]"``. When
onnxruntime is installed the file is run on the example and compared with the model
(exit 1 beyond rtol 1e-4, atol 1e-5).
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

import numpy as np

from ..errors import ExportError, UsageError
from . import common

__all__ = ["NAME", "example_input", "register", "run"]

NAME = "export"


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="write a checkpoint's model as an ONNX file",
                          description="Rebuild the model of a checkpoint (written by "
                                      "`chainrule train` or save_model) and export it to "
                                      "ONNX, in eval mode, with a dynamic batch axis.")
    p.add_argument("checkpoint", help="model.npz with an architecture (chainrule train's)")
    p.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")
    p.add_argument("--input-shape", default=None, metavar="D1,D2,...",
                   help="one example's shape, without the batch axis (default: from the "
                        "checkpoint's input_shape, or a language model's context)")
    p.add_argument("--input-dtype", choices=("float32", "int64"), default=None,
                   help="the input's dtype (default int64 token ids for language models, "
                        "else float32)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    p.add_argument("--static-batch", action="store_true",
                   help="fix the batch axis to 1 instead of a dynamic 'batch' axis")
    return p


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise UsageError(f"--input-shape must be positive integers like 28,28, got {text!r}")
    return dims


def example_input(model: Any, shape: str | None = None, dtype: str | None = None
                  ) -> np.ndarray:
    """One example batch (size 1) for ``model``: the shape and dtype from the arguments,
    else from the architecture ``create_model`` recorded on it."""
    from ..io import ARCHITECTURE_ATTRIBUTE
    from ..models.registry import REGISTRY

    spec = getattr(model, ARCHITECTURE_ATTRIBUTE, None) or {}
    entry = REGISTRY.get(spec.get("name", ""))
    args: dict[str, Any] = dict(spec.get("arguments", {}))
    if entry is not None:  # the builder's defaults too (input_shape=(28, 28), ...)
        try:
            bound = inspect.signature(entry.builder).bind_partial(**args)
            bound.apply_defaults()
            args = dict(bound.arguments)
        except TypeError:
            pass
    language = entry is not None and entry.kind == "language-model"
    if shape is not None:
        dims = _shape(shape)
    elif language and isinstance(args.get("context"), int):
        dims = (int(args["context"]),)
    elif args.get("input_shape") is not None:
        value = args["input_shape"]
        dims = (int(value),) if isinstance(value, (int, np.integer)) else tuple(
            int(d) for d in value)
    else:
        raise UsageError(f"cannot tell the input shape of {spec.get('name', 'this model')!r} "
                         f"from the checkpoint; give --input-shape (one example, without the "
                         f"batch axis)")
    dtype = dtype or ("int64" if language else "float32")
    if dtype == "int64":
        return np.zeros((1, *dims), np.int64)
    return np.random.default_rng(0).random((1, *dims), dtype=np.float32)


def run(args: argparse.Namespace) -> int:
    from .. import onnx as cr_onnx
    from ..models.registry import load_model

    model = load_model(args.checkpoint)
    x = example_input(model, args.input_shape, args.input_dtype)
    try:
        proto = cr_onnx.export(model, x, args.onnx, dynamic_batch=not args.static_batch,
                               opset=args.opset)
    except (ExportError, ImportError) as exc:
        return common.fail(NAME, common.one_line(exc), status=1)
    batch = "1" if args.static_batch else "batch"
    print(f"wrote {args.onnx}: {len(proto.graph.node)} ONNX nodes, opset "
          f"{proto.opset_import[0].version}, input ({batch}, "
          f"{', '.join(str(d) for d in x.shape[1:])}) {x.dtype}")
    return _verify(model, x, args.onnx)


def _verify(model: Any, x: np.ndarray, path: str) -> int:
    """Run the file in onnxruntime (when installed) on the example and compare."""
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed: the file was not run (pip install "
              "onnxruntime)")
        return 0
    from ..nn.module import evaluating

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})
    with evaluating(model):
        want = model(x)
    want = want if isinstance(want, (tuple, list)) else (want,)
    diff = max(float(np.max(np.abs(g - w.data), initial=0.0)) for g, w in zip(got, want))
    ok = all(np.allclose(g, w.data, rtol=1e-4, atol=1e-5) for g, w in zip(got, want))
    if not ok:
        return common.fail(NAME, f"onnxruntime's outputs differ from chainrule's by up to "
                                 f"{diff:.3g} (beyond rtol 1e-4, atol 1e-5)", status=1)
    print(f"checked in onnxruntime: outputs equal chainrule's (max |difference| {diff:.1e})")
    return 0
