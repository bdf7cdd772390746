"""The threaded stages of :mod:`chainrule.data.pipeline`: ordered parallel ``map`` and
``prefetch``.

Both are iterators with ``close()``: closing (explicitly, by the consuming generator
being closed, or by garbage collection) stops their threads and joins them, and an
exception raised in a thread (``KeyboardInterrupt`` included) is re-raised in the
consumer with the thread's traceback after the threads are stopped.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["MapParallel", "Prefetcher", "map_parallel", "prefetch_iter"]

_POLL = 0.05  # seconds between checks of the stop flag while blocked on a queue


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


class MapParallel:
    """``fn`` over ``source`` in ``workers`` threads, results in the input order, at most
    ``window`` elements in flight. The source is read in the consumer's thread."""

    def __init__(self, fn: Callable[[Any], Any], source: Iterator[Any], workers: int,
                 window: int) -> None:
        self._fn = fn
        self._source = source
        self._window = max(window, 1)
        self._pending: deque[Future[Any]] = deque()
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="chainrule-map")
        self._exhausted = False

    def __iter__(self) -> MapParallel:
        return self

    def __next__(self) -> Any:
        if self._pool is None:
            raise StopIteration
        try:
            while not self._exhausted and len(self._pending) < self._window:
                try:
                    element = next(self._source)
                except StopIteration:
                    self._exhausted = True
                    break
                self._pending.append(self._pool.submit(self._fn, element))
            if not self._pending:
                self.close()
                raise StopIteration
            return self._pending.popleft().result()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Cancel what has not started, wait for the running calls, join the threads."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for fut in self._pending:
            fut.cancel()
        self._pending.clear()
        pool.shutdown(wait=True, cancel_futures=True)
        _close(self._source)

    def __del__(self) -> None:
        self.close()


class Prefetcher:
    """Run ``source`` in a background thread, ``size`` elements ahead of the consumer."""

    _DONE = object()

    def __init__(self, source: Iterator[Any], size: int) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._finished = False
        self._thread: threading.Thread | None = threading.Thread(
            target=self._produce, args=(source,), name="chainrule-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterator[Any]) -> None:
        try:
            for element in source:
                if not self._put(("item", element)):
                    return
            self._put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            self._put(("error", exc))
        finally:
            _close(source)

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        try:
            while True:
                try:
                    kind, value = self._queue.get(timeout=_POLL)
                    break
                except queue.Empty:
                    if self._thread is None or not self._thread.is_alive():
                        # the producer ended without a final message (stopped): nothing more
                        kind, value = "done", None
                        break
        except BaseException:
            self.close()
            raise
        if kind == "item":
            return value
        self.close()
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the producer thread and join it."""
        self._finished = True
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        while thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=_POLL)

    def __del__(self) -> None:
        self.close()


def map_parallel(fn: Callable[[Any], Any], source: Iterator[Any], workers: int,
                 window: int) -> Iterator[Any]:
    return _closing(MapParallel(fn, source, workers, window))


def prefetch_iter(source: Iterator[Any], size: int) -> Iterator[Any]:
    return _closing(Prefetcher(source, size))


def _closing(stage: MapParallel | Prefetcher) -> Iterator[Any]:
    """A generator over ``stage`` that closes it however the iteration ends, so that
    closing the outermost generator of a chain stops the threads of every stage."""
    try:
        yield from stage
    finally:
        stage.close()
