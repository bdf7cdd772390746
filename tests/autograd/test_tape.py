"""GradientTape with TensorFlow's semantics, including the textbook example."""

import numpy as np
import pytest

import chainrule as cr


def f(w1, w2):
    return 3 * w1 ** 2 + 2 * w1 * w2


def textbook(x, y):
    return x * x * y + y + 2


def test_textbook_gradients():
    x, y = cr.Variable(3.0), cr.Variable(4.0)
    with cr.GradientTape() as tape:
        z = textbook(x, y)
    assert [g.item() for g in tape.gradient(z, [x, y])] == [24.0, 10.0]


def test_textbook_hessian_with_persistent_tape():
    x, y = cr.Variable(3.0), cr.Variable(4.0)
    with cr.GradientTape(persistent=True) as hess_tape:
        with cr.GradientTape() as jac_tape:
            z = textbook(x, y)
        jacobians = jac_tape.gradient(z, [x, y])
    hessians = [hess_tape.gradient(j, [x, y]) for j in jacobians]
    as_values = [[None if h is None else h.item() for h in row] for row in hessians]
    assert as_values == [[8.0, 6.0], [6.0, None]]


def test_non_persistent_tape_is_used_once():
    w1, w2 = cr.Variable(5.0), cr.Variable(3.0)
    with cr.GradientTape() as tape:
        z = f(w1, w2)
    assert [g.item() for g in tape.gradient(z, [w1, w2])] == [36.0, 10.0]
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(z, w1)


def test_persistent_tape_can_be_reused():
    w1, w2 = cr.Variable(5.0), cr.Variable(3.0)
    with cr.GradientTape(persistent=True) as tape:
        z = f(w1, w2)
    assert tape.gradient(z, w1).item() == 36.0
    assert tape.gradient(z, w2).item() == 10.0


def test_watch_constants_and_unconnected_sources():
    c1, c2 = cr.tensor(5.0), cr.tensor(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(c1)
        z = f(c1, c2)
    assert tape.gradient(z, [c1, c2])[1] is None
    assert tape.gradient(z, [c1, c2], unconnected_gradients="zero")[1].item() == 0.0
    assert tape.gradient(z, c1).item() == 36.0


def test_non_scalar_target_is_summed_and_output_gradients_weight_it():
    x = cr.Variable([1.0, 2.0, 3.0])
    with cr.GradientTape(persistent=True) as tape:
        y = x * x
    assert tape.gradient(y, x).data.tolist() == [2.0, 4.0, 6.0]
    w = tape.gradient(y, x, output_gradients=[1.0, 0.0, 2.0])
    assert w.data.tolist() == [2.0, 0.0, 12.0]


def test_tape_jacobian():
    x = cr.Variable([1.0, 2.0])
    with cr.GradientTape() as tape:
        y = cr.stack([x[0] * x[1], x[0] + 3 * x[1], x[1] ** 2])
    np.testing.assert_allclose(tape.jacobian(y, x).data, [[2, 1], [1, 3], [0, 4]])


def test_nested_structures_of_sources():
    a, b = cr.Variable(2.0), cr.Variable(3.0)
    with cr.GradientTape() as tape:
        z = a * b
    grads = tape.gradient(z, {"a": a, "rest": [b]})
    assert grads["a"].item() == 3.0 and grads["rest"][0].item() == 2.0


def test_variable_assign():
    v = cr.Variable([1.0, 2.0])
    v.assign_sub([0.5, 0.5])
    assert v.data.tolist() == [0.5, 1.5]
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0])


def test_bad_arguments():
    x = cr.Variable(1.0)
    with cr.GradientTape() as tape:
        y = x * 2
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="zeros")
    with pytest.raises(TypeError, match="floating-point"):
        cr.GradientTape().watch(cr.tensor([1, 2]))


def test_tape_jacobian_of_nested_sources():
    x = cr.Variable([1.0, 2.0])
    z = cr.Variable(3.0)
    u = cr.Variable(0.0)
    with cr.GradientTape() as tape:
        y = x * z
    jac = tape.jacobian(y, {"x": x, "rest": [z, u]})
    np.testing.assert_allclose(jac["x"].data, 3.0 * np.eye(2))
    np.testing.assert_allclose(jac["rest"][0].data, [1.0, 2.0])
    assert jac["rest"][1] is None
