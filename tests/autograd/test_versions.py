"""A tensor changed after an op saved it for backward (issue 14 item 6): version counters
for in-place changes (PyTorch's ``_version``), checksums for writes through ``.numpy()``,
and in-place parameter updates under ``no_grad`` that keep the parameter a leaf."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import engine
from chainrule.autograd.mode import no_grad


def leaf(values=(1.0, 2.0, 3.0)):
    return cr.tensor(np.array(values, dtype=np.float64), requires_grad=True)


# ----------------------------------------------------------------- raw writes via .numpy()


def test_write_through_numpy_after_save_raises_naming_the_op():
    x = leaf()
    y = (x * x).sum()
    x.numpy()[...] = 10  # the repro: silently gave [20, 20, 20] before
    with pytest.raises(RuntimeError, match=r"'mul'.*\.numpy\(\)"):
        y.backward()


def test_reading_numpy_is_fine_and_a_write_before_the_op_counts():
    x = leaf()
    y = (x * x).sum()
    assert x.numpy().tolist() == [1.0, 2.0, 3.0]  # read only: no error
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    z = leaf()
    z.numpy()[...] = [3.0, 2.0, 1.0]  # before any op saved it
    (z * z).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [6.0, 4.0, 2.0])


def test_array_exposed_before_forward_and_again_after_is_not_a_false_alarm():
    w = leaf()
    a = w.numpy()
    a[...] = 5.0  # initialisation through the array, before the forward pass
    loss = (w * w).sum()
    print(w.numpy())  # exposed again after the forward pass, values unchanged since
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [10.0, 10.0, 10.0])


def test_write_between_two_exposures_after_save_is_caught():
    x = leaf()
    y = (x * x).sum()
    x.numpy()[0] = 7.0
    x.numpy()  # a second exposure does not hide the first write
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()


def test_an_exposed_weight_saved_by_many_nodes_is_checksummed_once(monkeypatch):
    from chainrule.autograd import versions

    w = cr.tensor(np.full((4, 4), 0.1), requires_grad=True)
    h = cr.tensor(np.ones((1, 4)))
    for _ in range(20):  # one weight, saved by 20 matmuls
        h = (h @ w).tanh()
    w.numpy()  # looked at between forward and backward
    calls = []
    real = versions._crc
    monkeypatch.setattr(versions, "_crc", lambda a: calls.append(1) or real(a))
    h.sum().backward()
    assert len(calls) == 1 and w.grad is not None


# ----------------------------------------------------------------- tracked in-place changes


def test_in_place_change_after_save_raises_with_the_version():
    x = leaf()
    y = (x * x).sum()
    assert x._version == 0
    with no_grad():
        x.add_(1.0)
    assert x._version == 1
    with pytest.raises(RuntimeError, match=r"modified by an in-place.*'mul'.*add_.*version 1"):
        y.backward()


def test_saved_output_changed_in_place_raises():
    x = leaf()
    y = x.exp()  # exp's rule reads its output
    with no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="output of 'exp'.*mul_"):
        y.sum().backward()


def test_views_and_detach_share_the_version():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = (x * x).sum()
    d = x.detach()  # shares the memory (and, as in PyTorch, the version)
    d[0] = 100.0
    assert x._version == d._version == 1
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()
    base = cr.tensor(np.arange(6.0))
    view = base.reshape(2, 3)
    view.fill_(0.0)
    assert base._version == 1 and not base.numpy().any()


def test_second_backward_after_change_raises_and_grad_function_checks_too():
    x = leaf()
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    with no_grad():
        x.sub_(1.0)
    with pytest.raises(RuntimeError, match="'mul'"):
        y.backward()
    z = (x.sin()).sum()
    x.numpy()[1] = 0.0
    with pytest.raises(RuntimeError, match="'sin'"):
        engine.grad([z], [x])


def test_change_after_backward_is_fine():
    x = leaf()
    (x * x).sum().backward()
    with no_grad():
        x.add_(1.0)
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0, 8.0])


# ----------------------------------------------------------------- parameters under no_grad


def test_augmented_update_under_no_grad_keeps_the_leaf():
    w = leaf()
    same = w
    for _ in range(3):
        (w * w).sum().backward()
        with no_grad():
            w -= 0.25 * w.grad  # failed on the next backward before ("does not require grad")
        w.grad = None
    assert w is same and w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.numpy(), np.array([1.0, 2.0, 3.0]) * 0.5**3)
    with no_grad():
        w.sub_(w)
        w += 1.0
        w *= 3.0
        w /= 2.0
    np.testing.assert_array_equal(w.numpy(), [1.5, 1.5, 1.5])
    assert w.is_leaf and w.requires_grad


def test_in_place_on_a_leaf_that_requires_grad_while_recording_raises():
    w = leaf()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w -= 1.0
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 3.0
    assert w._version == 0 and w.numpy().tolist() == [1.0, 2.0, 3.0]


def test_augmented_assignment_on_a_recorded_tensor_stays_differentiable():
    x = leaf()
    h = x * 2.0
    h += x * x  # a non-leaf while recording: out of place, the name rebinds
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0, 8.0])
    c = cr.tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match="out-of-place"):
        c.add_(x)  # would need recording


def test_in_place_on_plain_tensors_follows_numpy():
    t = cr.tensor(np.arange(4.0))
    t[1:3] = cr.tensor([9.0, 8.0])
    t.clamp_(max=8.5)
    assert t.numpy().tolist() == [0.0, 8.5, 8.0, 3.0] and t._version == 2
    t.copy_(np.ones(4, dtype=np.float32))
    t.zero_()
    assert t.numpy().tolist() == [0.0] * 4 and t.dtype == np.float64
    with pytest.raises(RuntimeError, match=r"shape \(2, 4\).*shape \(4,\)"):
        t.add_(np.ones((2, 4)))
    i = cr.tensor([1, 2])
    with pytest.raises(TypeError):
        i.mul_(0.5)  # float into int64, as PyTorch refuses


# ----------------------------------------------------------------- optimizers


def test_optimizer_step_before_backward_raises_and_normal_loop_trains():
    w = leaf()
    from chainrule import optim

    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="SGD.step"):
        loss.backward()
    w2 = leaf()
    opt2 = optim.Adam([w2], lr=0.1)
    for _ in range(5):
        opt2.zero_grad()
        (w2 * w2).sum().backward()
        opt2.step()
    assert w2.is_leaf and np.all(np.abs(w2.numpy()) < [1.0, 2.0, 3.0])


def test_loading_weights_after_the_forward_pass_is_caught():
    from chainrule import nn

    model = nn.Linear(3, 2)
    loss = model(np.ones((1, 3), dtype=np.float32)).sum()
    model.load_state_dict({k: v + 1 for k, v in model.state_dict().items()})
    with pytest.raises(RuntimeError, match="load_state_dict"):
        loss.backward()
