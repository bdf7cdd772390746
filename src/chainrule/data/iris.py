"""The iris data set, bundled (``chainrule/data/bundled/iris.csv.gz``, see its README)."""

from __future__ import annotations

import gzip
import importlib.resources
import io

import numpy as np
import numpy.typing as npt

from chainrule.data.errors import DataError

__all__ = ["IRIS_FEATURES", "IRIS_TARGETS", "load_iris"]

IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                 "petal width (cm)")
IRIS_TARGETS = ("setosa", "versicolor", "virginica")


def load_iris(dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris flowers (works offline): ``x`` (150, 4) with the columns
    :data:`IRIS_FEATURES`, ``y`` int64 classes 0..2 (:data:`IRIS_TARGETS`), in the order of
    scikit-learn's ``load_iris`` (the same file)."""
    resource = importlib.resources.files("chainrule.data") / "bundled" / "iris.csv.gz"
    text = gzip.decompress(resource.read_bytes()).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if table.shape != (150, 5):
        raise DataError(f"bundled iris.csv.gz: expected shape (150, 5), got {table.shape}")
    return table[:, :4].astype(dtype), table[:, 4].astype(np.int64)
