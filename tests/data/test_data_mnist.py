"""MNIST and Fashion-MNIST from the real files in shared/data (skipped when absent)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataError, load_fashion_mnist, load_mnist, read_idx, write_idx
from chainrule.data.datasets import MNIST_FILES
from chainrule.data.download import ensure_file

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(shared_data: Path):
    return load_mnist(shared_data, download=False)


@pytest.fixture(scope="module")
def fashion(data_with):
    folder = data_with(*(f"fashion-mnist/{n}" for n in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")))
    return load_fashion_mnist(folder, download=False)


def test_mnist_shapes_dtypes_and_ranges(mnist) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert y_train.min() == 0 and y_train.max() == 9


def test_mnist_known_values(mnist) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    # raw pixel sums of the first images; images are exactly raw / 255
    assert round(float(x_train[0].astype(np.float64).sum()) * 255) == 27525
    assert round(float(x_test[0].astype(np.float64).sum()) * 255) == 18454
    expected = np.array([81, 240, 253, 253], dtype=np.float32) / np.float32(255)
    np.testing.assert_array_equal(x_train[0, 14, 13:17], expected)


def test_read_idx_agrees_with_a_byte_level_parse(shared_data: Path) -> None:
    path = shared_data / "mnist" / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as f:
        head = f.read(16 + 784)
    images = read_idx(path)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0].ravel(), np.frombuffer(head[16:], dtype=np.uint8))


def test_fashion_mnist_shapes_and_balanced_labels(fashion) -> None:
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:3].tolist() == [9, 0, 0] and y_test[:3].tolist() == [9, 2, 1]


def test_env_var_and_flat_layout_are_found(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = MNIST_FILES[1]
    monkeypatch.setenv("CHAINRULE_DATA", str(shared_data))
    assert ensure_file(labels, None, [], download=False) == shared_data / "mnist" / labels.name
    flat = shared_data / "mnist"  # <dir>/<file>
    assert ensure_file(labels, flat, [], download=False) == flat / labels.name


def test_fashion_skips_mnist_files_of_the_same_name(shared_data: Path, clean_env: Path) -> None:
    with pytest.raises(DataError, match="MD5"):
        load_fashion_mnist(shared_data / "mnist", download=False)


def _tiny_mnist_dir(root: Path) -> Path:
    """Four small IDX files in the MNIST layout (checksums will not match)."""
    rng = np.random.default_rng(0)
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def test_flatten_and_raw_options(tmp_path: Path) -> None:
    root = _tiny_mnist_dir(tmp_path)
    (x, y), (xt, _) = load_mnist(root, download=False, verify=False, flatten=True)
    assert x.shape == (6, 784) and xt.shape == (4, 784) and x.dtype == np.float32
    (raw, _), _ = load_mnist(root, download=False, verify=False, normalize=False)
    assert raw.dtype == np.uint8 and raw.shape == (6, 28, 28)
    np.testing.assert_array_equal(x.reshape(6, 28, 28), raw / np.float32(255))


def test_verification_rejects_files_with_the_wrong_checksum(tmp_path: Path) -> None:
    root = _tiny_mnist_dir(tmp_path)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz has MD5 .* expected f68b3c"):
        load_mnist(root, download=False)


def test_mismatched_label_count_is_reported(tmp_path: Path) -> None:
    root = _tiny_mnist_dir(tmp_path)
    write_idx(root / "mnist" / "train-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(DataError, match=r"train-labels.*expected 6 uint8 labels"):
        load_mnist(root, download=False, verify=False)


def test_wrong_image_shape_is_reported(tmp_path: Path) -> None:
    root = _tiny_mnist_dir(tmp_path)
    write_idx(root / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-images.*\(N, 28, 28\)"):
        load_mnist(root, download=False, verify=False)


def test_copy_of_real_files_in_flat_dir_loads(shared_data: Path, tmp_path: Path) -> None:
    for name in ("t10k-labels-idx1-ubyte.gz",):
        shutil.copy(shared_data / "mnist" / name, tmp_path / name)
    path = ensure_file(MNIST_FILES[3], tmp_path, [], download=False)
    assert read_idx(path)[:3].tolist() == [7, 2, 1]
