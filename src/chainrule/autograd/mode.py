"""Global switches of the engine: whether reverse mode records, and the forward-mode levels.

Both live in one small object (``state``); grad mode and the forward levels are per thread
(PyTorch's rule for grad mode), kept in context variables that the hot path reads directly.

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
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

# Per-thread (per-context) switches, as PyTorch's grad mode is per thread: a new thread
# starts with the defaults, so ``no_grad`` in one thread never stops another from recording.
# Context variables rather than ``threading.local``: ``ContextVar.get`` costs a few tens of
# nanoseconds, a thread-local attribute several times that (per op, it showed in
# benchmarks/bench_engine.py). Tasks and thread pools that copy the context
# (asyncio, anyio.to_thread) start with the switches of the code that scheduled them.
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chainrule_grad_enabled", default=True)
_fw_level: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "chainrule_fw_level", default=())
#: The hot path's readers and writer (``Primitive.__call__``, ``unrecorded``, the backward
#: loop): no attribute lookup (``state.grad_enabled`` costs a property call).
grad_enabled_now: Callable[[], bool] = _grad_enabled.get
fw_level_now: Callable[[], tuple[int, ...]] = _fw_level.get
set_grad_enabled_now: Callable[[bool], Any] = _grad_enabled.set


class _State:
    """The switches as attributes. ``grad_enabled`` (record the reverse-mode graph) and
    ``fw_level`` (the visible forward-mode levels, outer first) are per thread; the
    tracing flags of ``chainrule.graph`` are process-wide."""

    __slots__ = ("fw_paused", "tracing", "tracing_forward")

    grad_enabled = property(lambda self: _grad_enabled.get(),
                            lambda self, value: _grad_enabled.set(value))
    fw_level = property(lambda self: _fw_level.get(), lambda self, value: _fw_level.set(value))

    def __init__(self) -> None:
        self.fw_paused = False  # kept for readers of the old flag: always False
        self.tracing = False  # chainrule.graph.trace is recording (no in-place shortcuts)
        # ... and is outside a vjp rule: every op on a traced value must be recorded, so
        # ``unrecorded()`` is False (a fast path would freeze the value as a constant)
        self.tracing_forward = False


state = _State()


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets whether operations are recorded.

    One object may serve several threads at once (a decorator, a module-level ``with``
    object): the modes to restore are kept per thread, and each decorated call uses a
    fresh manager."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        self._saved: dict[int, list[bool]] = {}  # thread id -> modes to restore

    def _recreate_cm(self) -> _GradMode:
        return _GradMode(self.enabled)

    def __enter__(self) -> _GradMode:
        self._saved.setdefault(threading.get_ident(), []).append(_grad_enabled.get())
        _grad_enabled.set(self.enabled)
        return self

    def __exit__(self, *exc: object) -> None:
        key = threading.get_ident()
        stack = self._saved[key]
        _grad_enabled.set(stack.pop())
        if not stack:
            del self._saved[key]


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
    """Whether this thread records the graph now."""
    return _grad_enabled.get()


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
    return tans is not None and any(level in tans for level in _fw_level.get())
