"""Grad mode is per thread, as PyTorch's: ``no_grad`` in one thread does not stop another
thread from recording its graph, and a new thread starts with recording on."""

import threading

import numpy as np

import chainrule as cr


def _in_other_thread(fn):
    """Run fn in a new thread; return what it returned (or raise what it raised)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller)
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=30)
    assert not t.is_alive()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, done = threading.Event(), threading.Event()

    def frame():  # e.g. a playground tab drawing a frame
        with cr.no_grad():
            inside.set()
            assert done.wait(timeout=30)
            return cr.is_grad_enabled()

    t = threading.Thread(target=lambda: results.append(frame()))
    results = []
    t.start()
    assert inside.wait(timeout=30)
    try:
        assert cr.is_grad_enabled()  # this thread still records
        x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = (x * x).sum()
        assert y.requires_grad
        y.backward()
        np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    finally:
        done.set()
        t.join(timeout=30)
    assert results == [False]  # ... while the other one was in no_grad
    assert cr.is_grad_enabled()


def test_a_new_thread_records_even_inside_no_grad_and_keeps_its_own_switch():
    def work():
        x = cr.tensor(np.array([3.0]), requires_grad=True)
        recorded = (x * 2).requires_grad
        with cr.no_grad():
            off = not (x * 2).requires_grad
        return recorded, off, cr.is_grad_enabled()

    with cr.no_grad():
        assert _in_other_thread(work) == (True, True, True)
        assert not cr.is_grad_enabled()  # the other thread's exit left this one alone
    assert cr.is_grad_enabled()


def test_one_grad_mode_object_shared_by_threads_restores_each_threads_own_mode():
    """A decorator instance (``@enable_grad()``) or one ``with`` object used by two threads
    whose blocks overlap: each thread gets back its own mode on exit (a shared stack of
    saved modes handed one thread's mode to the other)."""
    for make in (lambda shared: shared(lambda wait: wait()),  # as a decorator
                 lambda shared: lambda wait: _with(shared, wait)):  # as a with object
        shared = cr.enable_grad()
        run = make(shared)
        inside1, inside2, left1 = threading.Event(), threading.Event(), threading.Event()
        after = {}

        def first():
            run(lambda: (inside1.set(), inside2.wait(timeout=30)))
            after["first"] = cr.is_grad_enabled()  # recording, as before the block
            left1.set()

        def second():
            with cr.no_grad():
                assert inside1.wait(timeout=30)
                run(lambda: (inside2.set(), left1.wait(timeout=30)))
                after["second"] = cr.is_grad_enabled()  # back in its no_grad

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert after == {"first": True, "second": False}


def _with(manager, wait):
    with manager:
        wait()
