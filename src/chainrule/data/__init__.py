"""Data loading: datasets, mini-batch loaders, dataset readers, preprocessing.

Quick start::

    from chainrule.data import ArrayDataset, DataLoader, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()   # (60000, 28, 28) float32, int64
    loader = DataLoader(ArrayDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)
    for x, y in loader:                                    # (64, 28, 28), (64,)
        ...

Everything here depends on NumPy only (tqdm is used for download progress if installed).
"""

from chainrule.data.dataset import ArrayDataset, Dataset, Subset, collate, random_split
from chainrule.data.datasets import (
    FASHION_MNIST_MIRRORS,
    MNIST_MIRRORS,
    load_digits,
    load_fashion_mnist,
    load_housing,
    load_mnist,
    load_text,
)
from chainrule.data.download import ENV_VAR, get_data_dir
from chainrule.data.errors import DataError, DataFileNotFoundError
from chainrule.data.idx import read_idx, write_idx
from chainrule.data.iris import IRIS_FEATURES, IRIS_TARGETS, load_iris  # issue 20
from chainrule.data.loader import DataLoader
from chainrule.data.pipeline import Pipeline, from_arrays, from_generator  # issue 20
from chainrule.data.pipeline_csv import from_csv  # issue 20
from chainrule.data.preprocess import one_hot, standardize

__all__ = [
    "ENV_VAR",
    "FASHION_MNIST_MIRRORS",
    "IRIS_FEATURES",
    "IRIS_TARGETS",
    "MNIST_MIRRORS",
    "ArrayDataset",
    "DataError",
    "DataFileNotFoundError",
    "DataLoader",
    "Pipeline",
    "Dataset",
    "Subset",
    "collate",
    "from_arrays",
    "from_csv",
    "from_generator",
    "get_data_dir",
    "load_digits",
    "load_fashion_mnist",
    "load_housing",
    "load_iris",
    "load_mnist",
    "load_text",
    "one_hot",
    "random_split",
    "read_idx",
    "standardize",
    "write_idx",
]
