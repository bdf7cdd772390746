"""Fixtures for every test: where the real datasets are.

``data_with("mnist/train-labels-idx1-ubyte.gz", ...)`` gives the data folder holding those
files: ``$CHAINRULE_DATA`` first (when set), then ``<repo parent>/shared/data``; the test
is skipped, naming both places, when neither has them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

MNIST_LABELS = "mnist/train-labels-idx1-ubyte.gz"


def data_places() -> list[Path]:
    """Where the data tests look, in order: ``$CHAINRULE_DATA`` (when set), then
    ``<repo parent>/shared/data``."""
    places = []
    if os.environ.get("CHAINRULE_DATA"):
        places.append(Path(os.environ["CHAINRULE_DATA"]).expanduser())
    places.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    return places


def find_data(*files: str) -> Path:
    """The first of :func:`data_places` that holds every one of ``files`` (paths relative to
    it); skip the test, naming both places and the files, when none does."""
    places = data_places()
    for place in places:
        if all((place / f).is_file() for f in files):
            return place
    where = " or ".join(str(p) for p in places)
    env = "" if os.environ.get("CHAINRULE_DATA") else " ($CHAINRULE_DATA is not set)"
    pytest.skip(f"data file(s) {', '.join(files)} not found in {where}{env}; put the datasets "
                f"in a folder and set CHAINRULE_DATA to it")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with the real MNIST files (``$CHAINRULE_DATA`` first, then shared/data)."""
    return find_data(MNIST_LABELS)


@pytest.fixture(scope="session")
def data_with() -> Callable[..., Path]:
    """``data_with("text/tinyshakespeare.txt", ...)``: the data folder holding those files
    (``$CHAINRULE_DATA`` first, then shared/data); skips naming both places otherwise."""
    return find_data
