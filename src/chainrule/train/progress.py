"""Progress display for :meth:`Trainer.fit`: a tqdm bar, or plain lines.

With tqdm installed (the optional extra ``chainrule[progress]``) and stderr a terminal,
each epoch shows a bar with the running loss and metrics while it runs. Without tqdm, a
plain line shows the progress within the epoch: on a terminal one line rewritten in
place about once a second, otherwise (a log file, a pipe) a new line every 30 seconds::

    Epoch 3/20 - 120/600 (20%) - loss: 0.1234 - accuracy: 0.9612 - 35.2 steps/s - ETA 14s

When the epoch ends one Keras-like line is printed::

    Epoch 3/20 - 0.4s - loss: 0.1234 - accuracy: 0.9612 - val_loss: 0.1502 - val_accuracy: 0.9550

A closed output (``chainrule train | head -1``: BrokenPipeError) never stops training:
the display just stops writing.
"""

from __future__ import annotations

import sys
import time
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


def _duration(seconds: float) -> str:
    """``"14s"``, ``"3m05s"``, ``"2h07m"``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar(Callback):
    """Shows training progress; ``fit(verbose=True)`` adds one automatically.

    Args:
        epochs: total number of epochs (for "Epoch 3/20"); None when training runs until a
            budget ends it ("Epoch 3").
        steps: batches per epoch (the bar's length), if known.
        use_tqdm: ``None`` (default) uses tqdm when importable and ``sys.stderr`` is a
            terminal; ``False`` forces plain lines; ``True`` requires tqdm.
        stream: where plain lines go (default ``sys.stdout``).
        interval: seconds between two progress lines within an epoch (default 1 on a
            terminal, where the line is rewritten in place, else 30); ``None`` for the
            default, ``math.inf`` for the epoch lines only.

    Writing errors (a closed pipe, a closed file) are swallowed: the display stops, the
    training goes on.
    """

    def __init__(self, epochs: int | None, steps: int | None = None, use_tqdm: bool | None = None,
                 stream: TextIO | None = None, interval: float | None = None) -> None:
        self.epochs = epochs
        self.steps = steps
        if use_tqdm is None:
            use_tqdm = tqdm_available() and _isatty(sys.stderr)
        self.use_tqdm = use_tqdm
        self.stream = stream
        self.interval = interval
        self.closed = False  # the output failed: write nothing more
        self._bar: Any = None
        self._live = 0  # length of the line being rewritten in place (a terminal)
        self._started: float | None = None
        self._tty = False

    # ----------------------------------------------------------------- writing
    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            out = self._out()
            out.write(text)
            out.flush()
        except (OSError, ValueError):  # BrokenPipeError, a closed file
            self.closed = True

    def _clear_live(self) -> None:
        if self._live:
            self._write("\r" + " " * self._live + "\r")
            self._live = 0

    # ----------------------------------------------------------------- hooks
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._begin(epoch, 0)

    def _begin(self, epoch: int, done: int) -> None:
        self._epoch, self._first = epoch, done
        self._started = self._last = time.monotonic()
        self._tty = _isatty(self._out())
        if self.use_tqdm and not self.closed:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.steps, initial=done, desc=self._title(epoch),
                                 unit="batch", leave=False, dynamic_ncols=True)
            except (OSError, ValueError):
                self._bar = None

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._started is None:  # an epoch resumed in its middle
            self._begin(getattr(self.trainer, "epoch", 0), batch)
        if self._bar is not None:
            try:
                self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)
                self._bar.update(1)
            except (OSError, ValueError):
                self._bar = None
            return
        if self.use_tqdm or self.closed:
            return
        tty = self._tty
        interval = self.interval if self.interval is not None else (1.0 if tty else 30.0)
        now = time.monotonic()
        if now - self._last < interval:
            return
        self._last = now
        line = self._progress_line(batch + 1, now, logs or {})
        if tty:
            self._write("\r" + line.ljust(self._live))
            self._live = len(line)
        else:
            self._write(line + "\n")

    def _progress_line(self, done: int, now: float, logs: Logs) -> str:
        parts = [self._title(self._epoch)]
        if self.steps:
            parts.append(f"{done}/{self.steps} ({100 * done // self.steps}%)")
        else:
            parts.append(f"step {done}")
        shown = format_logs(logs)
        if shown:
            parts.append(shown)
        elapsed = now - (self._started or now)
        rate = (done - self._first) / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            parts.append(f"{rate:.1f} steps/s")
            if self.steps:
                parts.append(f"ETA {_duration(max(self.steps - done, 0) / rate)}")
        return " - ".join(parts)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Replace the bar (if any) by the epoch's line, so the results are never cut."""
        self._close_bar()
        self._clear_live()
        self._started = None
        logs = logs or {}
        parts = [self._title(epoch)]
        if "time" in logs:
            parts.append(f"{logs['time']:.1f}s")
        shown = format_logs(logs)
        if shown:
            parts.append(shown)
        self._write(" - ".join(parts) + "\n")

    def _close_bar(self) -> None:
        if self._bar is not None:
            try:
                self._bar.close()
            except (OSError, ValueError):
                pass
            self._bar = None

    def _title(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}" + (f"/{self.epochs}" if self.epochs else "")

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close_bar()  # stopped mid-epoch
        self._clear_live()
