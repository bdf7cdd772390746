"""Global switches of the engine: whether reverse mode records, and the forward-mode level.

Both live in one small object so the hot path reads a single attribute.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any


class _State:
    __slots__ = ("grad_enabled", "fw_level", "fw_paused")

    def __init__(self) -> None:
        self.grad_enabled = True  # record the reverse-mode graph
        self.fw_level = 0  # id of the active forward-mode (jvp) level; 0 = none
        self.fw_paused = False  # True while a jvp rule itself is being evaluated


state = _State()


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets whether operations are recorded."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        self._saved: list[bool] = []

    def __enter__(self) -> _GradMode:
        self._saved.append(state.grad_enabled)
        state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._saved.pop()


def no_grad(func: Callable[..., Any] | None = None) -> Any:
    """Stop recording the graph: ``with no_grad(): ...`` or ``@no_grad``.

    Results computed inside do not require grad, and nothing is kept for backward.
    Forward-mode tangents (``jvp``) are not affected.
    """
    if func is not None and callable(func):
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _GradMode(False):
                return func(*args, **kwargs)

        return wrapper
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record the graph again inside a ``no_grad`` region."""
    return _GradMode(True)


def set_grad_enabled(enabled: bool) -> _GradMode:
    """``with set_grad_enabled(flag):`` records the graph only when ``flag`` is true."""
    return _GradMode(enabled)


def is_grad_enabled() -> bool:
    return state.grad_enabled


@contextlib.contextmanager
def paused_forward_mode() -> Iterator[None]:
    """Evaluate a jvp rule without pushing tangents through the ops it uses."""
    saved = state.fw_paused
    state.fw_paused = True
    try:
        yield
    finally:
        state.fw_paused = saved
