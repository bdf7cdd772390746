"""Hands-On ML Appendix C (SVM dual problem) with chainrule's engine (issue 20).

1. The book's Lagrangian ``g(x, y, a) = x^2 + 2y - a (3x + 2y + 1)``: Newton's method on its
   gradient, with the Hessian from ``chainrule.hessian``, reaches the stationary point
   ``x = 3/2, y = -11/4, a = 1`` (one step: ``g`` is quadratic).
2. A linear SVM trained through its dual, minimize ``1/2 a^T Q a - sum(a)`` with
   ``0 <= a <= C`` and ``sum(a y) = 0`` (``Q = (y y^T) * (X X^T)``, taken from the engine as
   the Hessian of the dual objective), by SMO with LIBSVM's maximal-violating-pair choice.
   On iris setosa vs versicolor (petal features, separable; the book's ch. 5 set) its
   support vectors and margin match scikit-learn's ``SVC(kernel="linear")``.

Run: ``python experiments/svm_dual.py``.
"""

from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
from chainrule.data import load_iris


def lagrangian(v):
    x, y, a = v[0], v[1], v[2]
    return x * x + 2 * y - a * (3 * x + 2 * y + 1)


def newton_stationary(fn, v0: np.ndarray, steps: int = 5) -> np.ndarray:
    v = np.asarray(v0, dtype=np.float64)
    for _ in range(steps):
        g = np.asarray(cr.grad(fn)(v).data)
        h = np.asarray(cr.hessian(fn)(v).data)
        v = v - np.linalg.solve(h, g)
    return v


def dual_matrix(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``Q``: the Hessian of the dual objective, from the engine."""
    yx = y[:, None] * X

    def dual(a):
        w = cr.matmul(a, cr.tensor(yx))
        return 0.5 * (w * w).sum() - a.sum()

    return np.asarray(cr.hessian(dual)(np.zeros(len(y))).data)


def svm_dual_smo(X: np.ndarray, y: np.ndarray, C: float = 1e6, tol: float = 1e-8,
                 max_iter: int = 100_000) -> dict[str, np.ndarray | float]:
    """SMO on the dual; returns ``alpha``, ``w``, ``b``, ``support`` (indices)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    Q = dual_matrix(X, y)
    n = len(y)
    a = np.zeros(n)
    G = -np.ones(n)  # gradient Q a - 1
    for _ in range(max_iter):
        up = ((a < C) & (y > 0)) | ((a > 0) & (y < 0))
        low = ((a < C) & (y < 0)) | ((a > 0) & (y > 0))
        score = -y * G
        i = int(np.argmax(np.where(up, score, -np.inf)))
        j = int(np.argmin(np.where(low, score, np.inf)))
        if score[i] - score[j] < tol:
            break
        eta = Q[i, i] + Q[j, j] - 2 * y[i] * y[j] * Q[i, j]
        t = (score[i] - score[j]) / max(eta, 1e-12)
        t = min(t, C - a[i] if y[i] > 0 else a[i], a[j] if y[j] > 0 else C - a[j])
        a[i] += y[i] * t
        a[j] -= y[j] * t
        G += t * (y[i] * Q[:, i] - y[j] * Q[:, j])
    w = (a * y) @ X
    sv = np.flatnonzero(a > 1e-8 * max(a.max(), 1.0))
    free = sv[a[sv] < C * (1 - 1e-8)]
    ref = free if len(free) else sv
    b = float(np.mean(y[ref] - X[ref] @ w))
    return {"alpha": a, "w": w, "b": b, "support": sv, "margin": 2 / np.linalg.norm(w)}


def iris_setosa_versicolor() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris()
    keep = y < 2
    return x[keep][:, 2:4], np.where(y[keep] == 0, -1.0, 1.0)


def main() -> int:
    v = newton_stationary(lagrangian, np.zeros(3))
    print("stationary point of the Lagrangian (x, y, a):", v.tolist())
    X, y = iris_setosa_versicolor()
    ours = svm_dual_smo(X, y)
    print("chainrule SMO: support", ours["support"].tolist(), "w", ours["w"].tolist(),
          "b", ours["b"], "margin", ours["margin"])
    try:
        from sklearn.svm import SVC
    except ImportError:
        return 0
    ref = SVC(kernel="linear", C=1e6, tol=1e-10).fit(X, y)
    print("scikit-learn : support", sorted(ref.support_.tolist()), "w", ref.coef_[0].tolist(),
          "b", float(ref.intercept_[0]), "margin", 2 / np.linalg.norm(ref.coef_[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
