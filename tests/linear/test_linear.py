"""chainrule.linear reproduces Hands-On ML chapter 4 (normal equation, batch, stochastic and
mini-batch gradient descent) and documents its random-number conventions."""

from math import ceil

import numpy as np
import pytest

import chainrule as cr
import chainrule.linear as L

BOOK_THETA = [4.21509616, 2.77011339]
BOOK_SGD = [4.21076011, 2.74856079]


@pytest.fixture
def global_rng():
    """Let a test use NumPy's global legacy state and put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture(scope="module")
def data():
    return L.book_data()


def book_notebook():
    """The book's notebook cells, verbatim in substance (3rd edition, PR #192 schedule)."""
    np.random.seed(42)
    m = 100
    X = 2 * np.random.rand(m, 1)
    y = 4 + 3 * X + np.random.randn(m, 1)
    X_b = np.c_[np.ones((m, 1)), X]

    np.random.seed(42)
    theta = np.random.randn(2, 1)
    for _ in range(1000):
        theta = theta - 0.1 * (2 / m * X_b.T @ (X_b @ theta - y))
    bgd = theta

    np.random.seed(42)
    theta = np.random.randn(2, 1)
    path = [theta]
    for epoch in range(50):
        for i in range(m):
            k = np.random.randint(m)
            xi, yi = X_b[k:k + 1], y[k:k + 1]
            theta = theta - 5 / (epoch * m + i + 50) * (2 * xi.T @ (xi @ theta - yi))
            path.append(theta)
    sgd = np.array(path)[:, :, 0]

    np.random.seed(42)
    theta = np.random.randn(2, 1)
    for epoch in range(50):
        order = np.random.permutation(m)
        Xs, ys = X_b[order], y[order]
        for i in range(ceil(m / 20)):
            xi, yi = Xs[i * 20:i * 20 + 20], ys[i * 20:i * 20 + 20]
            theta = theta - 200 / (epoch * 5 + i + 1000) * (2 / 20 * xi.T @ (xi @ theta - yi))
    return X, y, bgd[:, 0], sgd, theta[:, 0]


def test_book_data_matches_the_global_seed(data, global_rng):
    np.random.seed(42)
    X = 2 * np.random.rand(100, 1)
    y = 4 + 3 * X + np.random.randn(100, 1)
    np.testing.assert_array_equal(data[0], X)
    np.testing.assert_array_equal(data[1], y)


def test_normal_equation_book_value(data):
    theta = L.normal_equation(*data)
    assert theta.shape == (2,)
    np.testing.assert_allclose(theta, BOOK_THETA, atol=1e-8)
    # y as (m,), and the bias column given by hand with fit_intercept=False
    np.testing.assert_allclose(L.normal_equation(data[0][:, 0], data[1][:, 0]), theta)
    np.testing.assert_allclose(L.normal_equation(L.add_bias(data[0]), data[1],
                                                 fit_intercept=False), theta)


def test_normal_equation_several_features():
    rs = np.random.RandomState(0)
    X = rs.randn(50, 3)
    y = 1.5 + X @ [2.0, -1.0, 0.5] + 0.01 * rs.randn(50)
    theta = L.normal_equation(X, y)
    np.testing.assert_allclose(theta, np.linalg.lstsq(L.add_bias(X), y, rcond=None)[0])
    assert abs(theta[0] - 1.5) < 0.02
    gd = L.batch_gd(X, y, lr=0.1, epochs=2000)
    np.testing.assert_allclose(gd.theta, theta, atol=1e-8)


def test_batch_gd_book_value_and_path(data):
    r = L.batch_gd(*data)
    np.testing.assert_allclose(r.theta, BOOK_THETA, atol=1e-6)
    np.testing.assert_allclose(r.theta, L.normal_equation(*data), atol=1e-12)
    assert r.path.shape == (1001, 2) and r.losses.shape == (1001,) and r.lrs.shape == (1000,)
    np.testing.assert_allclose(r.path[0], np.random.RandomState(42).randn(2))
    assert r.steps == 1000 and r.updates_per_epoch == 1 and r.batch_size == 100
    np.testing.assert_allclose(r.losses[-1], L.mse(*data, r.theta))
    np.testing.assert_allclose(L.mse(*data, r.path[:3]), r.losses[:3])
    assert np.all(np.diff(r.losses) <= 1e-12)  # batch GD never goes up here


def test_stochastic_gd_book_value(data, global_rng):
    r = L.stochastic_gd(*data)
    np.testing.assert_allclose(r.theta, BOOK_SGD, atol=1e-8)
    assert r.path.shape == (5001, 2) and r.updates_per_epoch == 100
    assert r.lrs[0] == 5 / 50 and r.lrs[-1] == 5 / (4999 + 50)
    assert r.losses[-1] - L.mse(*data, L.normal_equation(*data)) < 1e-3


def test_bit_for_bit_with_the_book_notebook(global_rng):
    X, y, bgd, sgd_path, mgd = book_notebook()
    np.testing.assert_array_equal(L.batch_gd(X, y).theta, bgd)
    np.testing.assert_array_equal(L.stochastic_gd(X, y).path, sgd_path)
    np.testing.assert_array_equal(L.minibatch_gd(X, y).theta, mgd)


def test_minibatch_gd_and_the_printings(data):
    r = L.minibatch_gd(*data)
    np.testing.assert_allclose(r.theta, [4.25224124, 2.78970189], atol=1e-8)
    assert r.path.shape == (251, 2) and r.updates_per_epoch == 5
    assert r.losses[-1] - L.mse(*data, L.normal_equation(*data)) < 5e-3
    first_3rd = L.minibatch_gd(*data, lr=lambda t: 200 / (t % 5 + 1000))
    np.testing.assert_allclose(first_3rd.theta, [4.2857119, 2.8119161], atol=1e-7)
    second = L.minibatch_gd(*data, lr=lambda t: 200 / (t + 1 + 1000))
    np.testing.assert_allclose(second.theta, [4.25214635, 2.7896408], atol=1e-8)


def test_rng_conventions(data, global_rng):
    # None: the global legacy state as it stands — right after the book's data
    # generation without reseeding, SGD ends elsewhere than the book.
    np.random.seed(42)
    X = 2 * np.random.rand(100, 1)
    y = 4 + 3 * X + np.random.randn(100, 1)
    cont = L.stochastic_gd(X, y, rng=None)
    np.testing.assert_allclose(cont.theta, [4.19000137, 2.73381258], atol=1e-8)
    # a RandomState is used as is; a fresh one seeded 42 is the book
    np.testing.assert_array_equal(L.stochastic_gd(*data, rng=np.random.RandomState(42)).theta,
                                  L.stochastic_gd(*data, rng=42).theta)
    # a Generator: its own (different) stream, repeatable
    g1 = L.stochastic_gd(*data, rng=np.random.default_rng(42))
    g2 = L.stochastic_gd(*data, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(g1.path, g2.path)
    np.testing.assert_allclose(g1.theta, [4.26111365, 2.78107079], atol=1e-8)


def test_int_seed_leaves_global_state_alone(data, global_rng):
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    L.stochastic_gd(*data, epochs=1)
    L.minibatch_gd(*data, epochs=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_sampling_options(data):
    shuffled = L.stochastic_gd(*data, sampling="shuffle", epochs=5)
    assert shuffled.sampling == "shuffle" and shuffled.steps == 500
    replaced = L.minibatch_gd(*data, sampling="with_replacement", epochs=5)
    assert replaced.steps == 25
    ordered = L.minibatch_gd(*data, sampling="none", epochs=5)
    assert ordered.steps == 25
    uneven = L.minibatch_gd(*data, batch_size=30, epochs=2)  # 30, 30, 30, 10 per epoch
    assert uneven.updates_per_epoch == 4 and uneven.steps == 8
    fixed = L.stochastic_gd(*data, lr=0.01, epochs=1, theta0=[4.0, 3.0])
    np.testing.assert_array_equal(fixed.path[0], [4.0, 3.0])
    assert np.all(fixed.lrs == 0.01)
    assert L.batch_gd(*data, epochs=0).path.shape == (1, 2)


@pytest.mark.parametrize("call, message", [
    (lambda X, y: L.batch_gd(X, y, lr=-0.1), "lr must be >= 0"),
    (lambda X, y: L.minibatch_gd(X, y, batch_size=101), "larger than the data"),
    (lambda X, y: L.minibatch_gd(X, y, batch_size=0), "batch_size must be >= 1"),
    (lambda X, y: L.minibatch_gd(X, y, batch_size=2.5), "batch_size must be an integer"),
    (lambda X, y: L.stochastic_gd(X, y, sampling="random"), "unknown sampling"),
    (lambda X, y: L.stochastic_gd(X, y, epochs=-1), "epochs must be"),
    (lambda X, y: L.stochastic_gd(X, y, t0=-5), "t0 must be >= 0"),
    (lambda X, y: L.stochastic_gd(X, y, t1=0), "t1 must be > 0"),
    (lambda X, y: L.gradient_descent(X, y, lr=0.1, t0=5, t1=50), "not both"),
    (lambda X, y: L.gradient_descent(X, y), "give a learning rate"),
    (lambda X, y: L.stochastic_gd(X, y, rng="42"), "rng must be"),
    (lambda X, y: L.stochastic_gd(X, y, rng=-1), "seed must be >= 0"),
    (lambda X, y: L.batch_gd(X, y, theta0=[1.0, 2.0, 3.0]), "theta0 has 3 values"),
    (lambda X, y: L.batch_gd(X, y[:50]), "X has 100 rows but y has 50"),
    (lambda X, y: L.normal_equation(X, np.full_like(y, np.nan)), "finite"),
    (lambda X, y: L.normal_equation(X[None], y), "X must be 1-D"),
    (lambda X, y: L.stochastic_gd(X, y, lr=lambda t: -1.0, epochs=1), "gave -1.0"),
])
def test_bad_input_is_one_clear_line(data, call, message):
    with pytest.raises(ValueError, match=message) as err:
        call(*data)
    assert "\n" not in str(err.value)


def test_divergence_is_reported(data):
    with pytest.raises(FloatingPointError, match="diverged"):
        L.batch_gd(*data, lr=10.0, epochs=2000)


def test_chainrule_linear_is_this_module():
    assert cr.linear is L
    assert callable(L.normal_equation)


def test_book_comparison_and_repr():
    runs = L.book_comparison()
    assert list(runs) == ["batch", "stochastic", "mini-batch"]
    for r in runs.values():  # all three start where the book's seed 42 puts them
        np.testing.assert_allclose(r.path[0], [0.49671415, -0.1382643], atol=1e-8)
    assert "4.21076011" in repr(runs["stochastic"])
