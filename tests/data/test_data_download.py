"""Downloading against a local HTTP server: success, fallback, corrupt, truncated, offline."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataError, DataFileNotFoundError, get_data_dir, load_mnist
from chainrule.data.datasets import MNIST_FILES
from chainrule.data.download import RemoteFile, download_file, ensure_file

LABELS = MNIST_FILES[3]  # t10k-labels-idx1-ubyte.gz, 4,542 bytes


def _leftovers(folder: Path) -> list[str]:
    """Files other than the expected ones, e.g. temporary files left behind."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _mirror(tmp_path: Path, shared_data: Path, files: tuple[RemoteFile, ...]) -> Path:
    folder = tmp_path / "mirror"
    folder.mkdir()
    for remote in files:
        shutil.copy(shared_data / "mnist" / remote.name, folder / remote.name)
    return folder


@pytest.fixture
def mirror_dir(tmp_path: Path, shared_data: Path) -> Path:
    """A folder to serve over HTTP holding a copy of the real MNIST test labels."""
    return _mirror(tmp_path, shared_data, (LABELS,))


def test_load_mnist_downloads_verifies_and_parses(
    tmp_path: Path, shared_data: Path, serve, clean_env: Path
) -> None:
    mirror = _mirror(tmp_path, shared_data, MNIST_FILES)
    cache = tmp_path / "cache"
    (x, y), (xt, yt) = load_mnist(cache, mirrors=[serve(mirror)], progress=False)
    assert x.shape == (60000, 28, 28) and y[0] == 5 and yt[0] == 7
    assert _leftovers(cache) == sorted(r.name for r in MNIST_FILES)  # no temporary files
    for remote in MNIST_FILES:  # byte-identical copies in <cache>/mnist/
        got = (cache / "mnist" / remote.name).read_bytes()
        assert got == (mirror / remote.name).read_bytes()


def test_second_mirror_is_used_when_the_first_is_down(
    mirror_dir: Path, tmp_path: Path, serve, closed_port_url: str
) -> None:
    url = serve(mirror_dir)
    path = download_file(LABELS, tmp_path / "cache", [closed_port_url, url], progress=False)
    assert path == tmp_path / "cache" / "mnist" / LABELS.name
    assert path.read_bytes() == (mirror_dir / LABELS.name).read_bytes()


def test_checksum_mismatch_deletes_the_download(tmp_path: Path, serve) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / LABELS.name).write_bytes(b"\x00" * 4542)  # right size, wrong bytes
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"checksum mismatch: MD5 .*expected ec29112d") as info:
        download_file(LABELS, cache, [serve(served)], progress=False)
    assert LABELS.name in str(info.value)
    assert _leftovers(cache) == []


def test_truncated_file_on_the_server_fails_its_checksum(
    mirror_dir: Path, tmp_path: Path, serve
) -> None:
    data = (mirror_dir / LABELS.name).read_bytes()
    (mirror_dir / LABELS.name).write_bytes(data[:1000])
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum mismatch"):
        download_file(LABELS, cache, [serve(mirror_dir)], progress=False)
    assert _leftovers(cache) == []


def test_connection_cut_short_is_a_truncated_download(
    mirror_dir: Path, tmp_path: Path, serve, truncating_handler
) -> None:
    url = serve(mirror_dir, handler=truncating_handler)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"truncated download \(2271 of 4542 bytes\)"):
        download_file(LABELS, cache, [url], progress=False, timeout=5)
    assert _leftovers(cache) == []


def test_offline_gives_one_clear_error(tmp_path: Path, closed_port_url: str) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DataFileNotFoundError) as info:
        ensure_file(LABELS, cache, [closed_port_url], progress=False, timeout=5)
    message = str(info.value)
    assert f"'{LABELS.name}' is missing" in message
    assert str(cache / "mnist" / LABELS.name) in message  # where it looked
    assert closed_port_url in message  # which mirror failed
    assert "CHAINRULE_DATA" in message  # how to provide it
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    assert not cache.exists()  # no empty folders left behind


def test_http_404_is_reported_per_mirror(tmp_path: Path, serve) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFileNotFoundError, match="HTTP Error 404"):
        download_file(LABELS, tmp_path / "cache", [serve(empty)], progress=False)


def test_download_false_does_not_touch_the_network(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match="It was not downloaded"):
        ensure_file(LABELS, tmp_path, ["http://127.0.0.1:9/"], download=False)


def test_corrupt_local_copy_is_replaced_with_a_warning(
    mirror_dir: Path, tmp_path: Path, serve
) -> None:
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    bad = cache / "mnist" / LABELS.name
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="has MD5"):
        ensure_file(LABELS, cache, [], download=False)
    with pytest.warns(UserWarning, match="downloading a fresh copy"):
        path = ensure_file(LABELS, cache, [serve(mirror_dir)], progress=False)
    assert path == bad and path.read_bytes() == (mirror_dir / LABELS.name).read_bytes()


def test_verify_false_uses_a_file_as_is(tmp_path: Path) -> None:
    (tmp_path / LABELS.name).write_bytes(b"anything")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ensure_file(LABELS, tmp_path, [], download=False, verify=False).is_file()


def test_progress_bar_writes_to_stderr(mirror_dir: Path, tmp_path: Path, serve, capsys) -> None:
    download_file(LABELS, tmp_path / "cache", [serve(mirror_dir)], progress=True)
    assert LABELS.name in capsys.readouterr().err


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path, serve, mirror_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataFileNotFoundError, match="cannot create"):
        download_file(LABELS, blocker, [serve(mirror_dir)], progress=False)


def test_remote_name_may_differ_from_local_name(tmp_path: Path, serve) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "input.txt").write_bytes(b"hello\n")
    remote = RemoteFile("hello.txt", "text", "b1946ac92492d2347c6235b4d2611184", "input.txt")
    path = download_file(remote, tmp_path / "cache", [serve(served)], progress=False)
    assert path == tmp_path / "cache" / "text" / "hello.txt"


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    assert get_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_dir() == tmp_path / "env"
    monkeypatch.delenv("CHAINRULE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_data_dir() == tmp_path / "xdg" / "chainrule"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_dir() == tmp_path / "home" / ".cache" / "chainrule"


def test_downloaded_labels_parse(mirror_dir: Path, tmp_path: Path, serve) -> None:
    from chainrule.data import read_idx

    path = download_file(LABELS, tmp_path / "c", [serve(mirror_dir)], progress=False)
    assert np.bincount(read_idx(path)).sum() == 10000
