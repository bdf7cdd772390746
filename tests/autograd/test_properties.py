"""Property-based tests of the tensor engine (hypothesis).

For random mutually broadcastable shapes and random reduction axes:

* ``cr.gradcheck`` passes (reverse-mode vjp and forward-mode jvp against central
  differences), and ``cr.gradgradcheck`` for a subset;
* every gradient has its input's shape (the engine undoes broadcasting) and equals the
  NumPy reference: the upstream gradient times the local derivative, summed over the axes
  that broadcasting added or stretched;
* reductions give NumPy's output shape for any ``axis`` (None, an int, a tuple, even ``()``)
  and ``keepdims``.

Values are kept where the ops are smooth: denominators away from 0, ``maximum`` operands
and ``max`` groups free of ties (values on offset grids, so no two are within 0.1 / 0.01).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

SETTINGS = settings(deadline=None, max_examples=25,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GRADGRAD = settings(deadline=None, max_examples=20,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --------------------------------------------------------------------------- strategies

SMOOTH = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
AWAY_FROM_ZERO = st.one_of(st.floats(0.5, 2.0), st.floats(-2.0, -0.5))
EVEN_GRID = st.integers(-10, 10).map(lambda k: 0.2 * k)  # maximum/minimum operand a
ODD_GRID = st.integers(-10, 10).map(lambda k: 0.2 * k + 0.1)  # operand b: |a - b| >= 0.1
DISTINCT = st.integers(-300, 300).map(lambda k: 0.01 * k)  # with unique=True: no ties

# value strategy of each operand, per binary op
BINARY: dict[str, tuple[Callable, Callable, Any, Any]] = {
    # name: (chainrule op, NumPy reference of (da, db) given (a, b), strategy a, strategy b)
    "add": (cr.add, lambda a, b: (np.ones_like(a + b), np.ones_like(a + b)), SMOOTH, SMOOTH),
    "sub": (cr.sub, lambda a, b: (np.ones_like(a + b), -np.ones_like(a + b)), SMOOTH, SMOOTH),
    "mul": (cr.mul, lambda a, b: (b + 0 * a, a + 0 * b), SMOOTH, SMOOTH),
    "div": (cr.div, lambda a, b: (1 / b + 0 * a, -a / b ** 2), SMOOTH, AWAY_FROM_ZERO),
    "maximum": (cr.maximum, lambda a, b: ((a > b) * 1.0, (b > a) * 1.0), EVEN_GRID, ODD_GRID),
    "minimum": (cr.minimum, lambda a, b: ((a < b) * 1.0, (b < a) * 1.0), EVEN_GRID, ODD_GRID),
}

two_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                               min_side=1, max_side=4)
three_shapes = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3,
                                                 min_side=1, max_side=3)


@st.composite
def binary_inputs(draw: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    _, _, sa, sb = BINARY[name]
    shapes = draw(two_shapes).input_shapes
    a = draw(hnp.arrays(np.float64, shapes[0], elements=sa))
    b = draw(hnp.arrays(np.float64, shapes[1], elements=sb))
    return a, b


@st.composite
def where_inputs(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sc, sa, sb = draw(three_shapes).input_shapes
    cond = draw(hnp.arrays(np.bool_, sc))
    return (cond, draw(hnp.arrays(np.float64, sa, elements=SMOOTH)),
            draw(hnp.arrays(np.float64, sb, elements=SMOOTH)))


@st.composite
def reduction_inputs(draw: Any, distinct: bool = False) -> tuple[np.ndarray, Any, bool]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          hnp.valid_tuple_axes(nd, min_size=0)))
    elements = DISTINCT if distinct else SMOOTH
    x = draw(hnp.arrays(np.float64, shape, elements=elements, unique=distinct))
    return x, axis, draw(st.booleans())


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """NumPy reference: sum ``g`` over the axes broadcasting added or stretched to ``shape``."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True).reshape(shape)


# --------------------------------------------------------------------------- binary ops


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_gradcheck(name: str, data: Any) -> None:
    a, b = data.draw(binary_inputs(name))
    assert cr.gradcheck(BINARY[name][0], [a, b])


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_gradient_shape_and_value(name: str, data: Any) -> None:
    op, partials, _, _ = BINARY[name]
    a, b = data.draw(binary_inputs(name))
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    y = op(ta, tb)
    assert y.shape == np.broadcast_shapes(a.shape, b.shape)
    assert y.dtype == np.float64
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(gradient=g)
    da, db = partials(a, b)
    for t, x, d in [(ta, a, da), (tb, b, db)]:
        got = np.zeros_like(x) if t.grad is None else t.grad.numpy()  # None = zero gradient
        assert got.shape == x.shape
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, unbroadcast(g * d, x.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mul", "div", "maximum"])
@GRADGRAD
@given(data=st.data())
def test_binary_gradgradcheck(name: str, data: Any) -> None:
    a, b = data.draw(binary_inputs(name))
    assert cr.gradgradcheck(BINARY[name][0], [a, b])


@SETTINGS
@given(inputs=where_inputs())
def test_where_gradcheck_and_shapes(inputs: tuple) -> None:
    cond, a, b = inputs
    assert cr.gradcheck(lambda x, y: cr.where(cond, x, y), [a, b])
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    y = cr.where(cond, ta, tb)
    assert y.shape == np.broadcast_shapes(cond.shape, a.shape, b.shape)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(gradient=g)
    c = np.broadcast_to(cond, y.shape)
    for t, x, d in [(ta, a, c), (tb, b, ~c)]:
        got = np.zeros_like(x) if t.grad is None else t.grad.numpy()
        assert got.shape == x.shape
        np.testing.assert_allclose(got, unbroadcast(g * d, x.shape), rtol=1e-12, atol=1e-12)


@GRADGRAD
@given(inputs=where_inputs())
def test_where_gradgradcheck(inputs: tuple) -> None:
    cond, a, b = inputs
    assert cr.gradgradcheck(lambda x, y: cr.where(cond, x * y, y * y), [a, b])


# --------------------------------------------------------------------------- reductions

REDUCTIONS: dict[str, tuple[Callable, Callable, bool]] = {
    # name: (chainrule op, NumPy forward, needs tie-free values)
    "sum": (cr.sum, np.sum, False),
    "mean": (cr.mean, np.mean, False),
    "max": (cr.max, np.max, True),
    "logsumexp": (cr.logsumexp, lambda x, axis, keepdims: np.log(
        np.sum(np.exp(x), axis=axis, keepdims=keepdims)), False),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(data=st.data())
def test_reduction_gradcheck_and_shapes(name: str, data: Any) -> None:
    op, ref, distinct = REDUCTIONS[name]
    x, axis, keep = data.draw(reduction_inputs(distinct))
    want = ref(x, axis=axis, keepdims=keep)
    tx = cr.tensor(x, requires_grad=True)
    y = op(tx, axis, keep)
    assert y.shape == np.shape(want)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    y.backward(gradient=np.ones(y.shape))
    assert tx.grad is not None and tx.grad.shape == x.shape
    assert cr.gradcheck(lambda t: op(t, axis, keep), [x])


@pytest.mark.parametrize("name", ["mean", "max", "logsumexp"])
@GRADGRAD
@given(data=st.data())
def test_reduction_gradgradcheck(name: str, data: Any) -> None:
    op, _, distinct = REDUCTIONS[name]
    x, axis, keep = data.draw(reduction_inputs(distinct))
    # t + t**3 is increasing (ties stay absent, gaps only widen) and, with the square, gives
    # even the linear reductions a non-zero second derivative
    assert cr.gradgradcheck(lambda t: op(t + t ** 3, axis, keep) ** 2, [x])


@SETTINGS
@given(data=st.data())
def test_sum_gradient_is_broadcast_upstream(data: Any) -> None:
    """d sum / dx is the upstream gradient broadcast back over the reduced axes."""
    x, axis, keep = data.draw(reduction_inputs())
    tx = cr.tensor(x, requires_grad=True)
    y = cr.sum(tx, axis, keep)
    g = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(gradient=g)
    g_kept = g if keep else np.expand_dims(g, axis) if axis is not None else g.reshape(
        (1,) * x.ndim)
    np.testing.assert_array_equal(tx.grad.numpy(), np.broadcast_to(g_kept, x.shape))


# --------------------------------------------------------------------------- ties

TIED = st.integers(-2, 2).map(float)  # a small grid: ties everywhere


@SETTINGS
@given(shapes=two_shapes, data=st.data())
def test_maximum_minimum_ties_split_the_gradient(shapes: Any, data: Any) -> None:
    """On a tie each side of maximum/minimum gets half: the two gradients always add up to
    the (unbroadcast) upstream gradient."""
    sa, sb = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float64, sa, elements=TIED))
    b = data.draw(hnp.arrays(np.float64, sb, elements=TIED))
    for op, wins in [(cr.maximum, np.greater), (cr.minimum, np.less)]:
        ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
        y = op(ta, tb)
        g = np.random.default_rng(3).standard_normal(y.shape)
        y.backward(gradient=g)
        share_a = wins(a, b) + 0.5 * (a == b)
        share_b = wins(b, a) + 0.5 * (a == b)
        np.testing.assert_allclose(ta.grad.numpy(), unbroadcast(g * share_a, a.shape),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tb.grad.numpy(), unbroadcast(g * share_b, b.shape),
                                   rtol=1e-12, atol=1e-12)


@SETTINGS
@given(data=st.data())
def test_max_min_ties_share_the_gradient_equally(data: Any) -> None:
    """Tied extremes of a reduction split the gradient equally; the shares of each reduced
    group add up to 1 and non-extreme elements get 0."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                               hnp.valid_tuple_axes(nd, min_size=1)))
    x = data.draw(hnp.arrays(np.float64, shape, elements=TIED))
    for op, ref in [(cr.max, np.max), (cr.min, np.min)]:
        tx = cr.tensor(x, requires_grad=True)
        y = op(tx, axis, True)
        y.backward(gradient=np.ones(y.shape))
        hit = x == ref(x, axis=axis, keepdims=True)
        want = hit / hit.sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(tx.grad.numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(tx.grad.numpy().sum(axis=axis), 1.0, rtol=1e-12)
