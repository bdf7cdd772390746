"""The playground's four toy datasets and its seven input features.

Points lie in the square [-6, 6]^2 with labels 0/1, like TensorFlow Playground's
classification sets; ``noise`` (0..0.5) blurs them and ``seed`` makes them repeatable.
"""

from __future__ import annotations

import numpy as np

from .errors import PlaygroundInputError

__all__ = ["DATASETS", "FEATURES", "features", "make_dataset", "split"]

RADIUS = 5.0


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    inner = n // 2
    r = np.concatenate([rng.uniform(0, RADIUS * 0.5, inner),
                        rng.uniform(RADIUS * 0.7, RADIUS, n - inner)])
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    x += rng.uniform(-RADIUS, RADIUS, x.shape) * noise
    y = (np.hypot(x[:, 0], x[:, 1]) < RADIUS * 0.5).astype(float)
    return x, y


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-RADIUS, RADIUS, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # a small margin around the axes
    y = (x[:, 0] * x[:, 1] >= 0).astype(float)
    x += rng.uniform(-RADIUS, RADIUS, x.shape) * noise
    return x, y


def _gaussians(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) < n // 2).astype(float)
    centre = np.where(y[:, None] > 0, 2.0, -2.0)
    spread = 0.5 + 3.5 * noise
    return centre + rng.normal(0.0, spread, (n, 2)), y


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    t = np.concatenate([np.linspace(0, 1, half), np.linspace(0, 1, n - half)])
    y = (np.arange(n) < half).astype(float)
    r = t * RADIUS
    angle = 1.75 * t * 2 * np.pi + np.where(y > 0, 0.0, np.pi)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    return x + rng.uniform(-1, 1, x.shape) * noise * RADIUS * 0.4, y


DATASETS = {"circle": _circle, "xor": _xor, "gaussians": _gaussians, "spiral": _spiral}

#: Input features of a point (x1, x2), by the name the page shows.
FEATURES = {
    "x1": lambda x: x[:, 0],
    "x2": lambda x: x[:, 1],
    "x1^2": lambda x: x[:, 0] ** 2,
    "x2^2": lambda x: x[:, 1] ** 2,
    "x1*x2": lambda x: x[:, 0] * x[:, 1],
    "sin(x1)": lambda x: np.sin(x[:, 0]),
    "sin(x2)": lambda x: np.sin(x[:, 1]),
}


def make_dataset(name: str, n: int = 500, noise: float = 0.0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``(n, 2)`` and labels ``(n,)`` in {0, 1} of dataset ``name``."""
    if name not in DATASETS:
        raise PlaygroundInputError(f"unknown dataset {name!r}; choose one of "
                                   f"{', '.join(DATASETS)}")
    return DATASETS[name](np.random.default_rng(seed), n, noise)


def split(x: np.ndarray, y: np.ndarray, train_ratio: float,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A shuffled train/test split with ``train_ratio`` of the points for training."""
    order = np.random.default_rng(seed + 1).permutation(len(x))
    cut = int(round(train_ratio * len(x)))
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def features(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The columns ``names`` of :data:`FEATURES` for points ``x``: ``(n, len(names))``."""
    return np.stack([FEATURES[name](x) for name in names], axis=1)
