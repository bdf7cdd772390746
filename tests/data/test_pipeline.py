"""chainrule.data pipelines (issue 20): semantics, determinism, threads, Trainer.fit."""

from __future__ import annotations

import threading
import time
import traceback

import numpy as np
import pytest

from chainrule.data import Pipeline, from_arrays, from_csv, from_generator


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("chainrule-")}


def _no_threads_left() -> bool:
    for _ in range(100):
        if not _threads():
            return True
        time.sleep(0.01)
    return False


def test_from_arrays_elements_and_batch():
    x = np.arange(12).reshape(6, 2)
    y = np.arange(6)
    elems = from_arrays(x, y).as_list()
    assert len(elems) == 6 and np.array_equal(elems[4][0], x[4]) and elems[4][1] == 4
    batches = from_arrays(x, y).batch(4).as_list()
    assert [b[0].shape for b in batches] == [(4, 2), (2, 2)]
    assert np.array_equal(np.concatenate([b[1] for b in batches]), y)
    assert [b[0].shape for b in from_arrays(x, y).batch(4, drop_remainder=True)] == [(4, 2)]
    with pytest.raises(ValueError, match="different lengths"):
        from_arrays(x, y[:3])


def test_map_filter_take_skip_repeat_unbatch():
    p = from_arrays(np.arange(10)).map(lambda v: v * 10).filter(lambda v: v % 20 == 0)
    assert [int(v) for v in p] == [0, 20, 40, 60, 80]
    assert [int(v) for v in p.skip(1).take(2)] == [20, 40]
    assert [int(v) for v in p.take(2).repeat(3)] == [0, 20] * 3
    assert [int(v) for v in p.take(2).repeat().take(5)] == [0, 20, 0, 20, 0]
    pairs = from_arrays(np.arange(5), -np.arange(5))
    assert [(int(a), int(b)) for a, b in pairs.map(lambda a, b: (b, a))][1] == (-1, 1)
    assert [int(a) for a, _ in pairs.batch(2).unbatch()] == [0, 1, 2, 3, 4]


def test_pipeline_is_immutable_and_reiterable():
    base = from_arrays(np.arange(4))
    base.map(lambda v: v + 1)
    assert [int(v) for v in base] == [0, 1, 2, 3] == [int(v) for v in base]


def test_shuffle_is_a_permutation_deterministic_and_reshuffles_each_epoch():
    data = np.arange(100)
    p = from_arrays(data).shuffle(100, seed=7)
    e1, e2 = [int(v) for v in p], [int(v) for v in p]
    assert sorted(e1) == list(range(100)) and e1 != e2 and e1 != list(range(100))
    q = from_arrays(data).shuffle(100, seed=7)
    assert [int(v) for v in q] == e1 and [int(v) for v in q] == e2
    fixed = from_arrays(data).shuffle(100, seed=7, reshuffle_each_iteration=False)
    assert [int(v) for v in fixed] == [int(v) for v in fixed]
    assert [int(v) for v in from_arrays(data).shuffle(100, seed=8)] != e1


def test_shuffle_buffer_is_local():
    """A buffer of size k can only move an element at most k - 1 places earlier (the book's
    warning: a small buffer shuffles little)."""
    out = [int(v) for v in from_arrays(np.arange(200)).shuffle(5, seed=0)]
    assert sorted(out) == list(range(200))
    assert all(v <= pos + 4 for pos, v in enumerate(out))
    assert out != list(range(200))


def test_padded_batch_pads_to_the_longest():
    seqs = [np.arange(1, n + 1) for n in (3, 1, 2, 4)]
    labels = np.arange(4)
    p = from_generator(lambda: zip(seqs, labels, strict=True))
    (xb, yb), (xb2, _) = p.padded_batch(2).as_list()
    assert np.array_equal(xb, [[1, 2, 3], [1, 0, 0]]) and np.array_equal(yb, [0, 1])
    assert xb2.shape == (2, 4)
    single = from_generator(lambda: iter(seqs)).padded_batch(
        4, padded_shapes=(5,), padding_values=-1).as_list()[0]
    assert single.shape == (4, 5) and single[1, 1] == -1
    with pytest.raises(ValueError, match="does not fit"):
        from_generator(lambda: iter(seqs)).padded_batch(4, padded_shapes=(2,)).as_list()
    with pytest.raises(ValueError, match="padded_batch"):
        from_generator(lambda: iter(seqs)).batch(2).as_list()


def test_cache_runs_the_upstream_once():
    calls = []

    def f(v):
        calls.append(int(v))
        return v

    p = from_arrays(np.arange(5)).map(f).cache()
    assert [int(v) for v in p] == [int(v) for v in p] == list(range(5))
    assert calls == list(range(5))


def test_from_generator_needs_a_function():
    with pytest.raises(TypeError, match="function"):
        from_generator(iter([1, 2]))  # type: ignore[arg-type]


def test_map_workers_keeps_order_and_equals_serial():
    def slow_square(v):
        time.sleep(0.001 * (int(v) % 3))
        return v * v

    p = from_arrays(np.arange(40))
    assert [int(v) for v in p.map(slow_square, workers=4)] == [v * v for v in range(40)]
    assert _no_threads_left()


def _boom(v):
    if int(v) == 7:
        raise RuntimeError("bad element 7")
    return v


@pytest.mark.parametrize("stage", ["map", "prefetch", "both"])
def test_worker_exception_reaches_caller_with_traceback_and_threads_stop(stage):
    p = from_arrays(np.arange(50))
    if stage in ("map", "both"):
        p = p.map(_boom, workers=3)
    else:
        p = p.map(_boom)
    if stage in ("prefetch", "both"):
        p = p.prefetch(2)
    with pytest.raises(RuntimeError, match="bad element 7") as info:
        for _ in p.batch(2):
            pass
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "_boom" in frames
    assert _no_threads_left(), _threads()


def test_keyboard_interrupt_in_consumer_leaves_no_thread():
    p = from_arrays(np.arange(10_000)).map(lambda v: v + 1, workers=2).batch(8).prefetch(3)
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(p):
            if i == 3:
                raise KeyboardInterrupt
    assert _no_threads_left(), _threads()


def test_keyboard_interrupt_in_worker_reaches_caller():
    def interrupt(v):
        if int(v) == 5:
            raise KeyboardInterrupt
        return v

    p = from_arrays(np.arange(100)).map(interrupt, workers=2).prefetch(2)
    with pytest.raises(KeyboardInterrupt):
        list(p)
    assert _no_threads_left(), _threads()


def test_abandoned_iteration_stops_threads():
    p = from_arrays(np.arange(10_000)).map(lambda v: v, workers=2).prefetch(4)
    it = iter(p)
    next(it)
    assert _threads()
    it.close()
    assert _no_threads_left(), _threads()
    it = iter(p)
    next(it)
    del it
    assert _no_threads_left(), _threads()


def test_prefetch_yields_everything_in_order():
    p = from_arrays(np.arange(100)).prefetch(3)
    assert [int(v) for v in p] == list(range(100))
    assert [int(v) for v in p.shuffle(10, seed=1)] == [
        int(v) for v in from_arrays(np.arange(100)).shuffle(10, seed=1)]
    assert _no_threads_left()


def test_argument_errors():
    p = from_arrays(np.arange(3))
    with pytest.raises(ValueError, match="batch_size"):
        p.batch(0)
    with pytest.raises(TypeError, match="workers"):
        p.map(abs, workers=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        p.map(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="buffer_size"):
        p.shuffle(0)
    assert isinstance(p.take(1), Pipeline)


def _write_csv(path, rows, header="a,b,label"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")


def test_from_csv_defaults_header_and_types(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b,name\n1.5,,cat\n2,3,\n")
    lines = from_csv(f, [0.0, 7, "none"]).as_list()
    assert lines[0] == (1.5, 7, "cat") and lines[1] == (2.0, 3, "none")
    assert isinstance(lines[0][1], np.int64)
    with pytest.raises(ValueError, match="no default"):
        from_csv(f).as_list()
    bad = tmp_path / "bad.csv"
    bad.write_text("a\nxyz\n")
    with pytest.raises(ValueError, match="not a float"):
        from_csv(bad).as_list()
    with pytest.raises(FileNotFoundError):
        from_csv(tmp_path / "nope*.csv")


def test_from_csv_interleaves_files_and_shuffles_files(tmp_path):
    for k in range(3):
        _write_csv(tmp_path / f"part{k}.csv", [(k, i, 0) for i in range(2 + k)])
    plain = [(int(a), int(b)) for a, b, _ in from_csv(str(tmp_path / "part*.csv"))]
    assert plain == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2), (2, 3)]
    inter = [(int(a), int(b)) for a, b, _ in from_csv(str(tmp_path / "part*.csv"),
                                                      cycle_length=2)]
    assert inter[:4] == [(0, 0), (1, 0), (0, 1), (1, 1)] and sorted(inter) == sorted(plain)
    shuffled = from_csv(str(tmp_path / "part*.csv"), shuffle_files=True, seed=3)
    orders = [tuple(dict.fromkeys(int(a) for a, _, _ in shuffled)) for _ in range(6)]
    assert all(sorted(o) == [0, 1, 2] for o in orders) and len(set(orders)) > 1
    again = from_csv(str(tmp_path / "part*.csv"), shuffle_files=True, seed=3)
    assert [tuple(dict.fromkeys(int(a) for a, _, _ in again)) for _ in range(6)] == orders


def test_feeds_trainer_fit_and_matches_a_dataloader_run():
    from chainrule import nn, optim
    from chainrule.random import manual_seed
    from chainrule.train import Trainer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1

    def run(data):
        manual_seed(0)
        model = nn.Linear(3, 1)
        trainer = Trainer(model, lambda out, t: ((out[:, 0] - t) ** 2).mean(),
                          optim.SGD(model.parameters(), lr=0.1), metrics=())
        hist = trainer.fit(data, epochs=3, batch_size=16, shuffle=False, verbose=False)
        return hist.history["loss"]

    pipe = from_arrays(x, y).map(lambda a, b: (a, b), workers=2).batch(16).prefetch(2)
    assert np.allclose(run(pipe), run((x, y)), rtol=1e-12, atol=0)
    assert _no_threads_left()
