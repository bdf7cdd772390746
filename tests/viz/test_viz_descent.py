"""Descent paths drawn on loss surfaces: figures and GIFs, and bad input (the walks
themselves: tests/optim/test_optim_surfaces.py; the command: tests/cli/test_descent.py)."""

import sys

import numpy as np
import pytest

from chainrule.optim import NAdam
from chainrule.viz import descent as D

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


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
