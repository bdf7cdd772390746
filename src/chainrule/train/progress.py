"""Progress display for :meth:`Trainer.fit`: a tqdm bar, or one plain line per epoch.

With tqdm installed (the optional extra ``chainrule[progress]``) and stderr a terminal,
each epoch shows a bar with the running loss and metrics while it runs. When the epoch
ends (and always without tqdm or a terminal) one Keras-like line is printed::

    Epoch 3/20 - 0.4s - loss: 0.1234 - accuracy: 0.9612 - val_loss: 0.1502 - val_accuracy: 0.9550
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .callbacks import Callback, Logs

__all__ = ["ProgressBar", "format_logs", "tqdm_available"]

_HIDDEN = ("lr", "time", "size", "batch")


def tqdm_available() -> bool:
    """Whether tqdm can be imported."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def format_logs(logs: Mapping[str, float], digits: int = 4) -> str:
    """``"loss: 0.1234 - accuracy: 0.9612"`` for the displayable entries of ``logs``."""
    return " - ".join(f"{k}: {v:.{digits}f}" for k, v in logs.items() if k not in _HIDDEN)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressBar(Callback):
    """Shows training progress; ``fit(verbose=True)`` adds one automatically.

    Args:
        epochs: total number of epochs (for "Epoch 3/20"); None when training runs until a
            budget ends it ("Epoch 3").
        steps: batches per epoch (the bar's length), if known.
        use_tqdm: ``None`` (default) uses tqdm when importable and ``sys.stderr`` is a
            terminal; ``False`` forces plain lines; ``True`` requires tqdm.
        stream: where plain lines go (default ``sys.stdout``).
    """

    def __init__(self, epochs: int | None, steps: int | None = None, use_tqdm: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.epochs = epochs
        self.steps = steps
        if use_tqdm is None:
            use_tqdm = tqdm_available() and _isatty(sys.stderr)
        self.use_tqdm = use_tqdm
        self.stream = stream
        self._bar: Any = None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.use_tqdm:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.steps, desc=self._title(epoch),
                             unit="batch", leave=False, dynamic_ncols=True)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Replace the bar (if any) by the epoch's line, so the results are never cut."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        logs = logs or {}
        parts = [self._title(epoch)]
        if "time" in logs:
            parts.append(f"{logs['time']:.1f}s")
        shown = format_logs(logs)
        if shown:
            parts.append(shown)
        print(" - ".join(parts), file=self.stream or sys.stdout, flush=True)

    def _title(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}" + (f"/{self.epochs}" if self.epochs else "")

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._bar is not None:  # stopped mid-epoch
            self._bar.close()
            self._bar = None
