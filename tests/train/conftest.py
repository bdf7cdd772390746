"""Fixtures for the trainer tests: tiny synthetic data and a small standardised digits split."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data import load_digits


@pytest.fixture(scope="session")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 4-D: x (150, 4) float32, y (150,) int64."""
    rng = np.random.default_rng(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = np.repeat(np.arange(3), 50)
    x = centers[y] + rng.normal(scale=0.7, size=(150, 4)).astype(np.float32)
    order = rng.permutation(150)
    return x[order].astype(np.float32), y[order]


@pytest.fixture(scope="session")
def digits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The bundled digits, standardised, split 1200 train / 297 val / 300 test."""
    x, y = load_digits()
    x = (x - x.mean()) / x.std()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order]
    return {"train": (x[:1200], y[:1200]), "val": (x[1200:1497], y[1200:1497]),
            "test": (x[1497:], y[1497:])}
