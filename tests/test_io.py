"""chainrule.io: bad files raise CheckpointError (a DataError) naming the file; the
checkpoint layout helpers."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import io
from chainrule.errors import CheckpointError, DataError


def test_bad_files_raise_checkpoint_error_naming_the_file(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    io.save({"a": np.arange(3)}, tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    for name in ("text.npz", "plain.npz", "cut.npz"):
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")) as info:
            io.load(tmp_path / name)
        assert isinstance(info.value, DataError)


def test_write_and_read_checkpoint(tmp_path):
    from chainrule import nn

    model = nn.Linear(2, 3)
    io.write_checkpoint(tmp_path / "c.npz", model, architecture={"name": "x"}, epoch=2)
    ckpt = io.read_checkpoint(tmp_path / "c.npz")
    assert ckpt["architecture"] == {"name": "x", "arguments": {}} and ckpt["epoch"] == 2
    np.testing.assert_array_equal(ckpt["model"]["weight"], model.weight.data)
    other = nn.Linear(3, 3)
    with pytest.raises(CheckpointError, match=r"c\.npz: the saved weights do not fit"):
        io.load_weights(tmp_path / "c.npz", other, ckpt["model"])


# --------------------------------------------------------------------------- issue 14


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_save_removes_the_stale_temporaries_of_its_own_target(tmp_path):
    import os
    import time

    dead = _dead_pid()
    stale = tmp_path / f".m.npz.{dead}.0123456789ab.tmp"  # a killed save of m.npz
    live = tmp_path / f".m.npz.{os.getpid()}.0123456789ab.tmp"  # a save under way
    other = tmp_path / f".other.npz.{dead}.0123456789ab.tmp"  # another target's
    old_style = tmp_path / ".m.npz.0123456789ab.tmp"  # no pid (older versions)
    fresh_old_style = tmp_path / ".m.npz.ba9876543210.tmp"
    for f in (stale, live, other, old_style, fresh_old_style):
        f.write_bytes(b"x" * 100)
    day_ago = time.time() - 24 * 3600
    os.utime(old_style, (day_ago, day_ago))
    io.save({"a": np.arange(3)}, tmp_path / "m.npz")
    assert not stale.exists() and not old_style.exists()
    assert live.exists() and other.exists() and fresh_old_style.exists()
    np.testing.assert_array_equal(io.load(tmp_path / "m.npz")["a"], np.arange(3))
    assert sorted(p.name for p in tmp_path.glob(".m.npz.*.tmp")) == sorted(
        [live.name, fresh_old_style.name])


def test_temporaries_are_named_after_target_and_pid(tmp_path):
    import os

    name = io.temp_path_for(tmp_path / "m.npz").name
    assert name.startswith(f".m.npz.{os.getpid()}.") and name.endswith(".tmp")


def test_a_damaged_header_is_not_reported_as_pickled_data(tmp_path):
    path = tmp_path / "m.npz"
    io.save({"w": np.arange(10.0)}, path)
    data = bytearray(path.read_bytes())
    data[:4] = b"XXXX"  # the zip's first local header; the end record still says "zip"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"m\.npz: .*not a valid chainrule checkpoint") \
            as info:
        io.load(path)
    assert "pickle" not in str(info.value)
