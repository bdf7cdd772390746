"""Chainable input pipelines (Hands-On ML ch. 13): ``from_arrays(x, y).shuffle(...).batch(...)``.

A :class:`Pipeline` is a *recipe*: every ``iter(pipeline)`` runs it again from the source,
so one pipeline yields one epoch each time it is iterated and can be passed to
:meth:`chainrule.train.Trainer.fit` directly::

    from chainrule.data import from_arrays

    train = (from_arrays(x_train, y_train)
             .shuffle(10_000, seed=42)
             .map(augment, workers=4)
             .batch(64)
             .prefetch(2))
    trainer.fit(train, epochs=10)

Elements are whatever the source yields: a tuple of arrays/scalars for
:func:`from_arrays` (one row of each array), one tuple of column values per line for
:func:`from_csv`. ``map`` applies a function to each element (a tuple is unpacked into
its arguments, as in ``tf.data``); ``batch`` stacks ``B`` elements component-wise.

Determinism: ``shuffle(buffer_size, seed)`` draws a new order each time the pipeline is
iterated (epoch ``k`` uses a generator seeded with ``(seed, k)``), so two pipelines built
with the same seed give the same sequence of epochs. ``map(workers=N)`` keeps the order of
the elements. Threads (``map`` workers, ``prefetch``) are stopped and joined when the
iteration ends, fails, is interrupted (``KeyboardInterrupt``) or is abandoned
(``close()`` on the iterator, or garbage collection); an exception raised in a worker is
re-raised in the caller with the worker's traceback.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.data.pipeline_threads import map_parallel, prefetch_iter

__all__ = ["Pipeline", "from_arrays", "from_generator"]

Source = Callable[[], Iterator[Any]]


def _positive_int(where: str, name: str, value: Any, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{where}: {name} must be a {kind} int, got {value}")
    return int(value)


def _apply(fn: Callable[..., Any], element: Any) -> Any:
    return fn(*element) if isinstance(element, tuple) else fn(element)


def _stack(elements: Sequence[Any], where: str) -> Any:
    first = elements[0]
    if isinstance(first, tuple):
        if any(not isinstance(e, tuple) or len(e) != len(first) for e in elements):
            raise ValueError(f"{where}: elements differ in structure (tuples of other lengths)")
        return tuple(_stack([e[i] for e in elements], where) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([e[k] for e in elements], where) for k in first}
    arrays = [np.asarray(e) for e in elements]
    if any(a.shape != arrays[0].shape for a in arrays):
        shapes = sorted({a.shape for a in arrays})
        raise ValueError(f"{where}: elements have different shapes {shapes}; use "
                         "padded_batch for sequences of different lengths")
    return np.stack(arrays)


def _pad_stack(elements: Sequence[Any], value: Any, shape: Any, where: str) -> Any:
    first = elements[0]
    if isinstance(first, tuple):
        values = value if isinstance(value, tuple) else (value,) * len(first)
        shapes = shape if isinstance(shape, tuple) and shape and isinstance(
            shape[0], tuple | list | type(None)) else (shape,) * len(first)
        return tuple(_pad_stack([e[i] for e in elements], values[i], shapes[i], where)
                     for i in range(len(first)))
    arrays = [np.asarray(e) for e in elements]
    ndim = arrays[0].ndim
    if any(a.ndim != ndim for a in arrays):
        raise ValueError(f"{where}: elements have different numbers of dimensions")
    target = [max(a.shape[d] for a in arrays) for d in range(ndim)]
    if shape is not None:
        if len(shape) != ndim:
            raise ValueError(f"{where}: padded_shapes {tuple(shape)} has {len(shape)} "
                             f"dimensions, the elements have {ndim}")
        for d, s in enumerate(shape):
            if s is not None:
                if s < target[d]:
                    raise ValueError(f"{where}: an element of size {target[d]} along axis "
                                     f"{d} does not fit padded_shapes {tuple(shape)}")
                target[d] = int(s)
    dtype = np.result_type(*arrays)
    out = np.full((len(arrays), *target), value, dtype=dtype)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, n) for n in a.shape))] = a
    return out


def _batches(it: Iterator[Any], size: int, drop: bool) -> Iterator[list[Any]]:
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk or (drop and len(chunk) < size):
            return
        yield chunk


class Pipeline:
    """A re-iterable chain of transformations over a source of elements.

    Build one with :func:`from_arrays`, :func:`from_generator` or
    :func:`~chainrule.data.from_csv`; every method returns a new pipeline (the original is
    unchanged).
    """

    def __init__(self, source: Source, description: str = "source") -> None:
        self._source = source
        self._description = description

    def __iter__(self) -> Iterator[Any]:
        return self._source()

    def __repr__(self) -> str:
        return f"Pipeline({self._description})"

    def _then(self, make: Callable[[Iterator[Any]], Iterator[Any]], what: str) -> Pipeline:
        upstream = self._source
        return Pipeline(lambda: make(upstream()), f"{self._description}.{what}")

    # ------------------------------------------------------------------ element-wise
    def map(self, fn: Callable[..., Any], workers: int = 1, *,
            buffer: int | None = None) -> Pipeline:
        """Apply ``fn`` to each element (a tuple element is unpacked into arguments).

        ``workers > 1`` runs ``fn`` in that many threads (NumPy releases the GIL in most
        array work), keeping the order of the elements; at most ``buffer`` (default
        ``2 * workers``) elements are in flight. An exception raised by ``fn`` stops the
        workers and is re-raised in the caller with its traceback.
        """
        if not callable(fn):
            raise TypeError(f"map: fn must be callable, got {type(fn).__name__}")
        workers = _positive_int("map", "workers", workers)
        window = 2 * workers if buffer is None else _positive_int("map", "buffer", buffer)
        if workers == 1:
            return self._then(lambda it: (_apply(fn, e) for e in it), "map()")
        return self._then(lambda it: map_parallel(lambda e: _apply(fn, e), it, workers,
                                                  window), f"map(workers={workers})")

    def filter(self, predicate: Callable[..., Any]) -> Pipeline:
        """Keep the elements for which ``predicate`` (unpacking tuples) is true."""
        if not callable(predicate):
            raise TypeError(f"filter: predicate must be callable, got "
                            f"{type(predicate).__name__}")
        return self._then(lambda it: (e for e in it if bool(_apply(predicate, e))), "filter()")

    # ------------------------------------------------------------------ order
    def shuffle(self, buffer_size: int, seed: int | None = None,
                reshuffle_each_iteration: bool = True) -> Pipeline:
        """Shuffle with a buffer of ``buffer_size`` elements (the book's shuffling buffer).

        The buffer is filled first; then each output is drawn uniformly from the buffer
        and its slot refilled from the input. A buffer at least as large as the data gives
        a uniform permutation. Iteration ``k`` of the pipeline uses a generator seeded
        with ``(seed, k)`` (``(seed, 0)`` every time without ``reshuffle_each_iteration``);
        ``seed=None`` draws a seed from the operating system once, here.
        """
        size = _positive_int("shuffle", "buffer_size", buffer_size)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        seed = _positive_int("shuffle", "seed", seed, allow_zero=True)
        counter = itertools.count()

        def run(it: Iterator[Any]) -> Iterator[Any]:
            epoch = next(counter) if reshuffle_each_iteration else 0
            rng = np.random.default_rng([seed, epoch])
            buf: list[Any] = list(itertools.islice(it, size))
            for element in it:
                j = int(rng.integers(len(buf)))
                yield buf[j]
                buf[j] = element
            for j in rng.permutation(len(buf)):
                yield buf[j]

        return self._then(run, f"shuffle({size}, seed={seed})")

    # ------------------------------------------------------------------ grouping
    def batch(self, batch_size: int, drop_remainder: bool = False) -> Pipeline:
        """Stack ``batch_size`` consecutive elements component-wise (tuples stay tuples,
        dicts stay dicts); the last batch may be shorter unless ``drop_remainder``."""
        size = _positive_int("batch", "batch_size", batch_size)
        return self._then(lambda it: (_stack(c, "batch") for c in _batches(it, size,
                                                                            drop_remainder)),
                          f"batch({size})")

    def padded_batch(self, batch_size: int, padded_shapes: Any = None,
                     padding_values: Any = 0, drop_remainder: bool = False) -> Pipeline:
        """Like :meth:`batch` for elements of different shapes: each component is padded
        with ``padding_values`` to the largest size in the batch along every axis (or to
        ``padded_shapes``, ``None`` entries meaning "largest in the batch"). Tuple elements
        take a tuple of shapes / values, one per component.
        Pair with ``Embedding(mask_zero=True)``-style masks for ragged sequences."""
        size = _positive_int("padded_batch", "batch_size", batch_size)
        return self._then(
            lambda it: (_pad_stack(c, padding_values, padded_shapes, "padded_batch")
                        for c in _batches(it, size, drop_remainder)), f"padded_batch({size})")

    def unbatch(self) -> Pipeline:
        """Split each batch back into its elements (the inverse of :meth:`batch`)."""
        def run(it: Iterator[Any]) -> Iterator[Any]:
            for b in it:
                if isinstance(b, tuple):
                    yield from zip(*b, strict=True)
                else:
                    yield from b
        return self._then(run, "unbatch()")

    # ------------------------------------------------------------------ slicing
    def take(self, count: int) -> Pipeline:
        """The first ``count`` elements."""
        n = _positive_int("take", "count", count, allow_zero=True)
        return self._then(lambda it: itertools.islice(it, n), f"take({n})")

    def skip(self, count: int) -> Pipeline:
        """All elements after the first ``count``."""
        n = _positive_int("skip", "count", count, allow_zero=True)
        return self._then(lambda it: itertools.islice(it, n, None), f"skip({n})")

    def repeat(self, count: int | None = None) -> Pipeline:
        """Run the pipeline ``count`` times in a row (forever with ``None``); each pass is a
        new iteration of the upstream (a shuffle upstream draws a new order)."""
        n = None if count is None else _positive_int("repeat", "count", count, allow_zero=True)
        upstream = self._source

        def run() -> Iterator[Any]:
            passes = itertools.count() if n is None else range(n)
            for _ in passes:
                yield from upstream()

        return Pipeline(run, f"{self._description}.repeat({n})")

    # ------------------------------------------------------------------ performance
    def cache(self) -> Pipeline:
        """Keep the elements of the first complete iteration in memory and replay them
        afterwards (transformations before ``cache`` then run once; put ``shuffle`` after
        it). An interrupted first iteration caches nothing."""
        upstream = self._source
        store: list[list[Any]] = []

        def run() -> Iterator[Any]:
            if store:
                yield from store[0]
                return
            seen = []
            for element in upstream():
                seen.append(element)
                yield element
            if not store:
                store.append(seen)

        return Pipeline(run, f"{self._description}.cache()")

    def prefetch(self, buffer_size: int = 1) -> Pipeline:
        """Produce up to ``buffer_size`` elements ahead in a background thread, so the
        pipeline's work overlaps the consumer's (a training step)."""
        size = _positive_int("prefetch", "buffer_size", buffer_size)
        return self._then(lambda it: prefetch_iter(it, size), f"prefetch({size})")

    # ------------------------------------------------------------------ inspection
    def as_list(self) -> list[Any]:
        """All elements of one iteration (for small pipelines and tests)."""
        return list(self)


def from_arrays(*arrays: Any) -> Pipeline:
    """Elements are the rows of ``arrays`` (same first dimension): a tuple ``(x[i], y[i])``
    for two or more arrays, ``x[i]`` for one (``tf.data.Dataset.from_tensor_slices``)."""
    if not arrays:
        raise ValueError("from_arrays: give at least one array")
    data = [np.asarray(a) for a in arrays]
    if any(a.ndim == 0 for a in data):
        raise ValueError("from_arrays: the arrays need a first (sample) dimension")
    n = len(data[0])
    if any(len(a) != n for a in data):
        raise ValueError(f"from_arrays: the arrays have different lengths "
                         f"{[len(a) for a in data]}")
    if len(data) == 1:
        only = data[0]
        return Pipeline(lambda: iter(only), f"from_arrays({n})")
    return Pipeline(lambda: (tuple(a[i] for a in data) for i in range(n)), f"from_arrays({n})")


def from_generator(factory: Callable[[], Iterable[Any]]) -> Pipeline:
    """Elements from ``factory()``, called anew at each iteration (pass the generator
    *function*, not a generator, so the pipeline can be iterated more than once)."""
    if not callable(factory):
        raise TypeError("from_generator: pass a function returning an iterable (e.g. a "
                        f"generator function), got {type(factory).__name__}")
    return Pipeline(lambda: iter(factory()), f"from_generator({getattr(factory, '__name__', '')})")
