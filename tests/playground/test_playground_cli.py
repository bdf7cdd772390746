"""``chainrule playground``: its arguments, and the one error naming the extra."""

from __future__ import annotations

import pytest

from chainrule.cli.main import main


def test_bad_port_is_a_usage_error(capsys):
    assert main(["playground", "--port", "70000"]) == 2
    assert "--port must be 0..65535" in capsys.readouterr().err


def test_missing_server_packages_name_the_extra(monkeypatch, capsys):
    import chainrule.playground as playground

    def missing():
        raise ImportError('the playground needs Starlette and uvicorn (uvicorn is missing): '
                          'pip install "chainrule[playground]"')

    monkeypatch.setattr(playground, "check_dependencies", missing)
    assert main(["playground", "--port", "0"]) == 2
    assert 'pip install "chainrule[playground]"' in capsys.readouterr().err


def test_serve_prints_the_address_and_runs(monkeypatch, capsys):
    pytest.importorskip("uvicorn", reason="the playground needs the [playground] extra")
    import chainrule.serve.server as server  # the helper both web commands start apps with

    calls = []

    def run_app(app, *, host, port, log_level, banner):
        calls.append((host, port))
        print(banner(f"http://{host}:{port}"))

    monkeypatch.setattr(server, "run_app", run_app)
    assert main(["playground", "--port", "8123"]) == 0
    assert calls == [("127.0.0.1", 8123)]
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out
