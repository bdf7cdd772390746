"""experiments/svm_dual.py (issue 20, Hands-On ML Appendix C)."""

import numpy as np
import pytest


def test_newton_on_the_books_lagrangian(load_experiment):
    m = load_experiment("svm_dual")
    v = m.newton_stationary(m.lagrangian, np.array([5.0, -3.0, 0.2]))
    assert np.allclose(v, [1.5, -11 / 4, 1.0], atol=1e-12)


def test_dual_matrix_from_the_engine(load_experiment):
    m = load_experiment("svm_dual")
    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    y = np.array([1.0, -1.0, 1.0])
    assert np.allclose(m.dual_matrix(X, y), np.outer(y, y) * (X @ X.T), atol=1e-12)


@pytest.mark.parametrize("case", ["iris", "blobs"])
def test_linear_svm_dual_matches_scikit_learn(load_experiment, case):
    svc = pytest.importorskip("sklearn.svm", reason="scikit-learn is the oracle")
    m = load_experiment("svm_dual")
    if case == "iris":
        X, y = m.iris_setosa_versicolor()
    else:
        rng = np.random.default_rng(3)
        X = np.r_[rng.normal(-2, 0.6, size=(20, 2)), rng.normal(2, 0.6, size=(20, 2))]
        y = np.r_[-np.ones(20), np.ones(20)]
    ours = m.svm_dual_smo(X, y)
    ref = svc.SVC(kernel="linear", C=1e6, tol=1e-10).fit(X, y)  # converged
    assert ours["support"].tolist() == sorted(ref.support_.tolist())
    assert np.allclose(ours["w"], ref.coef_[0], rtol=1e-4)
    assert ours["b"] == pytest.approx(float(ref.intercept_[0]), rel=1e-4)
    assert ours["margin"] == pytest.approx(2 / np.linalg.norm(ref.coef_[0]), rel=1e-4)
    assert np.all(y * (X @ ours["w"] + ours["b"]) >= 1 - 1e-6)  # hard margin holds
