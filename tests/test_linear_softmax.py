"""Softmax regression with BGD and early stopping on iris (issue 20; Hands-On ML ch. 4
exercise 12): the book's printed numbers to 1e-12."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data import load_iris
from chainrule.linear_softmax import accuracy, iris_split, softmax, softmax_bgd, to_one_hot


def test_bundled_iris_is_the_classic_table():
    x, y = load_iris()
    assert x.shape == (150, 4) and np.bincount(y).tolist() == [50, 50, 50]
    assert x[0].tolist() == [5.1, 3.5, 1.4, 0.2] and x[-1].tolist() == [5.9, 3.0, 5.1, 1.8]


def test_split_sizes_and_standardization():
    s = iris_split()
    assert (len(s.X_train), len(s.X_valid), len(s.X_test)) == (90, 30, 30)
    assert np.allclose(s.X_train[:, 0], 1) and np.allclose(s.X_train[:, 1:].mean(0), 0)
    assert np.allclose(s.X_train[:, 1:].std(0), 1)


def test_book_validation_losses_and_accuracy():
    s = iris_split()
    run = softmax_bgd(s, epochs=5001)
    book = {0: 3.7085808486476917, 1000: 0.14519367480830644, 5000: 0.11002459532472425}
    for epoch, value in book.items():
        assert run.logged[epoch] == pytest.approx(value, abs=1e-12)
    assert round(accuracy(run.theta, s.X_valid, s.y_valid) * 30) == 28


def test_book_early_stopping_with_l2():
    s = iris_split()
    run = softmax_bgd(s, epochs=50_001, C=100, early_stopping=True)
    assert run.stopped_epoch == 282
    assert round(accuracy(run.theta, s.X_test, s.y_test) * 30) == 29


def test_softmax_and_one_hot():
    p = softmax(np.array([[0.0, np.log(3.0)]]))
    assert np.allclose(p, [[0.25, 0.75]])
    assert to_one_hot(np.array([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
