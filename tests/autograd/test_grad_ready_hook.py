"""``register_grad_ready_hook``: called once per leaf per backward, when its ``.grad`` is
final (what overlapping the gradient all-reduce with backward relies on, issue 18)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.autograd.engine import GRAD_READY_HOOKS, register_grad_ready_hook


def test_each_leaf_is_reported_once_with_its_final_gradient():
    a = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = cr.tensor(np.array([3.0, 4.0]), requires_grad=True)
    c = cr.tensor(np.array([5.0, 6.0]), requires_grad=True)  # reached, zero derivative
    seen = []
    remove = register_grad_ready_hook(
        lambda leaf: seen.append((leaf, leaf.grad.numpy().copy())))
    try:
        # a is used on three paths: its hook must come after all three contributions
        y = (a * b).sum() + (a * a).sum() + (a.sum() * 2.0) + (c * 0.0).sum()
        y.backward()
    finally:
        remove()
    got = {id(leaf): g for leaf, g in seen}
    assert len(seen) == 3 and len(got) == 3
    np.testing.assert_array_equal(got[id(a)], b.numpy() + 2 * a.numpy() + 2.0)
    np.testing.assert_array_equal(got[id(b)], a.numpy())
    np.testing.assert_array_equal(got[id(c)], [0.0, 0.0])


def test_a_second_backward_reports_the_accumulated_gradient():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    remove = register_grad_ready_hook(lambda leaf: seen.append(leaf.grad.numpy().copy()))
    try:
        (x * 3.0).sum().backward()
        (x * 4.0).sum().backward()  # accumulates into .grad, as PyTorch does
    finally:
        remove()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(seen[1], [7.0, 7.0])


def test_removed_hooks_are_not_called_and_no_hook_costs_nothing():
    x = cr.tensor(np.ones(3), requires_grad=True)
    calls = []
    remove = register_grad_ready_hook(calls.append)
    remove()
    remove()  # twice is harmless
    (x * 2.0).sum().backward()
    assert calls == [] and calls.append not in GRAD_READY_HOOKS
