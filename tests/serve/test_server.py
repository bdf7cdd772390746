"""``chainrule serve`` as a real server on loopback (issue 19): TF Serving's REST shape,
versions and hot swap, dynamic batching, 4xx for every client mistake."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette", reason="chainrule serve needs the [serve] extra")
pytest.importorskip("uvicorn", reason="chainrule serve needs the [serve] extra")

import chainrule as cr  # noqa: E402
from chainrule.models import create_model, save_model  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.serve import Batcher, ModelRepository, start_server  # noqa: E402

SHAPE = (1, 6, 6)


def _cnn(seed):
    manual_seed(seed)
    return create_model("cnn", input_shape=SHAPE, num_classes=3, channels=(2,), hidden=4)


def _request(url, body=None, method=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _expected(model, x):
    model.eval()
    with cr.no_grad():
        return model(x).numpy()


@pytest.fixture()
def served(tmp_path):
    models = {1: _cnn(1)}
    save_model(models[1], tmp_path / "mnist" / "1")
    repo = ModelRepository(tmp_path, poll_interval=0.05, max_batch=16, max_wait_ms=20)
    with start_server(repo, max_body_bytes=2**20) as server:
        yield server, tmp_path, models


def test_predict_status_metadata_and_health(served):
    server, _, models = served
    x = np.random.default_rng(0).random((3, *SHAPE), dtype=np.float32)
    status, body = _request(f"{server.url}/v1/models/mnist:predict",
                            {"instances": x.tolist()})
    assert status == 200 and body["model_version"] == "1"
    np.testing.assert_allclose(body["predictions"], _expected(models[1], x), rtol=1e-5,
                               atol=1e-6)
    status, same = _request(f"{server.url}/v1/models/mnist/versions/1:predict",
                            {"inputs": x.tolist()})
    assert status == 200 and same["predictions"] == body["predictions"]
    assert _request(f"{server.url}/v1/models/mnist") == (200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]})
    status, meta = _request(f"{server.url}/v1/models/mnist/metadata")
    assert status == 200
    assert meta["metadata"]["signature_def"]["inputs"] == {"shape": [-1, 1, 6, 6],
                                                           "dtype": "float32"}
    assert meta["metadata"]["signature_def"]["outputs"]["shape"] == [-1, 3]
    assert _request(f"{server.url}/healthz") == (200, {"status": "ok", "models": ["mnist"]})


@pytest.mark.parametrize("case", [
    ("not json", None, b"{nope", 400),
    ("no instances", {"data": [1]}, None, 400),
    ("both keys", {"instances": [], "inputs": []}, None, 400),
    ("empty", {"instances": []}, None, 400),
    ("not a list", {"instances": 3}, None, 400),
    ("ragged", {"instances": [[1, 2], [3]]}, None, 400),
    ("strings", {"instances": [["a"] * 6] * 6}, None, 400),
    ("wrong shape", {"instances": np.zeros((2, 1, 5, 6)).tolist()}, None, 400),
    ("one example", {"instances": np.zeros(SHAPE).tolist()}, None, 400),
    ("NaN", None, b'{"instances": [[[[NaN, 0, 0, 0, 0, 0]]]]}', 400),
    ("a list body", [1, 2], None, 400),
], ids=lambda c: c[0])
def test_client_mistakes_get_4xx_and_the_server_keeps_serving(served, case):
    server, _, _ = served
    _, body, raw, want = case
    status, answer = _request(f"{server.url}/v1/models/mnist:predict", body, raw=raw)
    assert status == want and answer["error"]
    ok, _ = _request(f"{server.url}/v1/models/mnist:predict",
                     {"instances": np.zeros((1, *SHAPE)).tolist()})
    assert ok == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(served):
    import http.client

    server, _, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/v1/models/mnist:predict")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(2**20 + 1))
    conn.endheaders()  # no body sent: the answer comes from the declared length
    response = conn.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    conn.close()
    assert _request(f"{server.url}/healthz")[0] == 200


def test_unknown_models_versions_routes_and_methods(served):
    server, _, _ = served
    x = {"instances": np.zeros((1, *SHAPE)).tolist()}
    assert _request(f"{server.url}/v1/models/nope:predict", x)[0] == 404
    assert _request(f"{server.url}/v1/models/mnist/versions/7:predict", x)[0] == 404
    assert _request(f"{server.url}/v1/models/mnist/versions/x:predict", x)[0] == 400
    assert _request(f"{server.url}/v1/models/nope")[0] == 404
    assert _request(f"{server.url}/elsewhere")[0] == 404
    assert _request(f"{server.url}/v1/models/mnist:predict", method="GET") == (
        405, {"error": "predict takes POST with a JSON body"})
    assert _request(f"{server.url}/v1/models/mnist", x)[0] == 405
    assert _request(f"{server.url}/healthz", method="DELETE")[0] == 405


def test_new_version_swaps_in_while_requests_are_in_flight(served):
    server, root, models = served
    x = np.random.default_rng(1).random((1, *SHAPE), dtype=np.float32)
    answers, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            answers.append(_request(f"{server.url}/v1/models/mnist:predict",
                                    {"instances": x.tolist()}))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    models[2] = _cnn(2)
    save_model(models[2], root / "mnist" / "2")  # atomic: appears complete
    deadline = time.monotonic() + 20
    while not any(b.get("model_version") == "2" for _, b in answers[-4:]):
        assert time.monotonic() < deadline, "version 2 was never served"
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert answers and all(status == 200 for status, _ in answers)
    for _, body in answers:  # every answer is exactly one version's prediction
        want = _expected(models[int(body["model_version"])], x)
        np.testing.assert_allclose(body["predictions"], want, rtol=1e-5, atol=1e-6)
    versions = [b["model_version"] for _, b in answers]
    assert versions[0] == "1" and versions[-1] == "2"


def test_a_broken_version_is_refused_and_the_old_one_keeps_serving(served):
    server, root, models = served
    broken = root / "mnist" / "3"
    save_model(_cnn(3), broken)
    (broken / "model.npz").write_bytes(b"garbage")
    server.repository.refresh()
    x = np.zeros((1, *SHAPE), np.float32)
    status, body = _request(f"{server.url}/v1/models/mnist:predict",
                            {"instances": x.tolist()})
    assert status == 200 and body["model_version"] == "1"
    status, body = _request(f"{server.url}/v1/models/mnist")
    assert [r["state"] for r in body["model_version_status"]] == ["END", "AVAILABLE"]
    assert "model.npz" in body["model_version_status"][0]["status"]["error_message"]
    shutil.rmtree(broken)
    save_model(_cnn(3), broken)  # fixed: loaded on the next look
    server.repository.refresh()
    assert _request(f"{server.url}/v1/models/mnist:predict",
                    {"instances": x.tolist()})[1]["model_version"] == "3"


def test_batcher_runs_concurrent_requests_together_and_splits_the_results():
    calls = []

    def double(x):
        calls.append(len(x))
        time.sleep(0.01)
        return 2 * x

    batcher = Batcher(double, max_batch=8, max_wait=0.2)
    futures = [batcher.submit(np.full((1, 2), i, np.float64)) for i in range(5)]
    futures.append(batcher.submit(np.full((4, 2), 9.0)))  # 5 + 4 > 8: the next batch
    for i, f in enumerate(futures[:5]):
        np.testing.assert_array_equal(f.result(timeout=10), np.full((1, 2), 2 * i))
    np.testing.assert_array_equal(futures[5].result(timeout=10), np.full((4, 2), 18.0))
    assert calls == [5, 4]
    batcher.close()
    alone = Batcher(double, max_batch=1, max_wait=0.0)
    results = [alone.submit(np.ones((1, 2))) for _ in range(3)]
    assert [r.result(timeout=10).sum() for r in results] == [4.0] * 3
    alone.close()


def test_the_listening_socket_has_nagle_off():
    """Kept-alive answers waited ~40 ms for the client's delayed ACK with Nagle on (uvicorn
    writes a response's head and body separately); accepted sockets inherit TCP_NODELAY."""
    import socket

    from chainrule.serve.server import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def test_chainrule_train_scaling_is_applied_by_the_server(tmp_path):
    model = _cnn(4)
    save_model(model, tmp_path / "scaled" / "1", preprocess={"mean": 0.25, "std": 2.0})
    x = np.random.default_rng(5).random((2, *SHAPE), dtype=np.float32)
    with start_server(ModelRepository(tmp_path)) as server:
        status, body = _request(f"{server.url}/v1/models/scaled:predict",
                                {"instances": x.tolist()})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], _expected(model, (x - 0.25) / 2.0),
                               rtol=1e-5, atol=1e-6)


def test_a_language_model_takes_token_ids_in_its_vocabulary(tmp_path):
    manual_seed(0)
    model = create_model("gpt", vocab_size=7, context=6, layers=1, heads=2, width=4)
    save_model(model, tmp_path / "lm" / "1")
    ids = np.array([[0, 1, 2, 3, 4, 6]])
    with start_server(ModelRepository(tmp_path)) as server:
        url = f"{server.url}/v1/models/lm:predict"
        status, body = _request(url, {"instances": ids.tolist()})
        assert status == 200
        model.eval()
        with cr.no_grad():
            want = model(ids)
        want = (want[0] if isinstance(want, tuple) else want).numpy()
        np.testing.assert_allclose(body["predictions"], want, rtol=1e-5, atol=1e-6)
        assert _request(url, {"instances": [[0, 1, 2, 3, 4, 7]]}) == (
            400, {"error": "token ids must be in 0..6"})
        assert _request(url, {"instances": [[0, 1, 2, 3, 4, -1]]})[0] == 400
        assert _request(url, {"instances": [[0, 1, 2, 3, 4, 0.5]]})[0] == 400


def test_a_gan_directory_serves_its_generator(tmp_path):
    manual_seed(0)
    gan = create_model("gan", latent_size=3, image_shape=(1, 4, 4))
    save_model(gan, tmp_path / "faces" / "1")
    z = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    with start_server(ModelRepository(tmp_path)) as server:
        status, body = _request(f"{server.url}/v1/models/faces:predict",
                                {"instances": z.tolist()})
        _, meta = _request(f"{server.url}/v1/models/faces/metadata")
    assert status == 200
    np.testing.assert_allclose(body["predictions"], _expected(gan.generator, z), rtol=1e-5,
                               atol=1e-6)
    assert meta["metadata"]["signature_def"]["outputs"]["shape"] == [-1, 1, 4, 4]
