"""The datasets ``chainrule train`` reads, split into train / validation / test.

``DATASETS[name](args)`` returns the unscaled ``(train, val or None, test)`` pairs; the split
never depends on ``--seed``. :func:`load_splits` turns data problems into one-line
:class:`~chainrule.errors.UsageError` s; :func:`standardized` scales every split with the
training set's mean and std.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import (
    ENV_VAR,
    DataError,
    DataFileNotFoundError,
    get_data_dir,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from ..errors import UsageError

__all__ = ["DATASETS", "RawSplits", "Splits", "check_data_dir", "data_error", "load_splits",
           "standardized"]

SPLIT_SEED = 0  # the train/val/test split never depends on --seed
DIGITS_TEST_FRACTION = 0.2

Arrays = tuple[np.ndarray, np.ndarray]
RawSplits = tuple[Arrays, Arrays | None, Arrays]  # train, val (or None), test; unscaled


@dataclass
class Splits:
    """Standardised train/val/test arrays and what is needed to rebuild the model."""

    train: Arrays
    val: Arrays | None
    test: Arrays
    input_shape: tuple[int, ...]
    num_classes: int
    mean: float
    std: float


def _hold_out(x: np.ndarray, y: np.ndarray, fraction: float,
              rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Split off ``fraction`` of the samples at random: (rest, held out; maybe empty)."""
    order = rng.permutation(len(x))
    n_out = int(round(len(x) * fraction))
    keep, out = order[n_out:], order[:n_out]
    return (x[keep], y[keep]), (x[out], y[out])


def _nonempty(pair: Arrays) -> Arrays | None:
    return pair if len(pair[1]) else None


def standardized(train: Arrays, val: Arrays | None, test: Arrays) -> Splits:
    """Scale every split with the training set's global mean and std (one number each:
    robust for pixels that are almost always zero)."""
    x = train[0]
    mean, std = float(x.mean()), float(x.std()) or 1.0

    def scale(pair: Arrays) -> Arrays:
        return ((pair[0] - mean) / std).astype(np.float32), pair[1]

    num_classes = int(max(train[1].max(), test[1].max())) + 1
    return Splits(scale(train), None if val is None else scale(val), scale(test),
                  tuple(x.shape[1:]), num_classes, mean, std)


def _digits(args: argparse.Namespace) -> RawSplits:
    x, y = load_digits()
    rng = np.random.default_rng(SPLIT_SEED)
    rest, test = _hold_out(x, y, DIGITS_TEST_FRACTION, rng)
    train, val = _hold_out(*rest, args.val_fraction, rng)
    return train, _nonempty(val), test


def check_data_dir(data_dir: str | None, download: bool) -> Path:
    """The data folder (``--data-dir``, else ``$CHAINRULE_DATA``, else the user cache); a
    file in its place, or a missing folder without ``--download``, is a UsageError."""
    root = get_data_dir(data_dir)
    named = f"--data-dir {data_dir}" if data_dir is not None else (
        f"${ENV_VAR} ({root})" if os.environ.get(ENV_VAR) else f"data directory {root}")
    if root.exists() and not root.is_dir():
        raise UsageError(f"{named} is a file, not a folder; pass the folder that holds the "
                         f"data")
    if not root.exists() and not download:
        raise UsageError(f"{named} does not exist; pass --data-dir DIR or set {ENV_VAR} to the "
                         f"folder with the data, or add --download to fetch it there")
    return root


def data_error(dataset: str, exc: DataFileNotFoundError, data_dir: str | None,
               download: bool) -> UsageError:
    """One line for a missing data file: what is missing, where, why a download failed (the
    network error itself), and what to do."""
    lines = str(exc).splitlines()
    what = lines[0].split(";")[0]
    root = get_data_dir(data_dir)
    reasons = [ln.strip().removeprefix("- ") for ln in lines[1:] if ln.startswith("  - ")]
    if download and reasons:
        return UsageError(f"{dataset}: {what} in {root} and downloading it failed: "
                          f"{'; '.join(reasons)}. Check the network connection, or save the "
                          f"files in {root} by hand")
    return UsageError(f"{dataset} data not found in {root} ({what}); pass --data-dir DIR, "
                      f"set {ENV_VAR}, or add --download")


def _idx_dataset(loader: Callable[..., tuple[Arrays, Arrays]],
                 args: argparse.Namespace) -> RawSplits:
    check_data_dir(args.data_dir, args.download)
    (x, y), test = loader(args.data_dir, download=args.download)
    train, val = _hold_out(x, y, args.val_fraction, np.random.default_rng(SPLIT_SEED))
    return train, _nonempty(val), test


#: Dataset readers by name: ``reader(args) -> (train, val or None, test)`` as read from
#: disk (unscaled); the split never depends on ``--seed``.
DATASETS: dict[str, Callable[[argparse.Namespace], RawSplits]] = {
    "digits": _digits,
    "mnist": lambda args: _idx_dataset(load_mnist, args),
    "fashion-mnist": lambda args: _idx_dataset(load_fashion_mnist, args),
}


def load_splits(args: argparse.Namespace) -> RawSplits:
    """The dataset's unscaled (train, val or None, test) splits; data problems become
    one-line UsageErrors."""
    try:
        return DATASETS[args.dataset](args)
    except DataFileNotFoundError as exc:
        raise data_error(args.dataset, exc, args.data_dir, args.download) from None
    except DataError as exc:
        raise UsageError(" ".join(str(exc).split())) from None
