"""Save and load nested state (model state dicts, optimizer state) without pickle.

File format: an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` files), written with
``allow_pickle=False``:

* every array leaf is one entry whose name is its key path joined with ``/``, e.g.
  ``{"encoder": {"weight": w}}`` stores ``w`` as ``encoder/weight`` (so
  ``np.load(path)["encoder/weight"]`` works too);
* the entry ``__chainrule__`` holds UTF-8 JSON (as a uint8 array) describing the whole
  tree: dicts (str or int keys), lists, tuples, None, bools, ints, floats and strings are
  stored there directly, and arrays by reference to their entry. :func:`load` therefore
  rebuilds the same nested structure with the same Python types.

Anything with ``__array__`` (such as a chainrule ``Tensor``) is saved as an array via
:func:`numpy.asarray`; NumPy scalars come back as NumPy scalars. Object arrays are
refused (they would need pickle). Writes are atomic (temporary file in the same
directory, flush, fsync, :func:`os.replace`), so an error never leaves a half-written
file, and an existing file is replaced only by a complete new one. :func:`load` never
executes code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import CheckpointError, DataFileNotFoundError

__all__ = ["ARCHITECTURE_ATTRIBUTE", "FORMAT_VERSION", "architecture_of", "atomic_write",
           "check_state_dict", "load", "load_weights", "read_checkpoint",
           "remove_stale_temporaries", "save", "temp_path_for", "write_checkpoint"]

FORMAT_VERSION = 1
_META = "__chainrule__"
_FORMAT = "chainrule"
# What reading a damaged archive can raise (UnicodeDecodeError and JSONDecodeError are
# ValueErrors; zipfile.BadZipFile is not an OSError).
_CORRUPT = (OSError, ValueError, KeyError, TypeError, EOFError, zlib.error, zipfile.BadZipFile)


# --------------------------------------------------------------------------- atomic writes
# An atomic write never leaves a half-written file at the destination: the bytes go to a
# temporary file in the same directory, are flushed and fsync'ed, and only then is the
# temporary file renamed over the destination with os.replace (atomic on POSIX and Windows
# when both paths are on one file system). On any error the temporary file is removed and
# the destination is left exactly as it was.


_STALE_SECONDS = 6 * 3600  # a temporary older than this is stale even if its pid is alive


def temp_path_for(path: Path) -> Path:
    """A fresh, hidden temporary name next to ``path`` (same directory, same file system):
    ``.<name>.<pid>.<random>.tmp``, so a later save can tell whose it is."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX); assumed alive where that cannot be asked."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike[str],
                             max_age: float = _STALE_SECONDS) -> list[Path]:
    """Delete the temporaries a killed save of ``path`` left behind; returns them.

    Only files named as :func:`temp_path_for` names them *for this target* are considered:
    one is stale when the process that wrote it is gone or it is older than ``max_age``
    seconds (also the rule for the pid-less names of older versions). Errors (a file
    removed meanwhile, no permission) are ignored: cleaning up never fails a save.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?[0-9a-f]{{12}}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent if str(path.parent) else "."))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > max_age
            dead = match.group(1) is not None and not _pid_alive(int(match.group(1)))
            if (old or dead) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _create_exclusive(path: Path) -> tuple[Path, BinaryIO]:
    """Create a new temporary file beside ``path``; its mode follows the user's umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = temp_path_for(path)
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        return tmp, os.fdopen(fd, "wb")
    raise FileExistsError(f"could not create a temporary file next to {path}")


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); silently skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary file for writing that appears at ``path`` only if the block succeeds.

    Usage::

        with atomic_write("model.npz") as f:
            f.write(data)

    If the block raises, the temporary file is deleted and ``path`` is untouched. The
    temporaries of ``path`` that a killed process left behind are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    remove_stale_temporaries(path)
    tmp, handle = _create_exclusive(path)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


# --------------------------------------------------------------------------- encoding


class _Encoder:
    """Turns a nested object into a JSON tree plus a flat ``{entry name: array}`` dict."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, np.generic):  # before float: np.float64 subclasses float
            return {"t": "scalar", "key": self._store(np.asarray(value), path)}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, Mapping):
            return {"t": "dict", "items": [self._item(k, v, path) for k, v in value.items()]}
        if isinstance(value, list | tuple):
            kind = "tuple" if isinstance(value, tuple) else "list"
            items = [self.encode(v, (*path, str(i))) for i, v in enumerate(value)]
            return {"t": kind, "items": items}
        if hasattr(value, "__array__"):
            return {"t": "array", "key": self._store(np.asarray(value), path)}
        raise TypeError(f"save: cannot store {type(value).__name__} at '{'/'.join(path)}'")

    def _item(self, key: Any, value: Any, path: tuple[str, ...]) -> list[Any]:
        if isinstance(key, bool) or not isinstance(key, str | int):
            where = "/".join(path) or "top level"
            raise TypeError(f"save: dict keys must be str or int, got {key!r} at {where}")
        return [key, self.encode(value, (*path, str(key)))]

    def _store(self, array: np.ndarray, path: tuple[str, ...]) -> str:
        name = "/".join(path)
        if array.dtype.hasobject:
            raise TypeError(f"save: '{name}' is an object array; it cannot be saved without pickle")
        if name == _META or name in self.arrays:
            raise ValueError(f"save: two entries would be named '{name}' (keys containing '/'?)")
        self.arrays[name] = array
        return name


def _write_npz(f: Any, arrays: Mapping[str, np.ndarray], compress: bool) -> None:
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=mode, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def save(obj: Mapping[str, Any], path: str | os.PathLike[str], *, compress: bool = False) -> None:
    """Save a (possibly nested) dict of arrays and plain values to ``path``, atomically.

    Leaves may be arrays (or anything with ``__array__``), NumPy scalars, None, bool, int,
    float, str; containers may be dicts (str or int keys), lists and tuples. ``path`` is
    used exactly as given (``.npz`` is the conventional suffix). ``compress=True`` deflates
    the entries (smaller, slower).

    Raises:
        TypeError: ``obj`` is not a dict, or holds something that cannot be stored
            without pickle (the message gives its key path).
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a dict, got {type(obj).__name__}")
    encoder = _Encoder()
    tree = encoder.encode(obj, ())
    meta = {"format": _FORMAT, "version": FORMAT_VERSION, "tree": tree}
    header = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        _write_npz(f, {_META: header, **encoder.arrays}, compress)


# --------------------------------------------------------------------------- decoding


def _decode(node: Any, npz: Any) -> Any:
    if not isinstance(node, dict):
        return node
    kind = node.get("t")
    if kind == "dict":
        return {key: _decode(value, npz) for key, value in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, npz) for v in node["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind in ("array", "scalar"):
        array = npz[node["key"]]
        return array[()] if kind == "scalar" else array
    raise ValueError(f"unknown node type {kind!r}")


def _read_meta(path: Path, npz: Any) -> dict[str, Any]:
    if _META not in npz.files:
        raise CheckpointError(
            f"{path}: not a chainrule file (a .npz archive without the '{_META}' entry "
            "written by chainrule.save; read plain .npz files with numpy.load)"
        )
    meta = json.loads(npz[_META].tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not a chainrule file (bad '{_META}' entry)")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: chainrule file format version {meta.get('version')!r}; this version of "
            f"chainrule reads version {FORMAT_VERSION}"
        )
    return meta


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load what :func:`save` wrote: the same nested dict, arrays as NumPy arrays.

    Never executes code from the file (no pickle).

    Raises:
        DataFileNotFoundError: no such file (also a ``FileNotFoundError``).
        CheckpointError: the file is corrupt, truncated, or not written by :func:`save`
            (a :class:`~chainrule.errors.DataError`, so a ``ValueError``); the message
            names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a chainrule file (not a .npz/zip archive)")
    with open(path, "rb") as f:
        start = f.read(len(_ZIP_MAGIC))
    if start != _ZIP_MAGIC:  # else np.load would take it for a pickle
        raise _damaged(path, "its zip header is damaged")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return _decode(_read_meta(path, npz)["tree"], npz)
    except CheckpointError:
        raise
    except _CORRUPT as exc:
        detail = f"{type(exc).__name__}: {exc}"
        if "pickle" in detail:  # NumPy's allow_pickle advice would mislead here
            detail = "an entry's header is damaged or holds object data, which chainrule " \
                     "never writes"
        raise _damaged(path, detail) from None


_ZIP_MAGIC = b"PK\x03\x04"


def _damaged(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{path}: corrupt chainrule file, not a valid chainrule checkpoint "
                           f"({detail})")


# --------------------------------------------------------------------------- checking


def _describe(value: Any) -> tuple[tuple[int, ...], np.dtype]:
    array = np.asarray(value)
    return array.shape, array.dtype


def check_state_dict(
    expected: Mapping[str, Any], loaded: Mapping[str, Any], *, check_dtype: bool = True
) -> None:
    """Check that ``loaded`` has exactly the names, shapes and dtypes of ``expected``.

    Both map parameter names to arrays (or anything with ``__array__``).

    Raises:
        ValueError: listing every missing name, every unexpected name, and every name
            whose shape or (with ``check_dtype``) dtype differs, e.g.
            ``shape mismatch: 'fc.weight': expected (3, 4), got (4, 3)``.
    """
    missing = [k for k in expected if k not in loaded]
    unexpected = [k for k in loaded if k not in expected]
    shapes, dtypes = [], []
    for key in expected:
        if key not in loaded:
            continue
        (want_shape, want_dtype), (got_shape, got_dtype) = (
            _describe(expected[key]),
            _describe(loaded[key]),
        )
        if want_shape != got_shape:
            shapes.append(f"{key!r}: expected {want_shape}, got {got_shape}")
        if check_dtype and want_dtype != got_dtype:
            dtypes.append(f"{key!r}: expected {want_dtype}, got {got_dtype}")
    problems = [
        (f"missing keys ({len(missing)})", ", ".join(map(repr, missing))),
        (f"unexpected keys ({len(unexpected)})", ", ".join(map(repr, unexpected))),
        (f"shape mismatch ({len(shapes)})", "; ".join(shapes)),
        (f"dtype mismatch ({len(dtypes)})", "; ".join(dtypes)),
    ]
    lines = [f"  {title}: {detail}" for title, detail in problems if detail]
    if lines:
        raise ValueError("state dict does not match:\n" + "\n".join(lines))


# --------------------------------------------------------------------------- checkpoints
#: Attribute under which :func:`chainrule.models.create_model` records how it built a
#: model: ``{"name": registered name, "arguments": {keyword: value}}``.
ARCHITECTURE_ATTRIBUTE = "__chainrule_architecture__"


def architecture_of(model: Any) -> dict[str, Any] | None:
    """``{"name": ..., "arguments": {...}}`` if ``model`` came from the model registry."""
    return getattr(model, ARCHITECTURE_ATTRIBUTE, None)


def write_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None,
                     architecture: Mapping[str, Any] | None = None, **extra: Any) -> None:
    """Write the one checkpoint layout, atomically and without pickle::

        {"model": model.state_dict(),            # the weights (and buffers)
         "architecture": {"name", "arguments"},  # when known: rebuilds the model
         "optimizer": optimizer.state_dict(),    # when given: resumes training
         **extra}                                # metadata: epoch, logs, config, ...

    ``architecture`` defaults to :func:`architecture_of` ``(model)``.
    """
    data: dict[str, Any] = {"model": dict(model.state_dict())}
    spec = architecture if architecture is not None else architecture_of(model)
    if spec is not None:
        data["architecture"] = {"name": str(spec["name"]),
                                "arguments": dict(spec.get("arguments", {}))}
    if optimizer is not None:
        data["optimizer"] = optimizer.state_dict()
    data.update(extra)
    save(data, path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a file written by :func:`write_checkpoint` (a dict with at least ``"model"``).

    Raises:
        DataFileNotFoundError: no such file.
        CheckpointError: not a chainrule file, corrupt, or without model weights; the
            message names the file.
    """
    data = load(path)
    if not isinstance(data.get("model"), dict):
        if data.get("kind") == "char-lstm" and "state" in data:
            raise CheckpointError(f"{path}: a character-LSTM checkpoint in the old format, "
                                  "which this version no longer reads; retrain it with "
                                  "'chainrule train --model char-lstm'")
        raise CheckpointError(f"{path}: not a model checkpoint (no 'model' weights; it holds "
                              f"{', '.join(map(repr, sorted(map(str, data)))) or 'nothing'})")
    return data


def load_weights(path: str | os.PathLike[str], model: Any, weights: Mapping[str, Any]) -> None:
    """``model.load_state_dict(weights)``, reporting a mismatch as a CheckpointError
    that names the file and what differs."""
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path}: the saved weights do not fit the "
                              f"{type(model).__name__}: {detail}") from None
