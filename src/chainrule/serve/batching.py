"""Dynamic batching: requests that arrive close together run as one batch.

One worker thread per model version takes the first waiting request, gathers more until
``max_batch`` examples are queued or ``max_wait`` seconds have passed since the first one,
runs the model once on their concatenation and hands each request its own rows (requests
whose examples differ in shape, sequences of other lengths, run as one batch per shape).
One worker per version also means the model is only ever run from one thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

__all__ = ["Batcher"]


class Batcher:
    """Run ``function`` (a batch in, a batch out) on batched requests; see the module
    docstring. ``max_batch=1`` runs each request alone (no batching)."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], *, max_batch: int = 32,
                 max_wait: float = 0.005, name: str = "model") -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError("Batcher: max_batch must be >= 1 and max_wait >= 0")
        self.function, self.max_batch, self.max_wait = function, max_batch, max_wait
        self._queue: queue.Queue[tuple[np.ndarray, Future[np.ndarray]] | None] = queue.Queue()
        self._closed = False
        self.batches = 0  # how many times the function ran (for tests and benchmarks)
        self._thread = threading.Thread(target=self._work, name=f"chainrule-batch-{name}",
                                        daemon=True)
        self._thread.start()

    def submit(self, x: np.ndarray) -> Future[np.ndarray]:
        """A future for ``function`` applied to the batch ``x`` (its rows only)."""
        future: Future[np.ndarray] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the model version was unloaded"))
        else:
            self._queue.put((x, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        self._closed = True
        self._queue.put(None)

    def _gather(self, first: tuple[np.ndarray, Future[np.ndarray]]
                ) -> tuple[list[tuple[np.ndarray, Future[np.ndarray]]], bool]:
        items, rows = [first], len(first[0])
        deadline = time.monotonic() + self.max_wait
        while rows < self.max_batch:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return items, True
            if rows + len(item[0]) > self.max_batch:
                self._run(items)  # would overflow: run what we have, start a new batch
                items, rows = [item], len(item[0])
                deadline = time.monotonic() + self.max_wait
                continue
            items.append(item)
            rows += len(item[0])
        return items, False

    def _run(self, items: list[tuple[np.ndarray, Future[np.ndarray]]]) -> None:
        live = [(x, f) for x, f in items if f.set_running_or_notify_cancel()]
        groups: dict[tuple[int, ...], list[tuple[np.ndarray, Future[np.ndarray]]]] = {}
        for x, f in live:  # examples of one shape run together (sequences of one length)
            groups.setdefault(x.shape[1:], []).append((x, f))
        for group in groups.values():
            self._run_group(group)

    def _run_group(self, live: list[tuple[np.ndarray, Future[np.ndarray]]]) -> None:
        try:
            out = self.function(np.concatenate([x for x, _ in live]) if len(live) > 1
                                else live[0][0])
            self.batches += 1
        except Exception as exc:  # noqa: BLE001 - reported to every waiting request
            for _, future in live:
                future.set_exception(exc)
            return
        start = 0
        for x, future in live:
            future.set_result(out[start:start + len(x)])
            start += len(x)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            items, stop = self._gather(first)
            self._run(items)
            if stop:
                break
        while True:  # a request that raced with close(): run it too, never leave it waiting
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._run([item])
