"""``chainrule descent``: paths drawn to PNG/GIF, the book's comparison, one-line errors."""

import argparse

import pytest

from chainrule.cli.descent import add_descent_parser, run_descent

pytest.importorskip("matplotlib")
pytest.importorskip("PIL.Image")


def _cli(argv):
    parser = argparse.ArgumentParser(prog="chainrule")
    add_descent_parser(parser.add_subparsers(dest="command"))
    return run_descent(parser.parse_args(["descent", *argv]))


def test_cli_optimizers(tmp_path, capsys):
    out = tmp_path / "ros.png"
    rc = _cli(["--surface", "rosenbrock", "--optimizers", "sgd,momentum,adam", "--steps",
               "60", "--out", str(out), "--gif", "--dpi", "30"])
    text = capsys.readouterr().out
    assert rc == 0
    assert out.stat().st_size > 0 and out.with_suffix(".gif").stat().st_size > 0
    assert "SGD lr=0.002" in text and "momentum lr=0.001" in text and "Adam lr=0.05" in text
    assert f"wrote {out}" in text


def test_cli_regression_is_the_book_comparison(tmp_path, capsys):
    out = tmp_path / "book.png"
    rc = _cli(["--out", str(out), "--dpi", "30"])
    text = capsys.readouterr().out
    assert rc == 0 and out.stat().st_size > 0
    assert "[4.21509616, 2.77011339]" in text  # normal equation and batch GD
    assert "[4.21076011, 2.74856079]" in text  # stochastic GD
    assert "[4.25224124, 2.78970189]" in text  # mini-batch GD


@pytest.mark.parametrize("argv, message", [
    (["--surface", "himmelblau"], "unknown surface 'himmelblau'"),
    (["--surface", "beale", "--optimizers", "sgd,adadelta"], "unknown optimizer 'adadelta'"),
    (["--surface", "beale", "--lr", "-0.1"], "--lr must be"),
    (["--batch-size", "101"], "larger than the data (100 samples)"),
    (["--surface", "saddle", "--start", "1"], "--start"),
    (["--out", "figure.svg"], ".png"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("chainrule descent:")
    assert not list(tmp_path.iterdir())  # nothing written


def test_cli_unparsable_number_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        _cli(["--steps", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid int value: 'many'" in err and err.count("\n") == 1
