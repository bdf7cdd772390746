"""Issue 14, items 9-10: the commands README shows fail, when they must, in one line that
says what to do; ``--version``; ``--threads``; ``--graph f.svg`` without Graphviz."""

from __future__ import annotations

import shutil
import sys
import urllib.error
import urllib.request

import pytest

import chainrule as cr
from chainrule.cli import classic, main


def _one_line(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"chainrule {cr.__version__}"


def test_graph_svg_without_graphviz_writes_the_dot_and_says_how(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # the Python package missing
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)  # and the dot program
    svg = tmp_path / "f.svg"
    assert main(["diff", "x*x*y + y + 2", "--at", "x=3,y=4", "--graph", str(svg)]) == 0
    captured = capsys.readouterr()
    dot = tmp_path / "f.dot"
    assert not svg.exists() and "digraph" in dot.read_text()
    assert f"dot -Tsvg {dot} -o {svg}" in _one_line(captured.err)
    assert f"graph written to {dot}" in captured.out


def test_classic_without_matplotlib_is_one_line_naming_the_extra(monkeypatch, tmp_path,
                                                                  capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["classic", "hopfield", "--quick", "--out", str(tmp_path)]) == 2
    assert "pip install 'chainrule[viz]'" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("model", ["rbm", "dbn"])
def test_classic_without_data_is_one_line_naming_the_folder(model, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    missing = tmp_path / "no-such-folder"
    assert main(["classic", model, "--quick", "--data-dir", str(missing),
                 "--out", str(tmp_path / "out")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"--data-dir {missing} does not exist" in err and "--download" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CHAINRULE_DATA", str(empty))
    assert main(["classic", model, "--quick", "--out", str(tmp_path / "out")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"mnist data not found in {empty}" in err and "--download" in err


@pytest.mark.parametrize("command", [["train", "--model", "mlp", "--dataset", "mnist"],
                                     ["classic", "rbm", "--quick"]])
def test_data_dir_that_is_a_file_says_so(command, tmp_path, capsys):
    a_file = tmp_path / "mnist.gz"
    a_file.write_bytes(b"not a folder")
    assert main([*command, "--data-dir", str(a_file), "--out", str(tmp_path / "out")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"--data-dir {a_file} is a file, not a folder" in err and "does not exist" not in err


@pytest.mark.parametrize("command", [["train", "--model", "mlp", "--dataset", "mnist"],
                                     ["classic", "rbm", "--quick"]])
def test_download_offline_shows_the_network_error(command, monkeypatch, tmp_path, capsys):
    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    data = tmp_path / "data"
    assert main([*command, "--data-dir", str(data), "--download",
                 "--out", str(tmp_path / "out")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "Temporary failure in name resolution" in err and "downloading it failed" in err
    assert "network" in err


def test_threads_flag_sets_numpys_blas_for_the_command(monkeypatch, tmp_path):
    pytest.importorskip("threadpoolctl")
    seen = []
    monkeypatch.setitem(classic.DEMOS, "hopfield", lambda args, out: seen.append(
        cr.get_num_threads()))
    before = cr.get_num_threads()
    try:
        assert main(["classic", "hopfield", "--threads", "2", "--out", str(tmp_path)]) == 0
    finally:
        cr.set_num_threads(before)
    assert seen == [2]


def test_threads_flag_on_train_and_its_check(capsys):
    assert main(["train", "--threads", "0"]) == 2
    assert "--threads must be a positive integer" in _one_line(capsys.readouterr().err)


def test_classic_rbm_prints_the_same_numbers_for_a_seed(monkeypatch, tmp_path, capsys):
    """Its pseudo-log-likelihood flipped random bits unseeded: each run printed another value."""
    import numpy as np

    rng = np.random.default_rng(0)
    fake = ((rng.random((300, 784)), rng.integers(0, 10, 300)),
            (rng.random((100, 784)), rng.integers(0, 10, 100)))
    monkeypatch.setattr(classic, "mnist", lambda args: fake)
    monkeypatch.setattr(classic, "rbm_pictures", lambda *a, **k: None)
    lines = []
    for _ in range(2):
        assert main(["classic", "rbm", "--quick", "--seed", "3", "--out", str(tmp_path)]) == 0
        lines.append([ln for ln in capsys.readouterr().out.splitlines() if "pseudo" in ln])
    assert lines[0] and lines[0] == lines[1]
