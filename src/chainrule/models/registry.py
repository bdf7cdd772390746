"""The model registry and the one checkpoint format.

Every ready-made model is registered under a name with the function (or class) that
builds it; :func:`create_model` builds one by name and remembers how, so
:func:`save_model` can write the architecture next to the weights and :func:`load_model`
can rebuild the model from the file alone::

    from chainrule import load_model, save_model
    from chainrule.models import create_model

    model = create_model("mlp", input_shape=(28, 28), num_classes=10, hidden=(128,))
    ...                                            # train it
    save_model(model, "runs/mlp.npz", optimizer=opt, epoch=5)
    same = load_model("runs/mlp.npz")              # an identical, ready model
    save_model(model, "models/mnist/1")            # a model directory (no suffix): for
    same = load_model("models/mnist/1")            # serving, see models.model_dir

A checkpoint is an ordinary :func:`chainrule.io.save` file (atomic, no pickle)::

    {"model": state_dict,                            # the weights (and buffers)
     "architecture": {"name": "mlp", "arguments": {"input_shape": (28, 28), ...}},
     "optimizer": optimizer.state_dict(),            # optional
     ...}                                            # metadata: epoch, config, vocab, ...

:func:`chainrule.train.save_checkpoint` and :class:`~chainrule.train.ModelCheckpoint`
write the same layout (with ``"architecture"`` when the model came from
:func:`create_model`).

Adding a model: decorate its builder; its arguments must be plain values (numbers,
strings, tuples, lists, dicts) so that they can be stored::

    @register_model("tiny-mlp", kind="classifier")
    def tiny_mlp(input_shape, num_classes, width=16):
        return mlp(input_shape, num_classes, hidden=(width,))
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import io
from ..errors import CheckpointError

__all__ = ["REGISTRY", "ModelEntry", "create_model", "list_models", "load_model",
           "model_from_checkpoint", "register_model", "save_model"]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, its builder and what kind of model it is
    ("classifier", "autoencoder", "vae", "gan", "generator", "discriminator",
    "language-model", ...)."""

    name: str
    builder: Callable[..., Any]
    kind: str


#: Every registered model by name.
REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, kind: str = "model") -> Callable[[Callable[..., Any]],
                                                                Callable[..., Any]]:
    """Decorator registering ``builder`` (a function or class) as ``name``; returns the
    builder unchanged. A name can be registered once."""

    def add(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY and REGISTRY[name].builder is not builder:
            raise ValueError(f"register_model: {name!r} is already registered (by "
                             f"{REGISTRY[name].builder.__qualname__})")
        REGISTRY[name] = ModelEntry(name, builder, kind)
        return builder

    return add


def list_models(kind: str | None = None) -> list[str]:
    """The registered names (of one ``kind`` if given), sorted."""
    return sorted(n for n, e in REGISTRY.items() if kind is None or e.kind == kind)


def _entry(name: str) -> ModelEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: "
                         f"{', '.join(list_models())}") from None


def _arguments(builder: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by keyword (so that they can be stored and replayed)."""
    bound = inspect.signature(builder).bind(*args, **kwargs)
    out: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        kind = bound.signature.parameters[key].kind
        if kind == inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(f"create_model: {builder.__qualname__} takes *{key}; register a "
                            "builder with named arguments")
        if kind == inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[key] = value
    return out


def create_model(name: str, *args: Any, **kwargs: Any) -> Any:
    """Build the model registered as ``name`` with the given arguments, and record
    ``{"name": name, "arguments": {...}}`` on it for :func:`save_model`.

    Raises:
        ValueError: ``name`` is not registered (the message lists the names), or the
            builder rejects the arguments.
    """
    entry = _entry(name)
    arguments = _arguments(entry.builder, args, kwargs)
    model = entry.builder(**arguments)
    setattr(model, io.ARCHITECTURE_ATTRIBUTE, {"name": name, "arguments": arguments})
    return model


def save_model(model: Any, path: str | os.PathLike[str], *, optimizer: Any = None,
               architecture: str | None = None, arguments: Mapping[str, Any] | None = None,
               **metadata: Any) -> None:
    """Write ``model`` (weights, architecture, optional optimizer state and plain
    ``metadata`` values) to ``path`` in the checkpoint format; atomic, no pickle.

    ``architecture`` and ``arguments`` (the registered name and the builder's keyword
    arguments) default to what :func:`create_model` recorded on the model; give them for
    a model built otherwise, e.g. ``save_model(m, p, architecture="mlp",
    arguments={"input_shape": 64, "num_classes": 10})``.

    Raises:
        ValueError: the architecture is unknown or not registered.
        TypeError: ``arguments`` or ``metadata`` hold values that cannot be stored.
    """
    spec = io.architecture_of(model)
    if architecture is not None:
        spec = {"name": architecture, "arguments": dict(arguments or {})}
    if spec is None:
        raise ValueError(f"save_model: the {type(model).__name__} was not built by "
                         "create_model, so its architecture is unknown; pass "
                         "architecture=<registered name> and arguments={...}")
    _entry(spec["name"])
    from . import model_dir  # issue 19: a path without a suffix is a model directory

    quantization = getattr(model, "__chainrule_quantization__", None)
    if quantization is not None:  # chainrule.quantize's int8 model: its structure too
        metadata = {**metadata, "quantization": quantization}

    if model_dir.wants_directory(path):
        if optimizer is not None:
            raise ValueError("save_model: a model directory holds no optimizer state; "
                             "save a checkpoint file (path ending in .npz) to resume training")
        kind, full = _with_defaults(spec)
        model_dir.write_model_dir(path, model, spec, kind, full, **metadata)
        return
    io.write_checkpoint(path, model, optimizer, architecture=spec, **metadata)


def _with_defaults(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered kind of ``spec`` and its builder's keyword arguments, defaults
    included."""
    entry = _entry(str(spec["name"]))
    arguments = dict(spec.get("arguments", {}))
    try:
        bound = inspect.signature(entry.builder).bind_partial(**arguments)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
    except TypeError:
        pass
    return entry.kind, arguments


def model_from_checkpoint(checkpoint: Mapping[str, Any],
                          path: str | os.PathLike[str] = "<checkpoint>") -> Any:
    """Rebuild the model a checkpoint dict (as :func:`chainrule.io.read_checkpoint` returns
    it) describes and load its weights. ``path`` names the file in error messages.

    Raises:
        CheckpointError: no architecture, an unregistered one, arguments the builder
            rejects, or weights that do not fit the rebuilt model.
    """
    spec = checkpoint.get("architecture")
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise CheckpointError(f"{path}: the checkpoint holds weights but no architecture; "
                              "build the model yourself and use "
                              "chainrule.train.load_checkpoint(path, model)")
    name, arguments = str(spec["name"]), dict(spec.get("arguments", {}))
    if name not in REGISTRY:
        raise CheckpointError(f"{path}: architecture {name!r} is not registered; "
                              f"registered models: {', '.join(list_models())}")
    try:
        model = create_model(name, **arguments)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild {name!r} from the saved arguments "
                              f"{arguments}: {exc}") from None
    if isinstance(checkpoint.get("quantization"), Mapping):  # issue 19: an int8 model
        from ..quant import apply_structure

        try:
            apply_structure(model, dict(checkpoint["quantization"]))
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    io.load_weights(path, model, checkpoint["model"])
    if hasattr(model, "eval"):
        model.eval()
    return model


def load_model(path: str | os.PathLike[str]) -> Any:
    """The model saved at ``path`` by :func:`save_model` (or a checkpoint with an
    architecture), rebuilt from the registry with its weights, in evaluation mode.

    For the metadata read the file once with :func:`chainrule.io.read_checkpoint` and pass
    the dict to :func:`model_from_checkpoint`; to resume training, build the optimizer
    over the model's parameters and ``optimizer.load_state_dict(checkpoint["optimizer"])``.

    Raises:
        DataFileNotFoundError: no such file.
        CheckpointError: the file is not a model checkpoint, or does not fit (the
            message names the file and what is wrong).
    """
    from . import model_dir  # issue 19: model directories

    if os.path.isdir(path):
        model_dir.read_description(path)  # refuses what is not a model directory
        path = os.path.join(path, model_dir.WEIGHTS)
    return model_from_checkpoint(io.read_checkpoint(path), path)
