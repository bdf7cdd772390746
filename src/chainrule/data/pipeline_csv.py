"""CSV sources for :mod:`chainrule.data.pipeline` (Hands-On ML ch. 13: files of lines,
column defaults, header handling, several files read interleaved, file-level shuffling)."""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.data.pipeline import Pipeline, _positive_int

__all__ = ["from_csv", "parse_csv_line"]

_REQUIRED = object()


def _files(paths: Any) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        p = os.fspath(p)
        matches = sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p]
        if not matches:
            raise FileNotFoundError(f"from_csv: no file matches {p!r}")
        out.extend(matches)
    for f in out:
        if not Path(f).is_file():
            raise FileNotFoundError(f"from_csv: {f!r} is not a file")
    return out


def parse_csv_line(fields: Sequence[str], defaults: Sequence[Any], where: str) -> tuple:
    """Convert the string ``fields`` of one line with ``defaults`` (one per column): the
    type of each default is the column's type, an empty field takes the default, and a
    default of ``None`` marks a required float column (an empty field is an error)."""
    if len(fields) != len(defaults):
        raise ValueError(f"{where}: expected {len(defaults)} fields, got {len(fields)}")
    out = []
    for i, (text, default) in enumerate(zip(fields, defaults, strict=True)):
        text = text.strip()
        if text == "":
            if default is None:
                raise ValueError(f"{where}: field {i} is empty and has no default")
            out.append(np.asarray(default)[()])
            continue
        kind = float if default is None else type(default)
        try:
            if isinstance(default, str):
                out.append(text)
            elif isinstance(default, bool | np.bool_):
                out.append(np.bool_(text.lower() in ("1", "true", "yes")))
            elif isinstance(default, int | np.integer):
                out.append(np.int64(int(text)))
            else:
                out.append(np.float32(text) if isinstance(default, np.float32)
                           else np.float64(text))
        except ValueError:
            raise ValueError(f"{where}: field {i} = {text!r} is not a {kind.__name__}") from None
    return tuple(out)


def _read(path: str, defaults: Sequence[Any] | None, header: bool, delimiter: str
          ) -> Iterator[tuple]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        if header:
            next(reader, None)
        cols = defaults
        for row in reader:
            if not row:
                continue
            if cols is None:
                cols = [None] * len(row)
            yield parse_csv_line(row, cols, f"from_csv: {path} line {reader.line_num}")


def from_csv(paths: Any, column_defaults: Sequence[Any] | None = None, *, header: bool = True,
             delimiter: str = ",", cycle_length: int = 1, shuffle_files: bool = False,
             seed: int | None = None) -> Pipeline:
    """Lines of CSV files as tuples of column values.

    Args:
        paths: a path, a glob pattern, or a list of them.
        column_defaults: one default per column; its type is the column's type
            (``0.0`` float, ``0`` int, ``""`` str, ``np.float32(0)`` float32) and it fills
            empty fields; ``None`` marks a required float. Default: all required floats.
        header: skip the first line of each file.
        cycle_length: read this many files at once, one line from each in turn
            (``interleave`` in the book); the next file opens when one ends.
        shuffle_files: shuffle the order of the files, anew at each iteration, with a
            generator seeded from ``(seed, iteration)``.
    """
    files = _files(paths)
    cycle = _positive_int("from_csv", "cycle_length", cycle_length)
    defaults = None if column_defaults is None else list(column_defaults)
    if shuffle_files and seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    iteration = [0]

    def run() -> Iterator[tuple]:
        order = list(files)
        if shuffle_files:
            rng = np.random.default_rng([int(seed), iteration[0]])  # type: ignore[arg-type]
            iteration[0] += 1
            order = [order[i] for i in rng.permutation(len(order))]
        pending = iter(order)
        active = [_read(f, defaults, header, delimiter) for f in _take(pending, cycle)]
        try:
            while active:
                still = []
                for reader in active:
                    line = next(reader, None)
                    if line is None:
                        nxt = next(pending, None)
                        if nxt is not None:
                            still.append(_read(nxt, defaults, header, delimiter))
                        continue
                    yield line
                    still.append(reader)
                active = still
        finally:
            for reader in active:
                reader.close()

    return Pipeline(run, f"from_csv({len(files)} files)")


def _take(it: Iterator[str], n: int) -> list[str]:
    out = []
    for _ in range(n):
        f = next(it, None)
        if f is None:
            break
        out.append(f)
    return out
