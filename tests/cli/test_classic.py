"""``chainrule classic MODEL --quick``: each demonstration runs and writes its pictures."""

import argparse

import pytest

from chainrule.cli.classic import add_classic_parser, run_classic


def _parse(argv):
    p = argparse.ArgumentParser()
    add_classic_parser(p.add_subparsers(dest="command"))
    return p.parse_args(argv)


@pytest.mark.parametrize("model", ["boltzmann", "hopfield"])
def test_cli_quick(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = _parse(["classic", model, "--quick", "--out", str(tmp_path)])
    assert run_classic(args) == 0
    assert list(tmp_path.glob("classic_*.png"))
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("model", ["rbm", "som", "dbn"])
def test_cli_quick_slow(model, tmp_path, shared_data):
    pytest.importorskip("matplotlib")
    args = _parse(["classic", model, "--quick", "--out", str(tmp_path), "--data-dir",
                   str(shared_data)])
    assert run_classic(args) == 0
