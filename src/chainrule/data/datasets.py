"""Readers for the standard datasets: MNIST, Fashion-MNIST, 8x8 digits, text, housing.

Files are looked up in the data directory (see :func:`chainrule.data.get_data_dir`) and,
where a canonical source exists, downloaded on first use with an MD5 check.
"""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from chainrule.data.download import RemoteFile, ensure_file, get_data_dir
from chainrule.data.errors import DataError
from chainrule.data.idx import read_idx

__all__ = [
    "FASHION_MNIST_MIRRORS",
    "MNIST_MIRRORS",
    "load_digits",
    "load_fashion_mnist",
    "load_housing",
    "load_mnist",
    "load_text",
]

PathLike = str | os.PathLike[str]
Split = tuple[np.ndarray, np.ndarray]

#: Where MNIST is downloaded from, in order (the list torchvision uses). Edit to override.
MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
#: Where Fashion-MNIST is downloaded from, in order.
FASHION_MNIST_MIRRORS: list[str] = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
]

_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_MNIST_MD5 = (
    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3",
    "ec29112dd5afa0611ce80d1b7f02629c",
)
_FASHION_MD5 = (
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79",
    "bb300cfdad3c16e7a12a480ee83cd310",
)
MNIST_FILES = tuple(RemoteFile(n, "mnist", m) for n, m in zip(_IDX_NAMES, _MNIST_MD5, strict=True))
FASHION_MNIST_FILES = tuple(
    RemoteFile(n, "fashion-mnist", m) for n, m in zip(_IDX_NAMES, _FASHION_MD5, strict=True)
)


# --------------------------------------------------------------------------- MNIST family


def _read_images(path: Path) -> np.ndarray:
    images = read_idx(path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
        )
    return images


def _read_labels(path: Path, count: int) -> np.ndarray:
    labels = read_idx(path)
    if labels.dtype != np.uint8 or labels.shape != (count,):
        raise DataError(
            f"{path}: expected {count} uint8 labels (to match the images), got {labels.dtype} "
            f"{labels.shape}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{path}: labels must be 0..9, found {int(labels.max())}")
    return labels.astype(np.int64)


def _prepare_images(images: np.ndarray, normalize: bool, flatten: bool) -> np.ndarray:
    if normalize:
        images = np.divide(images, np.float32(255.0), dtype=np.float32)
    return images.reshape(len(images), -1) if flatten else images


def _load_idx_dataset(
    files: Sequence[RemoteFile],
    mirrors: Sequence[str],
    data_dir: PathLike | None,
    download: bool,
    normalize: bool,
    flatten: bool,
    verify: bool,
    progress: bool | None,
) -> tuple[Split, Split]:
    paths = [
        ensure_file(f, data_dir, mirrors, download=download, verify=verify, progress=progress)
        for f in files
    ]
    splits = []
    for images_path, labels_path in (paths[0:2], paths[2:4]):
        images = _read_images(images_path)
        labels = _read_labels(labels_path, len(images))
        splits.append((_prepare_images(images, normalize, flatten), labels))
    return splits[0], splits[1]


def load_mnist(
    data_dir: PathLike | None = None,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = False,
    *,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    progress: bool | None = None,
) -> tuple[Split, Split]:
    """MNIST handwritten digits: ``(x_train, y_train), (x_test, y_test)``.

    Shapes: ``x_train`` (60000, 28, 28), ``x_test`` (10000, 28, 28) -- or (N, 784) with
    ``flatten=True``; float32 in [0, 1] with ``normalize=True``, else the raw uint8 0..255.
    Labels ``y_*`` are int64 in 0..9, shapes (60000,) and (10000,).

    The four gzip IDX files are looked up as ``<data_dir>/mnist/<file>`` or
    ``<data_dir>/<file>`` (``data_dir``: argument, else ``$CHAINRULE_DATA``, else
    ``~/.cache/chainrule``). Missing files are downloaded (``download=True``) from
    ``mirrors`` (default :data:`MNIST_MIRRORS`). With ``verify=True`` each file's MD5 is
    checked on every load (about 0.03 s); ``progress=None`` shows a download progress bar
    only on a terminal.

    Raises:
        DataError: a file is missing and cannot be downloaded, or is corrupt.
    """
    return _load_idx_dataset(
        MNIST_FILES,
        MNIST_MIRRORS if mirrors is None else mirrors,
        data_dir,
        download,
        normalize,
        flatten,
        verify,
        progress,
    )


def load_fashion_mnist(
    data_dir: PathLike | None = None,
    download: bool = True,
    normalize: bool = True,
    flatten: bool = False,
    *,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    progress: bool | None = None,
) -> tuple[Split, Split]:
    """Fashion-MNIST (Zalando articles, 10 classes): ``(x_train, y_train), (x_test, y_test)``.

    Same shapes, dtypes and options as :func:`load_mnist`; files are looked up as
    ``<data_dir>/fashion-mnist/<file>`` or ``<data_dir>/<file>`` (a file there with the
    wrong MD5, such as an MNIST file of the same name, is skipped) and downloaded from
    :data:`FASHION_MNIST_MIRRORS`. Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover,
    3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
    """
    return _load_idx_dataset(
        FASHION_MNIST_FILES,
        FASHION_MNIST_MIRRORS if mirrors is None else mirrors,
        data_dir,
        download,
        normalize,
        flatten,
        verify,
        progress,
    )


# --------------------------------------------------------------------------- bundled digits


def load_digits(dtype: npt.DTypeLike = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits bundled with chainrule (works offline).

    Returns ``(x, y)``: ``x`` of shape (1797, 64), pixel counts 0..16 as ``dtype``
    (reshape to (1797, 8, 8) for images); ``y`` int64 labels 0..9, shape (1797,).
    This is the UCI optdigits test set, the same file scikit-learn ships for its
    ``load_digits`` (see ``chainrule/data/bundled/README.md``).
    """
    resource = importlib.resources.files("chainrule.data") / "bundled" / "digits.csv.gz"
    text = gzip.decompress(resource.read_bytes()).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (1797, 65):
        raise DataError(f"bundled digits.csv.gz: expected shape (1797, 65), got {table.shape}")
    return table[:, :64].astype(dtype), table[:, 64].copy()


# --------------------------------------------------------------------------- text

_TEXTS = {
    "tinyshakespeare": (
        RemoteFile("tinyshakespeare.txt", "text", "6fb458f1232090904fb40fe944165e91", "input.txt"),
        ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"],
    ),
}


def load_text(
    path_or_name: PathLike = "tinyshakespeare",
    data_dir: PathLike | None = None,
    download: bool = True,
    *,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    progress: bool | None = None,
) -> str:
    """A text corpus as one string (UTF-8).

    ``path_or_name`` is either a path to an existing file, or a corpus name such as
    ``"tinyshakespeare"`` (1,115,394 characters), looked up as ``<data_dir>/text/<name>.txt``
    or ``<data_dir>/<name>.txt`` and downloaded (MD5-checked) when missing.
    """
    path = Path(path_or_name).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    name = str(path_or_name).removesuffix(".txt")
    if name not in _TEXTS:
        root = get_data_dir(data_dir)
        for candidate in (root / "text" / f"{name}.txt", root / f"{name}.txt"):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        raise DataError(
            f"load_text: {path_or_name!r} is neither an existing file nor a known corpus "
            f"({', '.join(_TEXTS)}); also looked in {root / 'text'} and {root}"
        )
    remote, default_mirrors = _TEXTS[name]
    found = ensure_file(
        remote,
        data_dir,
        default_mirrors if mirrors is None else mirrors,
        download=download,
        verify=verify,
        progress=progress,
    )
    return found.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- housing

_HOUSING = {
    "california": RemoteFile(
        "california_housing.csv", "housing", "d1c47305887e2252bf1ccbd74ff159a6", "housing.csv"
    ),
    "boston": RemoteFile("boston_housing.csv", "housing", "882711564e925807dcf8e8f95c8b9626"),
}
_HOUSING_MIRRORS: dict[str, list[str]] = {
    "california": ["https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/"],
    "boston": [],  # no canonical download; provide the file yourself
}
_HOUSING_TARGETS = {"california": "median_house_value", "boston": "MEDV"}
_CATEGORICAL = "ocean_proximity"


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(f"{path}: empty CSV file")
    header, body = rows[0], rows[1:]
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {lineno} has {len(row)} fields, the header has {len(header)}"
            )
    return header, body


def _to_float(path: Path, column: str, values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: column {column!r} is not numeric ({exc})") from None


def _one_hot_column(column: str, values: list[str]) -> tuple[np.ndarray, list[str]]:
    categories = sorted(set(values))
    position = {c: i for i, c in enumerate(categories)}
    codes = np.array([position[v] for v in values], dtype=np.int64)
    return np.eye(len(categories))[codes], [f"{column}={c}" for c in categories]


def _housing_table(path: Path, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    header, body = _read_csv(path)
    if target not in header:
        raise DataError(f"{path}: no target column {target!r} in header {header}")
    columns = {name: [row[i] for row in body] for i, name in enumerate(header)}
    blocks, names = [], []
    for name in header:
        if name == target:
            continue
        if name == _CATEGORICAL:
            block, block_names = _one_hot_column(name, columns[name])
        else:
            block, block_names = _to_float(path, name, columns[name])[:, None], [name]
        blocks.append(block)
        names.extend(block_names)
    return np.hstack(blocks), _to_float(path, target, columns[target]), names


def _fill_missing(x: np.ndarray, missing: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the ``missing`` policy; return the new x and the kept-row mask (or None)."""
    if missing == "nan":
        return x, None
    if missing == "median":
        medians = np.nanmedian(x, axis=0)
        return np.where(np.isnan(x), medians, x), None
    if missing == "drop":
        keep = ~np.isnan(x).any(axis=1)
        return x[keep], keep
    raise ValueError(f"load_housing: missing must be 'nan', 'median' or 'drop', got {missing!r}")


def load_housing(
    name: str = "california",
    data_dir: PathLike | None = None,
    *,
    missing: str = "nan",
    dtype: npt.DTypeLike = np.float32,
    download: bool = True,
    verify: bool = True,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A housing regression table: ``(x, y, feature_names)``.

    ``"california"`` (file ``housing/california_housing.csv``, Geron's version):
    ``x`` (20640, 13) -- 8 numeric columns then ``ocean_proximity`` one-hot encoded into 5
    columns named ``ocean_proximity=<category>`` (sorted); ``y`` is ``median_house_value``
    in dollars, shape (20640,). ``total_bedrooms`` is missing (NaN) in 207 rows; choose
    ``missing="median"`` to fill with column medians or ``"drop"`` to drop those rows.

    ``"boston"`` (file ``housing/boston_housing.csv``): ``x`` (506, 13), ``y`` = ``MEDV``
    (median value in $1000s), shape (506,). No missing values.

    Files are looked up as ``<data_dir>/housing/<file>`` or ``<data_dir>/<file>``;
    California is downloaded when missing, Boston must be provided.
    """
    if name not in _HOUSING:
        raise ValueError(f"load_housing: name must be one of {sorted(_HOUSING)}, got {name!r}")
    remote = _HOUSING[name]
    path = ensure_file(
        remote,
        data_dir,
        _HOUSING_MIRRORS[name],
        download=download,
        verify=verify,
        progress=progress,
    )
    x, y, names = _housing_table(path, _HOUSING_TARGETS[name])
    x, keep = _fill_missing(x, missing)
    if keep is not None:
        y = y[keep]
    return x.astype(dtype), y.astype(dtype), names
