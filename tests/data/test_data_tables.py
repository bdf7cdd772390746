"""Bundled digits, the text corpus, housing tables, and the preprocessing helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
    DataError,
    DataFileNotFoundError,
    load_digits,
    load_housing,
    load_text,
    one_hot,
    standardize,
)

# --------------------------------------------------------------------------- digits


def test_digits_work_offline_with_known_values() -> None:
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16 and float(x.sum()) == 561718.0
    assert y[:10].tolist() == list(range(10))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert x[0, :16].tolist() == [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]


def test_digits_dtype_option() -> None:
    x, _ = load_digits(dtype=np.float64)
    assert x.dtype == np.float64


# --------------------------------------------------------------------------- text


def test_tinyshakespeare_by_name(data_with) -> None:
    text = load_text("tinyshakespeare", data_dir=data_with("text/tinyshakespeare.txt"),
                     download=False)
    assert len(text) == 1_115_394
    assert text.startswith("First Citizen:\n") and text.endswith("\n")
    assert len(set(text)) == 65


def test_text_by_path_and_unknown_name(tmp_path: Path) -> None:
    (tmp_path / "poem.txt").write_text("roses\n", encoding="utf-8")
    assert load_text(tmp_path / "poem.txt") == "roses\n"
    assert load_text("poem", data_dir=tmp_path) == "roses\n"
    with pytest.raises(DataError, match="neither an existing file nor a known corpus"):
        load_text("nonexistent-corpus", data_dir=tmp_path)


def test_missing_corpus_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match=r"tinyshakespeare\.txt"):
        load_text("tinyshakespeare", data_dir=tmp_path, download=False)


# --------------------------------------------------------------------------- housing


@pytest.fixture(scope="module")
def california_dir(data_with) -> Path:
    return data_with("housing/california_housing.csv")


@pytest.fixture(scope="module")
def california(california_dir: Path):
    return load_housing("california", california_dir, download=False)


def test_california_table(california) -> None:
    x, y, names = california
    assert x.shape == (20640, 13) and y.shape == (20640,) and x.dtype == np.float32
    assert names[:8] == [
        "longitude",
        "latitude",
        "housing_median_age",
        "total_rooms",
        "total_bedrooms",
        "population",
        "households",
        "median_income",
    ]
    assert names[8:] == [
        "ocean_proximity=<1H OCEAN",
        "ocean_proximity=INLAND",
        "ocean_proximity=ISLAND",
        "ocean_proximity=NEAR BAY",
        "ocean_proximity=NEAR OCEAN",
    ]
    np.testing.assert_allclose(x[0, :8], [-122.23, 37.88, 41, 880, 129, 322, 126, 8.3252])
    assert y[0] == 452600.0
    assert np.isnan(x).sum() == 207 and np.isnan(x[:, 4]).sum() == 207
    assert x[:, 8:].sum(axis=0).tolist() == [9136, 6551, 5, 2290, 2658]
    assert (x[:, 8:].sum(axis=1) == 1).all()


def test_california_missing_value_policies(california_dir: Path, california) -> None:
    x_nan, _, _ = california
    x, y, _ = load_housing("california", california_dir, missing="drop", download=False)
    assert x.shape == (20433, 13) and y.shape == (20433,) and not np.isnan(x).any()
    x, _, _ = load_housing("california", california_dir, missing="median", download=False)
    rows = np.isnan(x_nan[:, 4])
    assert not np.isnan(x).any()
    assert np.all(x[rows, 4] == np.nanmedian(x_nan[:, 4].astype(np.float64)))
    with pytest.raises(ValueError, match="missing must be"):
        load_housing("california", california_dir, missing="zero", download=False)


def test_boston_table(data_with) -> None:
    folder = data_with("housing/boston_housing.csv")
    x, y, names = load_housing("boston", folder, download=False)
    assert x.shape == (506, 13) and y.shape == (506,)
    assert names == "CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT".split()
    np.testing.assert_allclose(
        x[0],
        [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98],
        rtol=1e-6,
    )
    assert y[0] == 24.0 and not np.isnan(x).any()


def test_housing_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="name must be one of"):
        load_housing("paris", tmp_path)
    with pytest.raises(DataFileNotFoundError, match="no download source"):
        load_housing("boston", tmp_path)
    folder = tmp_path / "housing"
    folder.mkdir()
    (folder / "boston_housing.csv").write_text("CRIM,MEDV\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 fields"):
        load_housing("boston", tmp_path, verify=False)


# --------------------------------------------------------------------------- preprocessing


def test_standardize_is_zero_mean_unit_std_and_safe_for_constant_columns() -> None:
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [5.0, 5.0, 4.0]], dtype=np.float32)
    z, mean, std = standardize(x)
    assert z.dtype == np.float32 and mean.shape == (3,) and std.shape == (3,)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(z[:, [0, 2]].std(axis=0), 1, atol=1e-6)
    assert std[1] == 1 and (z[:, 1] == 0).all()  # constant column: zeros, no NaN


def test_standardize_reuses_training_statistics() -> None:
    _, mean, std = standardize(np.array([[0.0], [2.0]]))
    z, mean2, std2 = standardize(np.array([[4.0]]), mean, std)
    assert z.tolist() == [[3.0]] and mean2 == mean and std2 == std
    with pytest.raises(ValueError, match="positive"):
        standardize(np.ones((2, 1)), mean, np.zeros(1))


def test_standardize_turns_integers_into_float32() -> None:
    z, _, _ = standardize(np.array([[1], [3]]))
    assert z.dtype == np.float32


def test_one_hot() -> None:
    out = one_hot(np.array([2, 0, 1]))
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert one_hot([1, 1], num_classes=4).shape == (2, 4)
    assert one_hot(np.zeros((2, 3), dtype=np.int64), 5).shape == (2, 3, 5)
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [([0, 3], 3, r"in 0\.\.2"), ([-1], 3, "in 0"), ([0.5], None, "integers"), ([], None, "empty")],
)
def test_one_hot_errors(labels: list[float], num_classes: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        one_hot(np.array(labels), num_classes)
