"""Finite differences: exact textbook numbers, evaluation counts, shapes, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.diff import DiffError
from chainrule.diff.numeric import (
    CountingFunction,
    derivative,
    gradients,
    numeric_gradient,
    numeric_hessian,
    numeric_jacobian,
)


def f_xy(x, y):
    return x * x * y + y + 2


def test_gradients_matches_hands_on_ml_bit_for_bit():
    assert gradients(f_xy, [3, 4]) == [24.000400000048216, 10.000000000047748]


def test_gradients_costs_n_plus_one_calls():
    counted = CountingFunction(f_xy)
    gradients(counted, [3.0, 4.0])
    assert counted.calls == 3
    counted.reset()
    assert counted.calls == 0
    five = CountingFunction(lambda *v: sum(t * t for t in v))
    gradients(five, [1.0] * 5)
    assert five.calls == 6


def test_counting_function_keeps_name_and_passes_kwargs():
    def area(w, h=2.0):
        return w * h

    counted = CountingFunction(area)
    assert counted(3.0, h=4.0) == 12.0
    assert counted.__name__ == "area"
    assert "calls=1" in repr(counted)


def test_derivative_forward_and_central():
    assert derivative(lambda x: x**2, 3.0) == pytest.approx(6.0, abs=1e-5)
    assert derivative(math.sin, 1.0, method="central") == pytest.approx(math.cos(1.0), abs=1e-9)
    counted = CountingFunction(math.exp)
    derivative(counted, 0.0, method="forward")
    assert counted.calls == 2


def test_numeric_gradient_shape_dtype_and_values():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    g = numeric_gradient(lambda v: np.sum(v**3), x)
    assert g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, 3 * x.astype(np.float64) ** 2, rtol=1e-7)


def test_numeric_gradient_accepts_scalars_and_size_one_outputs():
    g = numeric_gradient(lambda v: np.array([v**2]), 3.0)
    assert g.shape == () and float(g) == pytest.approx(6.0)


def test_numeric_tools_do_not_mutate_input():
    x = np.array([1.0, -2.0, 0.5])
    before = x.copy()
    numeric_gradient(lambda v: np.sum(np.sin(v)), x)
    numeric_jacobian(lambda v: v * v, x)
    numeric_hessian(lambda v: np.sum(v**3), x)
    np.testing.assert_array_equal(x, before)


def test_numeric_jacobian_shape_convention():
    x = np.array([1.0, 2.0, 3.0])
    jac = numeric_jacobian(lambda v: np.outer(v, v[:2]), x)
    assert jac.shape == (3, 2, 3)
    expected = np.zeros((3, 2, 3))
    for i in range(3):
        for j in range(2):
            expected[i, j, i] += x[j]
            expected[i, j, j] += x[i]
    np.testing.assert_allclose(jac, expected, atol=1e-7)


def test_numeric_hessian_textbook_and_symmetric():
    h = numeric_hessian(lambda v: f_xy(v[0], v[1]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(h, [[8.0, 6.0], [6.0, 0.0]], atol=1e-5)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 2))
    hm = numeric_hessian(lambda m: np.sum(np.tanh(m @ a) ** 2), rng.normal(size=(2, 2)))
    assert hm.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(hm.reshape(4, 4), hm.reshape(4, 4).T)


@pytest.mark.parametrize("eps", [0.0, -1e-3, float("nan"), float("inf"), "a"])
def test_bad_eps(eps):
    with pytest.raises(DiffError, match="eps"):
        numeric_gradient(np.sum, np.ones(2), eps=eps)
    with pytest.raises(ValueError, match="eps"):
        gradients(f_xy, [1.0, 2.0], eps=eps)


def test_bad_method():
    with pytest.raises(DiffError, match="method"):
        derivative(math.sin, 1.0, method="backward")


def test_non_finite_value_raises():
    with pytest.raises(DiffError, match="non-finite"):
        gradients(lambda x: math.inf, [1.0])
    with pytest.raises(DiffError, match="non-finite"):
        numeric_gradient(lambda v: np.nan if v[0] < 0 else 0.0, np.array([0.0]))
    with pytest.raises(DiffError, match="non-finite"):
        numeric_jacobian(lambda v: v * np.inf, np.ones(2))


def test_non_scalar_output_raises():
    with pytest.raises(DiffError, match="scalar"):
        numeric_gradient(lambda v: v, np.ones(3))
