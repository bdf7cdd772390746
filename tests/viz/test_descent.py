"""Descent paths on loss surfaces: every chainrule optimizer reaches each surface's minimum
with the documented defaults; figures and GIFs (the command: tests/cli/test_descent.py)."""

import sys

import numpy as np
import pytest

from chainrule.optim import SGD, NAdam
from chainrule.viz import descent as D

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

SEVEN = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


@pytest.fixture(scope="module")
def walks():
    """All seven optimizers with the defaults, on every surface (computed once)."""
    return {name: D.compare_optimizers(name) for name in D.surface_names()}


@pytest.mark.parametrize("surface", ["rosenbrock", "beale", "saddle", "quadratic",
                                     "regression"])
def test_defaults_reach_the_minimum(walks, surface):
    surf = D.get_surface(surface)
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
    w = D.optimize_surface("rosenbrock", "sgd", lr=1e-3, steps=1)
    np.testing.assert_allclose(w.path[1], [-1.2 + 0.2156, 1.0 + 0.088], rtol=1e-12)
    # regression: the engine's MSE gradient is the normal-equation residual gradient
    surf = D.get_surface("regression")
    w = D.optimize_surface(surf, "sgd", lr=0.1, steps=1)
    X, y = D.book_data()
    Xb = np.c_[np.ones(100), X[:, 0]]
    grad = 2 / 100 * Xb.T @ (Xb @ np.array(surf.start) - y[:, 0])
    np.testing.assert_allclose(w.path[1], np.array(surf.start) - 0.1 * grad, rtol=1e-12)


def test_one_walk_equals_the_same_walk_among_many(walks):
    alone = D.optimize_surface("beale", "adam")
    together = next(w for w in walks["beale"].values() if w.optimizer == "adam")
    np.testing.assert_allclose(alone.path, together.path, rtol=1e-12, atol=1e-14)


def test_regression_surface_minimum_is_the_normal_equation():
    surf = D.get_surface("regression")
    np.testing.assert_allclose(surf.minima[0], [4.21509616, 2.77011339], atol=1e-8)
    X, y = D.book_data()
    pts = np.array([[4.0, 3.0], [0.5, -0.1], list(surf.minima[0])])
    direct = [np.mean((a + b * X[:, 0] - y[:, 0]) ** 2) for a, b in pts]
    np.testing.assert_allclose(surf.values(pts), direct, rtol=1e-12)


def test_any_optimizer_class_or_factory():
    w = D.optimize_surface("quadratic", NAdam, lr=0.2)
    assert w.optimizer == "NAdam" and w.gap < 1e-3
    w = D.optimize_surface("quadratic", lambda p, lr: SGD(p, lr=lr, momentum=0.5), lr=0.02)
    assert w.optimizer == "SGD" and w.gap < 1e-4
    custom = D.compare_optimizers("saddle", ["sgd", "adam"], lr={"adam": 0.1}, steps=20,
                                  start=(1.0, -0.5))
    assert [w.lr for w in custom.values()] == [0.05, 0.1]
    assert all(w.path.shape == (21, 2) for w in custom.values())


def test_divergence_stops_the_walk_without_raising():
    runs = D.compare_optimizers("rosenbrock", ["sgd", "adam"], lr=0.5, steps=100)
    sgd, adam = runs.values()
    assert sgd.diverged and len(sgd.path) < 101 and np.all(np.isfinite(sgd.path))
    assert not adam.diverged and len(adam.path) == 101


@pytest.mark.parametrize("call, message", [
    (lambda: D.optimize_surface("himmelblau", "sgd"), "unknown surface 'himmelblau'"),
    (lambda: D.optimize_surface("beale", "adadelta"), "unknown optimizer 'adadelta'"),
    (lambda: D.optimize_surface("beale", "adam", lr=-0.1), "must be >= 0"),
    (lambda: D.optimize_surface("beale", "adam", lr=float("nan")), "finite"),
    (lambda: D.optimize_surface("beale", "adam", steps=-3), "steps must be"),
    (lambda: D.optimize_surface("beale", "adam", start=(1.0,)), "start must be"),
    (lambda: D.optimize_surface("beale", NAdam), "pass lr="),
    (lambda: D.compare_optimizers("beale", []), "no optimizers"),
    (lambda: D.compare_optimizers("beale", ["sgd"], lr={"adamm": 1}), "not compared: adamm"),
    (lambda: D.plot_optimizer_paths("beale", ["sgd"], steps=2, layout="pie"), "layout"),
    (lambda: D.plot_optimizer_paths("beale", ["sgd"], steps=2, path="x.jpg"), ".png"),
    (lambda: D.regression_surface(np.ones((5, 2)), np.ones(5)), "exactly one feature"),
])
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def _size(path):
    with Image.open(path) as im:
        return im.size, getattr(im, "n_frames", 1)


def test_plot_descent_paths_png_and_gif(tmp_path):
    out = D.plot_descent_paths(path=tmp_path / "book.png", gif=tmp_path / "book.gif",
                               figsize=(6, 2.5), dpi=50, gif_frames=4, gif_dpi=30)
    assert list(out.paths) == ["batch", "stochastic", "mini-batch"]
    np.testing.assert_allclose(out.paths["stochastic"].theta, [4.21076011, 2.74856079],
                               atol=1e-8)
    assert out.files == [tmp_path / "book.png", tmp_path / "book.gif"]
    assert all(f.stat().st_size > 1000 for f in out.files)
    assert _size(tmp_path / "book.png") == ((300, 125), 1)
    size, frames = _size(tmp_path / "book.gif")
    assert size == (180, 75) and 2 <= frames <= 4  # Pillow merges identical frames
    assert len(out.figure.axes) == 3  # paths, zoom, losses
    titles = [ax.get_title() for ax in out.figure.axes]
    assert any("zoom" in t for t in titles) and any("MSE" in t for t in titles)


def test_plot_optimizer_paths_grid_and_overlay(tmp_path):
    grid = D.plot_optimizer_paths("beale", ["sgd", "momentum", "adam"], steps=40,
                                  path=tmp_path / "grid.png", gif=tmp_path / "grid.gif",
                                  figsize=(8, 2.5), dpi=40, gif_frames=3, gif_dpi=25)
    assert [w.optimizer for w in grid.paths.values()] == ["sgd", "momentum", "adam"]
    assert _size(tmp_path / "grid.png") == ((320, 100), 1)
    size, frames = _size(tmp_path / "grid.gif")
    assert size == (200, 62) and 2 <= frames <= 3
    legend = grid.figure.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(grid.paths)
    over = D.plot_optimizer_paths("saddle", ["sgd", "adam"], steps=30, layout="overlay",
                                  path=tmp_path / "sub" / "over.png", figsize=(6, 3), dpi=50)
    assert _size(tmp_path / "sub" / "over.png") == ((300, 150), 1)
    assert len(over.figure.axes) == 2


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"chainrule\[viz\]"):
        D.plot_descent_paths()
