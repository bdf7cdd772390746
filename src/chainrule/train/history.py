"""History of a training run (its picture is drawn by :mod:`chainrule.viz.curves`).

``History.history`` is a dict of lists, one value per epoch, as in Keras:
``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...],
"lr": [...], "time": [...]}``; ``History.epoch`` lists the epoch numbers (0-based).

:func:`plot_history` (from :mod:`chainrule.viz.curves`, re-exported here) draws
train-vs-validation curves: a PNG with matplotlib when it is installed, else a small
self-contained SVG written by hand (no dependency).
"""

from __future__ import annotations

from typing import Any

from ..viz.curves import plot_history
from .callbacks import Callback, Logs

__all__ = ["History", "plot_history"]


class History(Callback):
    """Records the logs of every epoch (``fit`` returns one)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def state_dict(self) -> dict[str, Any]:
        return {"history": {k: list(v) for k, v in self.history.items()},
                "epoch": list(self.epoch)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History({len(self.epoch)} epochs: {', '.join(self.history)})"
