"""Small preprocessing helpers: feature standardization and one-hot labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["one_hot", "standardize"]


def standardize(
    x: npt.ArrayLike, mean: npt.ArrayLike | None = None, std: npt.ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score features: ``z = (x - mean) / std`` column by column.

    ``x`` has shape (N, *F); ``mean`` and ``std`` have shape F and are computed over axis 0
    when not given (pass the training set's to transform a test set the same way).
    A feature with zero spread gets ``std = 1`` (so its z-scores are 0, never NaN/inf).
    Float input keeps its dtype; integer input becomes float32.

    Returns:
        ``(z, mean, std)``; ``z`` has the shape of ``x``.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    if x.ndim == 0:
        raise ValueError("standardize: x must have a sample axis (got a 0-d array)")
    mean = x.mean(axis=0) if mean is None else np.asarray(mean, dtype=x.dtype)
    if std is None:
        std = x.std(axis=0)
        std = np.where(std > 0, std, np.ones_like(std))
    else:
        std = np.asarray(std, dtype=x.dtype)
        if np.any(std <= 0):
            raise ValueError("standardize: a given std must be positive everywhere")
    return ((x - mean) / std).astype(x.dtype, copy=False), mean, std


def one_hot(
    labels: npt.ArrayLike, num_classes: int | None = None, dtype: Any = np.float32
) -> np.ndarray:
    """One-hot encode integer class labels.

    ``labels`` of shape S with values in ``0..num_classes-1`` gives an array of shape
    ``(*S, num_classes)`` with a 1 at each label (``num_classes`` defaults to
    ``max(labels) + 1``).
    """
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.mod(labels, 1) == 0):
            raise ValueError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if num_classes is None:
        if labels.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass it")
        num_classes = int(labels.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be positive, got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must be in 0..{num_classes - 1}, got range "
            f"{int(labels.min())}..{int(labels.max())}"
        )
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out
