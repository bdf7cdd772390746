"""The models a server serves: a directory of model names, each with numeric versions.

    models/
        mnist/
            1/ model.json model.npz     # written by chainrule.save_model(model, dir)
            2/ ...

:class:`ModelRepository` loads every version it finds, checks each by running one example
through it (a version that fails to load or to run is refused and recorded, and the others
keep serving), and serves the highest loaded version by default. A model saved with
``chainrule train``'s input scaling (``preprocess={"mean", "std"}`` in its checkpoint, kept
by ``chainrule save-model``) gets it applied by the server: clients send raw inputs.
:meth:`refresh` (called every ``poll_interval`` seconds by :meth:`start`) picks up new
versions and drops removed ones; a request holds the :class:`LoadedVersion` it started
with, so swapping in a new version never fails a request in flight.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .batching import Batcher

__all__ = ["LoadedVersion", "ModelRepository", "NotFound", "input_signature"]


class NotFound(LookupError):
    """No such model or version (answered 404)."""


def _first_output(out: Any) -> Any:
    """A model's main output: the first of a tuple (e.g. a language model's logits)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def run_model(model: Any, x: np.ndarray) -> np.ndarray:
    """``model(x)`` without gradients, as a NumPy array."""
    from ..autograd import no_grad

    with no_grad():
        out = _first_output(model(x))
    return np.asarray(out.numpy() if hasattr(out, "numpy") else out)


@dataclass
class LoadedVersion:
    """One loaded, checked version of a model, with its own batcher."""

    name: str
    version: int
    path: Path
    model: Any
    description: dict[str, Any]
    input_shape: tuple[int | None, ...]  # one example's; None: a free axis (any length)
    dtype: str
    output_shape: tuple[int | None, ...]
    batcher: Batcher = field(repr=False)
    input_limits: tuple[int | None, ...] = ()  # per axis, the longest a free axis may be

    def dims(self, shape: tuple[int | None, ...]) -> list[int]:
        """``shape`` with a free axis as -1 (TF Serving's metadata)."""
        return [-1 if d is None else int(d) for d in shape]

    def predict(self, x: np.ndarray) -> Any:
        """A future for the predictions of the batch ``x`` (queued on the batcher)."""
        return self.batcher.submit(x)


def _preprocess(weights: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(mean, std)`` that ``chainrule train`` scaled the inputs with (its checkpoint's
    ``preprocess`` entry, kept by ``save-model``), or None."""
    from ..io import read_checkpoint

    entry = read_checkpoint(weights).get("preprocess")
    if not isinstance(entry, dict) or not {"mean", "std"} <= set(entry):
        return None
    return (np.asarray(entry["mean"], np.float32), np.asarray(entry["std"], np.float32))


def input_signature(description: dict[str, Any]) -> tuple[tuple[int | None, ...], str,
                                                          tuple[int | None, ...]]:
    """``(shape, dtype, limits)`` of one example of the model that ``description`` (its
    model.json) describes: ``None`` in ``shape`` marks a free axis, ``limits`` the longest
    that axis may be (None: no limit). A language model reads token ids of any length
    (up to its ``context``, the saved length, where it has one).

    Raises:
        ValueError: the model's input is not one array of a known rank (seq2seq models and
            conditional generators take several inputs).
    """
    spec = description.get("input")
    if description.get("kind") == "language-model":
        context = int(spec["shape"][0]) if spec else None
        return (None,), "int64", (context,)
    if spec is None:
        raise ValueError("its input is not one array of a known shape (models with several "
                         "inputs, such as seq2seq models and conditional generators, are "
                         "not served yet)")
    shape = tuple(int(d) for d in spec["shape"])
    return shape, spec["dtype"], (None,) * len(shape)


def _probe_shapes(shape: tuple[int | None, ...], limits: tuple[int | None, ...]
                  ) -> list[tuple[int, ...]]:
    """Example shapes a new version is checked with: a free axis at length 1 and 2."""
    sizes = [1] if all(d is not None for d in shape) else [1, 2]
    return [tuple(d if d is not None else min(n, lim or n) for d, lim in zip(shape, limits))
            for n in sizes]


def _stamp(path: Path) -> tuple[float, ...]:
    """When the version's files last changed (a refused version is retried on change)."""
    return tuple(p.stat().st_mtime for p in sorted(path.iterdir()) if p.is_file())


class ModelRepository:
    """Every model under ``root`` (one subdirectory per model name, numeric version
    subdirectories in each); see the module docstring.

    ``max_batch`` and ``max_wait_ms`` bound dynamic batching (requests that arrive within
    ``max_wait_ms`` of the first one run together, up to ``max_batch`` examples);
    ``batching=False`` runs every request on its own.
    """

    def __init__(self, root: str | Path, *, poll_interval: float = 1.0, max_batch: int = 32,
                 max_wait_ms: float = 5.0, batching: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such model directory")
        self.poll_interval = poll_interval
        self.max_batch = max_batch if batching else 1
        self.max_wait = max_wait_ms / 1000.0 if batching else 0.0
        self._lock = threading.Lock()
        self._versions: dict[str, dict[int, LoadedVersion]] = {}
        self._refused: dict[tuple[str, int], tuple[tuple[float, ...], str]] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.refresh()

    # ------------------------------------------------------------------ loading
    def _load(self, name: str, version: int, path: Path) -> LoadedVersion:
        from ..models import model_dir
        from ..models.registry import load_model

        description = model_dir.read_description(path)
        model = load_model(path)
        if description.get("kind") == "gan" and hasattr(model, "generator"):
            model = model.generator.eval()  # a GAN serves samples: its generator
        shape, dtype, limits = input_signature(description)
        scaling = _preprocess(path / model_dir.WEIGHTS)

        def predict(x: np.ndarray) -> np.ndarray:
            if scaling is not None:  # chainrule train's scaling: clients send raw inputs
                x = ((x - scaling[0]) / scaling[1]).astype(x.dtype, copy=False)
            return run_model(model, x)

        outs = []
        for example in _probe_shapes(shape, limits):  # refuse a model that cannot run
            out = predict(np.zeros((1, *example), dtype=dtype))
            if out.shape[:1] != (1,):
                raise ValueError(f"its output has shape {out.shape} for one example")
            outs.append(out.shape[1:])
        if len({len(o) for o in outs}) != 1:
            raise ValueError(f"the rank of its output changes with the input's length: {outs}")
        out_shape = tuple(d if all(o[i] == d for o in outs) else None
                          for i, d in enumerate(outs[0]))  # an axis that follows the input
        batcher = Batcher(predict, max_batch=self.max_batch, max_wait=self.max_wait,
                          name=f"{name}/{version}")
        return LoadedVersion(name, version, path, model, description, shape, dtype,
                             out_shape, batcher, limits)

    def refresh(self) -> None:
        """Load new versions, drop removed ones; never raises for a bad version."""
        found: dict[str, dict[int, Path]] = {}
        for model_path in sorted(p for p in self.root.iterdir() if p.is_dir()):
            versions = {int(p.name): p for p in model_path.iterdir()
                        if p.is_dir() and p.name.isdigit()}
            if versions:
                found[model_path.name] = versions
        for name, versions in found.items():
            for version, path in sorted(versions.items()):
                if version in self._versions.get(name, {}):
                    continue
                try:
                    stamp = _stamp(path)
                except OSError:
                    continue  # vanished while scanning
                refused = self._refused.get((name, version))
                if refused is not None and refused[0] == stamp:
                    continue
                try:
                    loaded = self._load(name, version, path)
                except Exception as exc:  # noqa: BLE001 - a bad version must not stop serving
                    self._refused[(name, version)] = (stamp, f"{type(exc).__name__}: {exc}")
                    continue
                self._refused.pop((name, version), None)
                with self._lock:
                    self._versions.setdefault(name, {})[version] = loaded
        with self._lock:
            for name in list(self._versions):
                for version in list(self._versions[name]):
                    if version not in found.get(name, {}):
                        self._versions[name].pop(version).batcher.close()
                if not self._versions[name]:
                    del self._versions[name]
            for key in [k for k in self._refused if k[1] not in found.get(k[0], {})]:
                del self._refused[key]

    # ------------------------------------------------------------------ queries
    def names(self) -> list[str]:
        with self._lock:
            names = set(self._versions)
        return sorted(names | {name for name, _ in self._refused})

    def get(self, name: str, version: int | None = None) -> LoadedVersion:
        """The loaded ``version`` of ``name`` (default: the highest).

        Raises:
            NotFound: no such model, or no such (loaded) version.
        """
        with self._lock:
            versions = dict(self._versions.get(name, {}))
        if not versions:
            raise NotFound(f"model {name!r} not found; serving: "
                           f"{', '.join(self.names()) or 'nothing'}")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            why = self._refused.get((name, version))
            detail = f" (refused: {why[1]})" if why else ""
            raise NotFound(f"model {name!r} has no version {version}{detail}; available: "
                           f"{', '.join(map(str, sorted(versions)))}")
        return versions[version]

    def status(self, name: str) -> list[dict[str, Any]]:
        """TF Serving's ``model_version_status`` list for ``name``."""
        with self._lock:
            loaded = sorted(self._versions.get(name, {}))
        refused = {v: why for (n, v), (_, why) in self._refused.items() if n == name}
        if not loaded and not refused:
            raise NotFound(f"model {name!r} not found; serving: "
                           f"{', '.join(self.names()) or 'nothing'}")
        rows = [{"version": str(v), "state": "AVAILABLE",
                 "status": {"error_code": "OK", "error_message": ""}} for v in loaded]
        rows += [{"version": str(v), "state": "END",
                  "status": {"error_code": "FAILED_PRECONDITION", "error_message": why}}
                 for v, why in sorted(refused.items())]
        return sorted(rows, key=lambda r: -int(r["version"]))

    # ------------------------------------------------------------------ polling
    def start(self) -> None:
        """Poll the directory every ``poll_interval`` seconds (a daemon thread)."""
        if self._poller is not None:
            return

        def poll() -> None:
            while not self._stop.wait(self.poll_interval):
                try:
                    self.refresh()
                except OSError:
                    pass  # the directory is being changed; next round

        self._poller = threading.Thread(target=poll, name="chainrule-serve-poll", daemon=True)
        self._poller.start()

    def close(self) -> None:
        """Stop polling and every batcher (after the requests they hold)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        with self._lock:
            for versions in self._versions.values():
                for loaded in versions.values():
                    loaded.batcher.close()
