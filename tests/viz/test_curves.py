"""The learning-rate finder's picture (chainrule.viz.curves.plot_lr_finder and
LRFinderResult.plot) and the training-curves re-exports."""

import numpy as np
import pytest

from chainrule.optim import LRFinderResult
from chainrule.viz import curves

pytest.importorskip("matplotlib")

RESULT = LRFinderResult(lrs=[1e-4, 1e-3, 1e-2, 1e-1], losses=[1.0, 0.8, 0.3, 2.0],
                        raw_losses=[1.0, 0.7, 0.2, 3.0], suggested_lr=1e-3)


def _check_drawn(ax, result):
    (line,) = ax.get_lines()[:1]
    np.testing.assert_array_equal(line.get_xdata(), result.lrs)
    np.testing.assert_array_equal(line.get_ydata(), result.losses)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning rate" and ax.get_ylabel() == "smoothed loss"


def test_plot_on_given_axes_returns_them():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert RESULT.plot(ax) is ax
    _check_drawn(ax, RESULT)
    assert len(ax.get_lines()) == 2  # the curve and the suggested lr
    assert ax.get_lines()[1].get_xdata()[0] == RESULT.suggested_lr


def test_plot_without_axes_makes_its_own_figure_and_saves(tmp_path):
    ax = RESULT.plot(path=tmp_path / "lr.png")
    _check_drawn(ax, RESULT)
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    no_suggestion = LRFinderResult(lrs=[1e-3, 1e-2], losses=[1.0, 0.9])
    assert len(curves.plot_lr_finder(no_suggestion).get_lines()) == 1


def test_plot_history_is_one_function_everywhere():
    import chainrule.train as train
    import chainrule.train.history as history
    import chainrule.viz as viz

    assert train.plot_history is history.plot_history is viz.plot_history is \
        curves.plot_history
