"""chainrule.io: save/load round trips, atomic writes, safe loading, check_state_dict."""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule.data.files as files_module
from chainrule.data import DataError, DataFileNotFoundError
from chainrule.io import check_state_dict, load, save


class FakeTensor:
    """Stands in for chainrule.Tensor: anything with __array__ is saved as an array."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)


def assert_same(a: Any, b: Any) -> None:
    """Equal values with equal types, recursively (arrays: equal dtype, shape, values)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


# --------------------------------------------------------------------------- round trips


def test_round_trip_of_model_and_optimizer_state(tmp_path: Path) -> None:
    state = {
        "model": {
            "fc1.weight": np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
            "fc1.bias": np.zeros(4, dtype=np.float32),
            "bn.num_batches": np.array(7, dtype=np.int64),
        },
        "optimizer": {
            "state": {0: {"momentum": np.ones(3)}, 1: {"momentum": np.full(4, 2.0)}},
            "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "epoch": 3,
        "name": "mlp",
        "best": None,
        "finished": False,
        "loss": float("nan"),
        "scale": np.float32(0.5),
        "mask": np.array([True, False]),
        "labels": np.array(["cat", "dog"]),
        "empty": np.zeros((0, 5), dtype=np.float64),
    }
    save(state, tmp_path / "ckpt.npz")
    assert_same(load(tmp_path / "ckpt.npz"), state)


def test_arrays_are_plain_npz_entries_named_by_key_path(tmp_path: Path) -> None:
    save({"encoder": {"layer": {"weight": np.eye(2)}}}, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__chainrule__", "encoder/layer/weight"]
        assert npz["__chainrule__"].dtype == np.uint8
        np.testing.assert_array_equal(npz["encoder/layer/weight"], np.eye(2))


def test_objects_with_array_interface_are_saved_as_arrays(tmp_path: Path) -> None:
    save({"w": FakeTensor(np.arange(6.0).reshape(2, 3))}, tmp_path / "t.npz")
    loaded = load(tmp_path / "t.npz")
    assert isinstance(loaded["w"], np.ndarray) and loaded["w"].shape == (2, 3)


def test_compressed_and_non_contiguous(tmp_path: Path) -> None:
    a = np.arange(20.0).reshape(4, 5)[:, ::2]
    save({"a": a, "f": np.asfortranarray(np.ones((3, 2)))}, tmp_path / "c.npz", compress=True)
    out = load(tmp_path / "c.npz")
    np.testing.assert_array_equal(out["a"], a)
    with zipfile.ZipFile(tmp_path / "c.npz") as zf:
        assert zf.getinfo("a.npy").compress_type == zipfile.ZIP_DEFLATED


leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    ),
)
key = st.text(alphabet="abc._-", min_size=1, max_size=4)
tree = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(key, children, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(key, tree, max_size=4))
def test_round_trip_property(obj: dict[str, Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npz"
        save(obj, path)
        assert_same(load(path), obj)


def test_save_refuses_what_would_need_pickle(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'a/b' is an object array"):
        save({"a": {"b": np.array([{}, None], dtype=object)}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot store set at 'a'"):
        save({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="expected a dict"):
        save([np.zeros(2)], tmp_path / "x.npz")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keys must be str or int"):
        save({(1, 2): np.zeros(2)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="two entries would be named 'a/b'"):
        save({"a/b": np.zeros(1), "a": {"b": np.ones(1)}}, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


# --------------------------------------------------------------------------- atomicity


def test_failure_mid_write_leaves_the_original_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.npz"
    save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(fp: Any, array: np.ndarray, **kwargs: Any) -> None:
        calls.append(array.shape)
        if len(calls) == 2:  # after the header entry and part of the archive
            fp.write(b"partial")
            raise OSError("disk full")
        real_write_array(fp, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(1000), "b": np.zeros(2)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_failure_at_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(files_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        save({"w": np.ones(3)}, tmp_path / "new.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_fsyncs_before_renaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        files_module.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))
    )
    monkeypatch.setattr(
        files_module.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))
    )
    save({"w": np.ones(3)}, tmp_path / "m.npz")
    assert events[:2] == ["fsync", "replace"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_gets_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        save({"w": np.ones(1)}, tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- safe loading


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz: no such file"):
        load(tmp_path / "nothing.npz")
    with pytest.raises(DataFileNotFoundError):
        load(tmp_path / "nothing.npz")


def test_non_zip_file_is_not_a_chainrule_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: not a chainrule file"):
        load(tmp_path / "notes.txt")


def test_plain_npz_is_not_a_chainrule_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(DataError, match=r"plain\.npz: not a chainrule file.*numpy\.load"):
        load(tmp_path / "plain.npz")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save({"w": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"m\.npz: (corrupt|not a chainrule file)"):
        load(path)


def test_flipped_bytes_are_caught(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array data: the zip CRC check fails
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"m\.npz: corrupt chainrule file"):
        load(path)


EXECUTED = []


class Payload:
    """Unpickling this would run code (append to EXECUTED)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (EXECUTED.append, ("pwned",))


def test_load_never_unpickles(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    header = np.frombuffer(
        b'{"format": "chainrule", "version": 1, "tree": {"t": "dict", "items": '
        b'[["x", {"t": "array", "key": "x"}]]}}',
        dtype=np.uint8,
    )
    evil = np.empty(1, dtype=object)
    evil[0] = Payload()
    np.savez(path, __chainrule__=header, x=evil)  # the x entry holds a pickle
    with pytest.raises(DataError, match=r"evil\.npz: corrupt"):
        load(path)
    pickle.dumps(Payload())  # (the payload is a real one)
    assert EXECUTED == []


def test_unknown_format_version(tmp_path: Path) -> None:
    header = np.frombuffer(b'{"format": "chainrule", "version": 99, "tree": {}}', np.uint8)
    np.savez(tmp_path / "future.npz", __chainrule__=header)
    with pytest.raises(DataError, match="format version 99"):
        load(tmp_path / "future.npz")


# --------------------------------------------------------------------------- check_state_dict


def test_check_state_dict_accepts_a_match() -> None:
    expected = {"w": np.zeros((2, 3), np.float32), "b": FakeTensor(np.zeros(3, np.float32))}
    check_state_dict(expected, {"b": np.ones(3, np.float32), "w": np.ones((2, 3), np.float32)})


def test_check_state_dict_lists_every_problem() -> None:
    expected = {
        "fc.weight": np.zeros((3, 4), np.float32),
        "fc.bias": np.zeros(3, np.float32),
        "out.weight": np.zeros((2, 3), np.float32),
        "out.bias": np.zeros(2, np.float32),
    }
    loaded = {
        "fc.weight": np.zeros((4, 3), np.float32),
        "fc.bias": np.zeros(3, np.float64),
        "out.weight": np.zeros((2, 3), np.float32),
        "extra": np.zeros(1),
    }
    with pytest.raises(ValueError) as info:
        check_state_dict(expected, loaded)
    assert str(info.value) == (
        "state dict does not match:\n"
        "  missing keys (1): 'out.bias'\n"
        "  unexpected keys (1): 'extra'\n"
        "  shape mismatch (1): 'fc.weight': expected (3, 4), got (4, 3)\n"
        "  dtype mismatch (1): 'fc.bias': expected float32, got float64"
    )


def test_check_state_dict_dtype_check_can_be_skipped() -> None:
    check_state_dict({"w": np.zeros(2, np.float32)}, {"w": np.zeros(2)}, check_dtype=False)
    with pytest.raises(ValueError, match="shape mismatch"):
        check_state_dict({"w": np.zeros(2)}, {"w": np.zeros(3)}, check_dtype=False)
