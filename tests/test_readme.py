"""Every code block of README.md and docs/guide.md runs as written (issue 14, items 10-11).

* ``python`` blocks that start with ``>>>`` are doctests: their printed results are checked;
* other ``python`` blocks run top to bottom in a fresh folder where ``chainrule train`` has
  just been run (the README's first command), so that ``runs/mlp-digits/`` exists;
* ``bash`` blocks: one command per line (no ``a|b|c`` that the shell would read as pipes),
  every ``chainrule`` line is accepted by the command's parser, and the quick ones run.
"""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest

from chainrule.cli import main
from chainrule.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "guide.md"]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
QUICK = ("chainrule", "chainrule --version", "chainrule diff ")  # run in the default suite


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, m in enumerate(FENCE.finditer(doc.read_text())):
            if m.group(1) == language:
                found.append((f"{doc.name}:{i}", m.group(2)))
    return found


def _commands() -> list[str]:
    return [line for _, block in _blocks("bash") for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A folder in which README's first command, ``chainrule train``, has run (2 epochs)."""
    folder = tmp_path_factory.mktemp("fresh-clone")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        assert main(["train", "--epochs", "2", "--quiet"]) == 0
    return folder


def test_the_docs_have_code_blocks():
    assert _blocks("python") and _blocks("bash")


@pytest.mark.parametrize("name,block", _blocks("python"), ids=lambda v: v if ":" in v else "")
def test_python_block_runs(name, block, trained_folder, monkeypatch, capsys):
    monkeypatch.chdir(trained_folder)
    if block.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(block, {}, name, name, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test, out=print)
        assert runner.failures == 0, capsys.readouterr().out
    else:
        exec(compile(block, name, "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("line", _commands())
def test_each_command_line_is_one_command_the_parser_accepts(line):
    words = shlex.split(line, comments=True)
    unquoted = re.sub(r"\"[^\"]*\"|'[^']*'", "", line.split(" #")[0])
    assert "|" not in unquoted, f"the shell reads | as a pipe (write one line each): {line}"
    if words[0] == "mpirun" and "chainrule" in words:  # the command each MPI rank runs
        words = words[words.index("chainrule"):]
    if words[0] != "chainrule":
        assert words[0] in ("pip", "python", "export"), line
        return
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as done:  # --version and --help exit 0 after printing
        assert done.code == 0, f"the parser rejects: {line}"


@pytest.mark.parametrize("line", [c for c in _commands() if c.split()[:2] == QUICK[:1]
                                  or c.startswith(QUICK[1:])])
def test_quick_commands_run_as_written(line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = shlex.split(line, comments=True)[1:]
    try:
        assert main(words) == 0
    except SystemExit as done:
        assert done.code == 0
