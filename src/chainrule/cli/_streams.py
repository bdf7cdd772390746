"""Output that a closed pipe cannot kill: ``chainrule train | head -1`` keeps training.

Python ignores SIGPIPE, so a write to a pipe whose reader has gone raises
``BrokenPipeError``, which would end the run with a traceback (and lose the model).
:func:`pipe_safe_output` wraps ``sys.stdout`` and ``sys.stderr`` for the duration of a
command: the first write or flush that meets a closed pipe turns the stream silent (its file
descriptor is pointed at ``os.devnull``, as the Python documentation advises, so the flush at
interpreter exit is silent too) and the command goes on; its files are still written.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["PipeSafeStream", "pipe_safe_output"]


class PipeSafeStream:
    """A text stream that forwards to ``stream`` until the reader of its pipe goes away,
    and from then on drops everything written to it (``broken`` is then True)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def _silence(self) -> None:
        self.broken = True
        try:  # later writes of anyone holding the raw descriptor (and the exit flush) vanish
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation included
            pass  # no real descriptor (a test's capture buffer): dropping writes is enough

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._silence()

    def isatty(self) -> bool:
        return not self.broken and bool(self.stream.isatty())

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, errors, buffer, ...
        return getattr(self.stream, name)


@contextlib.contextmanager
def pipe_safe_output() -> Iterator[None]:
    """Within the block, ``sys.stdout``/``sys.stderr`` survive a closed pipe (see the module
    docstring); the original streams are put back afterwards."""
    saved = sys.stdout, sys.stderr
    sys.stdout = PipeSafeStream(saved[0])  # type: ignore[assignment]
    sys.stderr = PipeSafeStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        for wrapper in (sys.stdout, sys.stderr):
            if isinstance(wrapper, PipeSafeStream):
                wrapper.flush()
        sys.stdout, sys.stderr = saved
