"""Where the data tests look for the real datasets (issue 14 item 17): ``$CHAINRULE_DATA``
first, then ``<repo parent>/shared/data``; a skip names both places when neither has a file."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_chainrule_data_is_looked_at_first(data_with, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "poem.txt").write_text("roses\n", encoding="utf-8")
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert data_with("text/poem.txt") == tmp_path


def test_falls_back_to_shared_data_when_chainrule_data_lacks_the_file(
    data_with, tmp_path: Path, monkeypatch
) -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (shared / "mnist" / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"no MNIST in {shared} to fall back to")
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))  # set, but empty
    assert data_with("mnist/train-labels-idx1-ubyte.gz") == shared


def test_skip_names_both_places(data_with, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    with pytest.raises(pytest.skip.Exception) as info:
        data_with("text/no-such-corpus.txt")
    message = str(info.value)
    assert "text/no-such-corpus.txt" in message
    assert str(tmp_path) in message and str(Path("shared") / "data") in message
    assert "CHAINRULE_DATA" in message
