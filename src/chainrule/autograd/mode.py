"""Global switches of the engine: whether reverse mode records, and the forward-mode levels.

Both live in one small object so the hot path reads a single attribute.

Forward mode nests: every ``jvp`` opens a *level* with a fresh id (ids only grow, so a
tangent left on a tensor by a level that has closed is never mistaken for a live one).
``fw_level`` is the tuple of the levels that operations currently see, outermost first;
``()`` means forward mode is off, and ``Primitive.__call__`` tests only its truth. While
the tangent of level ``L`` is computed, only the levels outside ``L`` are visible, so the
tangent computation is itself differentiated by the outer levels (JAX's and HIPS
autograd's level discipline) and never by ``L`` or the levels inside it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any


class _State:
    __slots__ = ("grad_enabled", "fw_level", "fw_paused", "tracing", "tracing_forward")

    def __init__(self) -> None:
        self.grad_enabled = True  # record the reverse-mode graph
        self.fw_level: tuple[int, ...] = ()  # visible forward-mode (jvp) levels, outer first
        self.fw_paused = False  # kept for readers of the old flag: always False
        self.tracing = False  # chainrule.graph.trace is recording (no in-place shortcuts)
        # ... and is outside a vjp rule: every op on a traced value must be recorded, so
        # ``unrecorded()`` is False (a fast path would freeze the value as a constant)
        self.tracing_forward = False


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
    """Compute without pushing tangents of any forward level through the ops used."""
    saved = state.fw_level
    state.fw_level = ()
    try:
        yield
    finally:
        state.fw_level = saved


@contextlib.contextmanager
def forward_level(level: int) -> Iterator[None]:
    """Make ``level`` (a fresh id) the innermost visible forward level inside the block."""
    saved = state.fw_level
    state.fw_level = saved + (level,)
    try:
        yield
    finally:
        state.fw_level = saved


def visible_tangent(t: Any, level: int) -> Any:
    """``t``'s tangent at forward level ``level``, or None."""
    tans = t._tangent
    return None if tans is None else tans.get(level)


def has_visible_tangent(t: Any) -> bool:
    """Whether ``t`` carries a tangent at a forward level operations currently see."""
    tans = t._tangent
    return tans is not None and any(level in tans for level in state.fw_level)
