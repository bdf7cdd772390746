"""Test surfaces and optimizer walks (chainrule.optim.surfaces): every chainrule optimizer
reaches each surface's minimum with the documented defaults. Pictures of them:
tests/viz/test_viz_descent.py (chainrule.viz.descent re-exports the same objects)."""

import numpy as np
import pytest

import chainrule.linear as linear
import chainrule.optim as optim
from chainrule.optim import SGD, NAdam
from chainrule.optim import surfaces as S
from chainrule.viz import descent as D

SEVEN = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


@pytest.fixture(scope="module")
def walks():
    """All seven optimizers with the defaults, on every surface (computed once)."""
    return {name: S.compare_optimizers(name) for name in S.surface_names()}


@pytest.mark.parametrize("surface", ["rosenbrock", "beale", "saddle", "quadratic",
                                     "regression"])
def test_defaults_reach_the_minimum(walks, surface):
    surf = S.get_surface(surface)
    assert sorted(surf.lrs) == sorted(SEVEN)
    runs = walks[surface]
    assert [w.optimizer for w in runs.values()] == SEVEN
    for label, w in runs.items():
        assert not w.diverged, label
        assert w.path.shape == (surf.steps + 1, 2), label
        np.testing.assert_array_equal(w.path[0], surf.start)
        assert w.gap < surf.tolerance, (label, w.gap)
        # and by a large factor from where it started
        assert w.gap < 1e-3 * (w.losses[0] - surf.f_min), label
        # near a minimiser (Rosenbrock's valley is flat: SGD's f - f* = 9e-3 is 0.2 away)
        nearest = min(np.hypot(*(w.path[-1] - np.array(m))) for m in surf.minima)
        assert nearest < 0.25, (label, w.path[-1])


def test_momentum_and_adam_nail_rosenbrock(walks):
    runs = {w.optimizer: w for w in walks["rosenbrock"].values()}
    for name in ("momentum", "nesterov", "adam"):
        assert runs[name].gap < 1e-6
        np.testing.assert_allclose(runs[name].path[-1], [1.0, 1.0], atol=1e-3)


def test_gradients_come_from_the_engine():
    # one SGD step on Rosenbrock from (-1.2, 1): the analytic gradient is (-215.6, -88)
    w = S.optimize_surface("rosenbrock", "sgd", lr=1e-3, steps=1)
    np.testing.assert_allclose(w.path[1], [-1.2 + 0.2156, 1.0 + 0.088], rtol=1e-12)
    # regression: the engine's MSE gradient is the normal-equation residual gradient
    surf = S.get_surface("regression")
    w = S.optimize_surface(surf, "sgd", lr=0.1, steps=1)
    X, y = linear.book_data()
    Xb = np.c_[np.ones(100), X[:, 0]]
    grad = 2 / 100 * Xb.T @ (Xb @ np.array(surf.start) - y[:, 0])
    np.testing.assert_allclose(w.path[1], np.array(surf.start) - 0.1 * grad, rtol=1e-12)


def test_one_walk_equals_the_same_walk_among_many(walks):
    alone = S.optimize_surface("beale", "adam")
    together = next(w for w in walks["beale"].values() if w.optimizer == "adam")
    np.testing.assert_allclose(alone.path, together.path, rtol=1e-12, atol=1e-14)


def test_regression_surface_minimum_is_the_normal_equation():
    surf = S.get_surface("regression")
    np.testing.assert_allclose(surf.minima[0], [4.21509616, 2.77011339], atol=1e-8)
    X, y = linear.book_data()
    pts = np.array([[4.0, 3.0], [0.5, -0.1], list(surf.minima[0])])
    direct = [np.mean((a + b * X[:, 0] - y[:, 0]) ** 2) for a, b in pts]
    np.testing.assert_allclose(surf.values(pts), direct, rtol=1e-12)


def test_any_optimizer_class_or_factory():
    w = S.optimize_surface("quadratic", NAdam, lr=0.2)
    assert w.optimizer == "NAdam" and w.gap < 1e-3
    w = S.optimize_surface("quadratic", lambda p, lr: SGD(p, lr=lr, momentum=0.5), lr=0.02)
    assert w.optimizer == "SGD" and w.gap < 1e-4
    custom = S.compare_optimizers("saddle", ["sgd", "adam"], lr={"adam": 0.1}, steps=20,
                                  start=(1.0, -0.5))
    assert [w.lr for w in custom.values()] == [0.05, 0.1]
    assert all(w.path.shape == (21, 2) for w in custom.values())


def test_divergence_stops_the_walk_without_raising():
    runs = S.compare_optimizers("rosenbrock", ["sgd", "adam"], lr=0.5, steps=100)
    sgd, adam = runs.values()
    assert sgd.diverged and len(sgd.path) < 101 and np.all(np.isfinite(sgd.path))
    assert not adam.diverged and len(adam.path) == 101





def test_one_object_under_every_name():
    for name in ("SURFACES", "Surface", "SurfacePath", "compare_optimizers", "get_surface",
                 "optimize_surface", "surface_names"):
        assert getattr(D, name) is getattr(S, name) is getattr(optim, name), name
    assert D.OPTIMIZERS is optim.OPTIMIZERS
    assert D.make_optimizer is S.make_optimizer
    assert D.regression_surface is linear.regression_surface
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        D.nothing  # noqa: B018


def test_regression_is_registered_by_linear():
    assert "regression" in S.surface_names()
    surf = S.get_surface("regression")
    np.testing.assert_allclose(surf.minima[0], linear.normal_equation(*linear.book_data()))
    assert surf.start == tuple(np.random.RandomState(42).randn(2))


def test_register_surface(monkeypatch):
    monkeypatch.setattr(S, "_BUILDERS", dict(S._BUILDERS))
    S.register_surface("bowl", lambda: S.SURFACES["quadratic"])
    assert "bowl" in S.surface_names()
    assert S.get_surface("bowl") is S.SURFACES["quadratic"]
    with pytest.raises(ValueError, match="built-in"):
        S.register_surface("beale", lambda: S.SURFACES["beale"])


def test_defaults_are_the_surfaces_learning_rates_and_any_registry_name_works():
    walks = S.compare_optimizers("quadratic", steps=3)
    assert [w.optimizer for w in walks.values()] == list(S.SURFACES["quadratic"].lrs)
    walk = S.optimize_surface("quadratic", "NAdam", lr=0.2, steps=200)
    assert walk.label == "NAdam lr=0.2" and walk.gap < 1e-3
    with pytest.raises(ValueError, match="no default learning rate for 'nadam'"):
        S.optimize_surface("quadratic", "nadam")
