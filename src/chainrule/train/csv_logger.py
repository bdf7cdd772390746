"""Logging the epochs to a CSV file: :class:`CSVLogger` (resumable with
:class:`~chainrule.train.Checkpoint`)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import Callback, Logs

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (1-based) then every key of the epoch logs.

    The columns are fixed by the first epoch; the file is flushed after each row, so it
    can be read while training runs. ``append=True`` adds to an existing file.
    """

    def __init__(self, path: str | os.PathLike[str], separator: str = ",",
                 append: bool = False) -> None:
        self.path = Path(path)
        self.separator = separator
        self.append = append
        self._file: Any = None
        self._writer: Any = None
        self.columns: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        has_rows = self.append and self.path.is_file() and self.path.stat().st_size > 0
        self._start = self.path.stat().st_size if self.append and self.path.is_file() else 0
        self._open("a" if self.append else "w")
        self.columns = self._existing_columns() if has_rows else None
        self._header = False
        self._rows: list[list[Any]] = []

    def _open(self, mode: str) -> None:
        self._file = open(self.path, mode, newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def _existing_columns(self) -> list[str] | None:
        with open(self.path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f, delimiter=self.separator), None)
        return header[1:] if header else None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.columns is None:
            self.columns = list(logs)
            self._writer.writerow(["epoch", *self.columns])
            self._header = True
        row = [epoch + 1] + [_format_value(logs.get(k, "")) for k in self.columns]
        self._writer.writerow(row)
        self._rows.append(row)
        self._file.flush()

    def state_dict(self) -> dict[str, Any]:
        return {"start": self._start, "columns": self.columns, "header": self._header,
                "rows": list(self._rows)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the file what it was at the checkpoint: its rows from before this run,
        then the rows this run had written by then (later ones are dropped)."""
        if self._file is not None:
            self._file.close()
        if self.path.is_file() and self.path.stat().st_size > state["start"]:
            os.truncate(self.path, state["start"])
        self._open("a")
        self._start, self.columns, self._header = state["start"], state["columns"], False
        self._rows = []
        if state["header"] and self.columns is not None:
            self._writer.writerow(["epoch", *self.columns])
            self._header = True
        for row in state["rows"]:
            self._writer.writerow(row)
            self._rows.append(list(row))
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _format_value(value: Any) -> Any:
    """Floats at full precision (repr), everything else as is."""
    return repr(float(value)) if isinstance(value, float | np.floating) else value
