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
