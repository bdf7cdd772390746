"""IDX reading and writing, and the errors for damaged files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataError, DataFileNotFoundError, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip(tmp_path: Path, dtype: type, name: str) -> None:
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_header_is_big_endian_with_mnist_magic(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels.idx", np.array([5, 0, 4], dtype=np.uint8))
    raw = (tmp_path / "labels.idx").read_bytes()
    assert struct.unpack(">II", raw[:8]) == (2049, 3) and raw[8:] == b"\x05\x00\x04"
    write_idx(tmp_path / "images.idx", np.zeros((2, 28, 28), dtype=np.uint8))
    assert struct.unpack(">I", (tmp_path / "images.idx").read_bytes()[:4]) == (2051,)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_magic_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.idx", b"\x00\x00\x42\x01" + b"\x00" * 12)
    with pytest.raises(DataError, match=r"bad\.idx: bad IDX magic number"):
        read_idx(path)
    path = _write(tmp_path / "text.idx", b"hello world, not an idx file")
    with pytest.raises(DataError, match="bad IDX magic"):
        read_idx(path)


def test_truncated_data(tmp_path: Path) -> None:
    header = struct.pack(">IIII", 2051, 10, 28, 28)
    path = _write(tmp_path / "short.idx", header + b"\x00" * 100)
    with pytest.raises(DataError, match=r"short\.idx: truncated.*\(10, 28, 28\).*7840.*100"):
        read_idx(path)


def test_truncated_header_and_tiny_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(_write(tmp_path / "h.idx", struct.pack(">II", 2051, 10)))
    with pytest.raises(DataError, match="too short"):
        read_idx(_write(tmp_path / "t.idx", b"\x00\x00"))


def test_trailing_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.idx", struct.pack(">II", 2049, 2) + b"\x01\x02\x03")
    with pytest.raises(DataError, match="1 unexpected bytes"):
        read_idx(path)


def test_corrupt_and_truncated_gzip(tmp_path: Path) -> None:
    good = gzip.compress(struct.pack(">II", 2049, 1000) + bytes(range(256)) * 4)
    cut = _write(tmp_path / "cut.idx.gz", good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut\.idx\.gz: corrupt gzip"):
        read_idx(cut)
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(_write(tmp_path / "flip.idx.gz", bytes(damaged)))


def test_missing_file_is_both_data_error_and_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match="nope.idx: no such file") as info:
        read_idx(tmp_path / "nope.idx")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_write_idx_rejects_unsupported_dtypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot store"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.uint16))
