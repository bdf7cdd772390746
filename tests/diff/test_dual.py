"""Dual numbers: textbook numbers, every rule against finite differences, seeds, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.diff import dual as D
from chainrule.diff.dual import Dual, derivative, gradient, jacobian, partials
from chainrule.diff.errors import DiffError
from chainrule.diff.numeric import CountingFunction, numeric_gradient, numeric_jacobian


def f_xy(x, y):
    return x * x * y + y + 2


def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_printing():
    assert str(3 + Dual(3, 4)) == "6.0 + 4.0ε"
    assert str(Dual(3, 4) * Dual(5, 7)) == "15.0 + 41.0ε"
    assert str(Dual(1, -2)) == "1.0 - 2.0ε"
    assert repr(Dual(1, 2)) == "Dual(1.0, 2.0)"


def test_textbook_function():
    y = f_xy(Dual(3, 1), 4)
    assert (y.real, y.eps) == (42.0, 24.0)
    assert f_xy(3, Dual(4, 1)).eps == 10.0
    assert partials(f_xy, 3, 4) == [24.0, 10.0]
    assert gradient(f_xy, 3, 4) == [24.0, 10.0]


def test_partials_costs_one_pass_per_input_gradient_one_pass():
    counted = CountingFunction(f_xy)
    partials(counted, 3.0, 4.0)
    assert counted.calls == 2
    counted.reset()
    gradient(counted, 3.0, 4.0)
    assert counted.calls == 1


def test_division_rule_and_reflected_ops():
    q = Dual(3, 4) / Dual(5, 7)
    assert q.real == pytest.approx(3 / 5)
    assert q.eps == pytest.approx((4 * 5 - 3 * 7) / 25)
    r = 2 / Dual(4, 1)
    assert (r.real, r.eps) == (0.5, -2 / 16)
    s = 10 - Dual(4, 1)
    assert (s.real, s.eps) == (6.0, -1.0)
    n = -Dual(2, 3)
    assert (n.real, n.eps) == (-2.0, -3.0)
    a = abs(Dual(-2, 3))
    assert (a.real, a.eps) == (2.0, -3.0)
    assert D.abs(Dual(0.0, 1.0)).eps == 0.0  # |x|'(0) = 0


def test_comparisons_use_real_part():
    assert Dual(3, 1) < Dual(4, -5)
    assert Dual(3, 1) >= 3
    assert Dual(3, 1) == Dual(3, 2)
    assert 2 < Dual(3, 0)
    assert hash(Dual(3, 1)) == hash(3.0)


def test_power_with_constant_and_dual_exponents():
    p = Dual(2, 1) ** 3
    assert (p.real, p.eps) == (8.0, 12.0)
    q = Dual(-2, 1) ** 2
    assert (q.real, q.eps) == (4.0, -4.0)
    r = Dual(2, 1) ** Dual(3, 1)
    assert r.eps == pytest.approx(3 * 4 + 8 * math.log(2))
    t = 2 ** Dual(3, 1)
    assert t.eps == pytest.approx(8 * math.log(2))
    assert D.pow(Dual(4, 1), 0.5).eps == pytest.approx(0.25)
    assert (Dual(5, 1) ** 0).eps == 0.0


FUNCS = [
    (D.exp, 0.7),
    (D.log, 1.3),
    (D.sqrt, 2.0),
    (D.sin, 0.4),
    (D.cos, 0.4),
    (D.tan, 0.3),
    (D.tanh, -0.8),
    (D.sigmoid, 0.6),
    (D.relu, 0.9),
    (D.relu, -0.9),
    (D.abs, -1.5),
    (lambda x: D.pow(x, 2.5), 1.7),
    (lambda x: D.pow(1.5, x), 0.3),
    (lambda x: x**x, 1.4),
    (lambda x: 1 / (1 + x * x) - x / 3, 0.5),
    (lambda x: D.exp(D.sin(x) * D.log(x + 2)) / D.sqrt(x + 1), 0.8),
]


@pytest.mark.parametrize(("fn", "x"), FUNCS)
def test_rules_match_finite_differences(fn, x):
    assert derivative(fn, x) == pytest.approx(central(fn, x), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid"])
def test_functions_accept_numbers_and_arrays(name):
    fn = getattr(D, name)
    x = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(
        fn(x), getattr(np, name)(x) if name != "sigmoid" else 1 / (1 + np.exp(-x))
    )
    assert isinstance(fn(0.5), float)


def test_sigmoid_is_overflow_safe():
    assert D.sigmoid(-1e4) == 0.0 and D.sigmoid(1e4) == 1.0
    assert D.sigmoid(Dual(-1e4, 1.0)).eps == 0.0


def test_numpy_ufuncs_and_arrays_dispatch():
    d = np.exp(Dual(0.0, 1.0))
    assert isinstance(d, Dual) and d.eps == 1.0
    v = np.array([1.0, 2.0]) * Dual(3.0, 1.0)
    np.testing.assert_array_equal(v.real, [3.0, 6.0])
    np.testing.assert_array_equal(v.eps, [1.0, 2.0])
    x = np.array([0.2, 0.5, 1.5])
    np.testing.assert_allclose(derivative(np.sin, x), np.cos(x))


def test_directional_derivative_with_array_eps():
    x, v = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    out = D.sin(Dual(x, v)) * Dual(x, v)
    np.testing.assert_allclose(out.eps, (np.cos(x) * x + np.sin(x)) * v)


def test_jacobian_one_pass_matches_numeric():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2))
    x = rng.normal(size=3)
    fn = lambda v: D.tanh(v @ w) * v[0] + D.sigmoid(v[1:].sum())
    counted = CountingFunction(fn)
    jac = jacobian(counted, x)
    assert counted.calls == 1 and jac.shape == (2, 3)
    np.testing.assert_allclose(jac, numeric_jacobian(lambda v: fn(v), x), atol=1e-8)


def test_jacobian_of_matrix_input_and_list_output():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    jac = jacobian(lambda m: (m * m).sum(axis=0), x)
    assert jac.shape == (2, 2, 2)
    np.testing.assert_allclose(jac, numeric_jacobian(lambda m: (m * m).sum(axis=0), x), atol=1e-7)
    jl = jacobian(lambda v: [v[0] * v[1], D.exp(v[1])], np.array([2.0, 0.0]))
    np.testing.assert_allclose(jl, [[0.0, 2.0], [0.0, 1.0]])


def test_gradient_mixed_scalar_and_array_args():
    w = np.array([0.5, -1.0, 2.0])
    fn = lambda a, v: D.exp(a * v).sum() + (a * a * v).mean()
    ga, gv = gradient(fn, 0.3, w)
    num = numeric_gradient(lambda z: fn(z[0], z[1:]), np.concatenate([[0.3], w]))
    assert ga == pytest.approx(num[0], rel=1e-7)
    np.testing.assert_allclose(gv, num[1:], rtol=1e-7)


def test_constant_function_has_zero_derivative():
    assert derivative(lambda x: 5.0, 1.0) == 0.0
    np.testing.assert_array_equal(jacobian(lambda v: np.ones(2), np.zeros(3)), np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("thunk", "match"),
    [
        (lambda: Dual(1, 1) / Dual(0, 5), "division by zero"),
        (lambda: 1 / Dual(0.0, 1.0), "division by zero"),
        (lambda: D.log(Dual(0.0, 1.0)), "log"),
        (lambda: D.log(-1.0), "log"),
        (lambda: D.sqrt(Dual(0.0, 1.0)), "sqrt"),
        (lambda: D.sqrt(Dual(-4.0, 1.0)), "sqrt"),
        (lambda: D.sqrt(-1.0), "sqrt"),
        (lambda: D.log(Dual(np.array([1.0, -1.0]), 1.0)), "log"),
        (lambda: Dual(-2, 1) ** 0.5, "negative base"),
        (lambda: Dual(0, 1) ** -1, "division by zero"),
        (lambda: Dual(-2, 1) ** Dual(2, 1), "base must be positive"),
        (lambda: Dual(np.zeros(2), np.zeros(3)), "eps shape"),
        (lambda: Dual("abc"), "cannot use"),
        (lambda: Dual(Dual(1, 1)), "nested"),
    ],
)
def test_domain_errors_are_clear(thunk, match):
    with pytest.raises(DiffError, match=match):
        thunk()


def test_sqrt_of_plain_zero_is_zero():
    assert D.sqrt(0.0) == 0.0
