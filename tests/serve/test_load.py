"""The short version of benchmarks/bench_serve.py (issue 19): a few hundred requests from
concurrent clients, with and without dynamic batching and with a new version swapped in
during the run: zero failures, every prediction right."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="chainrule serve needs the [serve] extra")
pytest.importorskip("uvicorn", reason="chainrule serve needs the [serve] extra")

from chainrule.cli import serve as serve_cli  # noqa: E402
from chainrule.errors import UsageError  # noqa: E402
from chainrule.models import create_model, save_model  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.serve import ModelRepository, start_server  # noqa: E402
from chainrule.serve.loadtest import drive  # noqa: E402
from chainrule.serve.repository import run_model  # noqa: E402


def _mlp(seed):
    manual_seed(seed)
    return create_model("mlp", input_shape=(8, 8), num_classes=10, hidden=(32,)).eval()


@pytest.mark.parametrize("batching", [False, True])
def test_short_load_run_with_a_swap_has_no_failures(tmp_path, batching):
    models = {"1": _mlp(0), "2": _mlp(1)}
    images = np.random.default_rng(0).random((64, 8, 8), dtype=np.float32)
    outputs = {v: np.concatenate([run_model(m, x[None]) for x in images])
               for v, m in models.items()}
    save_model(models["1"], tmp_path / "digits" / "1")
    repo = ModelRepository(tmp_path, poll_interval=0.02, max_batch=16, max_wait_ms=5,
                           batching=batching)
    with start_server(repo) as server:
        def swap():  # drop version 2 in; the clients' last third waits until it serves
            save_model(models["2"], tmp_path / "digits" / "2")
            deadline = time.monotonic() + 30
            while "2" not in {r["version"] for r in repo.status("digits")
                              if r["state"] == "AVAILABLE"}:
                assert time.monotonic() < deadline, "version 2 was not loaded"
                time.sleep(0.01)

        result = drive(server.url, "digits", images, clients=8, requests=40,
                       expected=lambda version, row: outputs[version][row], during=swap,
                       wait_for_during=True)
        batches = repo.get("digits", 1).batcher.batches + repo.get("digits", 2).batcher.batches
    assert result.requests == 320 and result.failures == 0 and result.wrong == 0, \
        result.errors[:3]
    assert set(result.versions) == {"1", "2"}  # the swap happened during the run
    if batching:
        assert batches < result.requests  # concurrent requests ran together
    else:
        assert batches == result.requests  # one run each
    assert result.percentile(99) >= result.percentile(50) > 0


def test_cli_serve_refuses_bad_options(tmp_path):
    base = dict(model_dir=str(tmp_path), host="127.0.0.1", port=8501, max_batch=32,
                max_wait_ms=5.0, no_batching=False, poll=1.0, max_body_mb=10.0)
    for change in ({"model_dir": str(tmp_path / "missing")}, {"port": 70000},
                   {"max_batch": 0}, {"poll": 0.0}):
        with pytest.raises(UsageError):
            serve_cli.run(argparse.Namespace(**{**base, **change}))


def test_cli_serve_answers_curl_style_requests(tmp_path):
    """``chainrule serve`` as its own process: a prediction, then Ctrl-C-free shutdown."""
    import json
    import socket
    import urllib.request

    save_model(_mlp(0), tmp_path / "digits" / "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "chainrule.cli", "serve", "--model-dir",
                             str(tmp_path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                body = json.dumps({"instances": np.zeros((2, 8, 8)).tolist()}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/digits:predict",
                                             data=body)
                with urllib.request.urlopen(req, timeout=10) as resp:
                    answer = json.loads(resp.read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    proc.stdout.read().decode()
                time.sleep(0.2)
        assert np.asarray(answer["predictions"]).shape == (2, 10)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
