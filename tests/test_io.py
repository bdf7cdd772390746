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
