"""Model directories: a model that loads without the training code (issue 19).

``chainrule.save_model(model, "models/mnist/1")`` (a path without a suffix, or an existing
directory) writes a *model directory*::

    models/mnist/1/
        model.json   # what it is: format, architecture (registered name + arguments),
                     # kind, one example's input shape and dtype, chainrule version
        model.npz    # the weights, in the ordinary checkpoint format (no pickle), with the
                     # architecture too (tuples kept as tuples)

``chainrule.load_model("models/mnist/1")`` rebuilds the model from the registry and loads
its weights, in eval mode. The directory is written next to its destination under a
hidden temporary name and renamed into place only when complete, so a reader (such as
``chainrule serve`` watching for new versions) never sees half a model; an existing model
directory at the destination is replaced only by a complete new one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .. import io
from ..errors import CheckpointError, DataFileNotFoundError

__all__ = ["DESCRIPTION", "FORMAT", "WEIGHTS", "input_spec", "is_model_dir",
           "read_description", "wants_directory", "write_model_dir"]

FORMAT = "chainrule-model"
FORMAT_VERSION = 1
DESCRIPTION = "model.json"
WEIGHTS = "model.npz"


def wants_directory(path: str | os.PathLike[str]) -> bool:
    """Whether ``save_model`` writes a directory at ``path``: it is one already, or its
    name has no suffix (``models/mnist/1``); ``runs/model.npz`` stays one file."""
    p = Path(path)
    return p.is_dir() or p.suffix == ""


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory holding a model description."""
    return (Path(path) / DESCRIPTION).is_file()


def _dims(value: Any) -> list[int]:
    if isinstance(value, (int,)) or hasattr(value, "__index__"):
        return [int(value)]
    return [int(d) for d in value]


def input_spec(kind: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """``{"shape": [...], "dtype": ...}`` of one example (no batch axis) for a model of the
    registered ``kind`` built with the keyword arguments ``args`` (defaults included), or
    None where it cannot be told (e.g. variable-length text)."""
    if kind == "language-model":
        context = args.get("context")
        return {"shape": [int(context)], "dtype": "int64"} if isinstance(context, int) else None
    if kind in ("generator", "gan"):
        if args.get("num_classes"):
            return None  # conditional: needs labels too
        return {"shape": [int(args["latent_size"])], "dtype": "float32"}
    for key in ("input_shape", "image_shape"):
        if args.get(key) is not None:
            return {"shape": _dims(args[key]), "dtype": "float32"}
    return None


def read_description(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``model.json`` of the model directory ``path``.

    Raises:
        DataFileNotFoundError: no such directory, or no model.json in it.
        CheckpointError: model.json is not valid or not a chainrule model description.
    """
    p = Path(path)
    if not p.is_dir():
        raise DataFileNotFoundError(f"{p}: no such model directory")
    if not (p / DESCRIPTION).is_file():
        raise DataFileNotFoundError(f"{p}: not a model directory (no {DESCRIPTION})")
    try:
        description = json.loads((p / DESCRIPTION).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{p / DESCRIPTION}: unreadable: {exc}") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise CheckpointError(f"{p / DESCRIPTION}: not a chainrule model description")
    if int(description.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{p / DESCRIPTION}: format version "
                              f"{description.get('format_version')} is newer than this "
                              f"chainrule reads ({FORMAT_VERSION}); upgrade chainrule")
    return description


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and NumPy scalars as Python numbers (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def write_model_dir(path: str | os.PathLike[str], model: Any, spec: dict[str, Any],
                    kind: str, arguments: dict[str, Any], **metadata: Any) -> Path:
    """Write ``model`` (architecture ``spec``: registered name and arguments; ``kind`` and
    the builder's full ``arguments``, defaults included, tell the input) as a model
    directory at ``path``, atomically; returns the path. Extra ``metadata`` (plain values)
    goes into model.npz and, where JSON can hold it, model.json.

    Raises:
        FileExistsError: ``path`` exists and is not a model directory (never clobbered).
    """
    from .. import __version__

    target = Path(path)
    if target.exists() and not (target.is_dir() and (is_model_dir(target)
                                                       or not any(target.iterdir()))):
        raise FileExistsError(f"save_model: {target} exists and is not a model directory; "
                              "choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = io.temp_path_for(target)
    try:
        temporary.mkdir()
        io.write_checkpoint(temporary / WEIGHTS, model, None, architecture=spec, **metadata)
        description = {"format": FORMAT, "format_version": FORMAT_VERSION,
                       "architecture": _plain(spec), "kind": kind,
                       "input": input_spec(kind, arguments), "weights": WEIGHTS,
                       "chainrule_version": __version__}
        if "quantization" in metadata:
            description["quantization"] = _plain(metadata["quantization"])
        try:
            description["metadata"] = json.loads(json.dumps(_plain(
                {k: v for k, v in metadata.items() if k != "quantization"})))
        except (TypeError, ValueError):
            description["metadata"] = {}
        with io.atomic_write(temporary / DESCRIPTION) as f:
            f.write(json.dumps(description, indent=2).encode("utf-8"))
        _swap_in(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def _swap_in(temporary: Path, target: Path) -> None:
    """Rename the complete directory ``temporary`` to ``target`` (replacing an old model
    directory: renamed aside first, removed after)."""
    if target.exists():
        old = io.temp_path_for(target)
        os.replace(target, old)
        try:
            os.replace(temporary, target)
        except BaseException:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temporary, target)
    io._fsync_directory(target.parent)  # the rename itself survives a crash
