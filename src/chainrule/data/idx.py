"""IDX files (the MNIST format), plain or gzip-compressed.

Layout: a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian uint32
dimension sizes, then the data in C order, big-endian. MNIST image files have magic 2051
(``0x00000803``: unsigned bytes, 3 dims) and label files 2049 (``0x00000801``: 1 dim).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.errors import DataError, DataFileNotFoundError
from chainrule.data.files import atomic_write

__all__ = ["IDX_TYPES", "read_idx", "write_idx"]

#: IDX type byte -> big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileNotFoundError(f"{path}: no such file") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: corrupt gzip data ({exc}); the file is damaged or incompletely "
            "downloaded: delete it and download it again"
        ) from None


def _parse_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return (dtype, shape, header length) after checking the magic number."""
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(data)} bytes, no header)")
    zero1, zero2, type_code, ndim = data[:4]
    magic = int.from_bytes(data[:4], "big")
    if zero1 or zero2 or type_code not in IDX_TYPES or ndim == 0:
        raise DataError(
            f"{path}: bad IDX magic number {magic} (0x{magic:08x}); expected 0x0000TTDD "
            "with a known type byte TT (e.g. 2049 for labels, 2051 for images)"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{path}: truncated IDX header (needs {ndim} dimension sizes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    return IDX_TYPES[type_code], tuple(int(s) for s in shape), header_len


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian array.

    Returns an array whose shape is the dimensions in the header, e.g. ``(60000, 28, 28)``
    uint8 for MNIST training images or ``(60000,)`` uint8 for its labels.

    Raises:
        DataError: naming the file, for a missing file, corrupt gzip data, a bad magic
            number, or a size that disagrees with the header (truncated or trailing bytes).
    """
    path = Path(path)
    data = _read_bytes(path)
    dtype, shape, offset = _parse_header(path, data)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual < expected:
        raise DataError(
            f"{path}: truncated: the header promises shape {shape} ({expected} data bytes) "
            f"but only {actual} bytes follow"
        )
    if actual > expected:
        raise DataError(
            f"{path}: {actual - expected} unexpected bytes after the data for shape {shape}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> None:
    """Write ``array`` (any shape, a dtype of :data:`IDX_TYPES`) as an IDX file, atomically.

    The file is gzip-compressed when ``compress`` is true (default: when the name ends in
    ``.gz``).
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: cannot store a {array.ndim}-d {array.dtype} array as IDX")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(IDX_TYPES[code], copy=False).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    with atomic_write(path) as f:
        f.write(gzip.compress(payload, mtime=0) if compress else payload)
