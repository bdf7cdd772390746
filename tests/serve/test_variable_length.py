"""Serving models without a fixed input shape (issue 19): a language model reads token ids
of any length (up to its context, where it has one). The metadata shows the free axis as
-1; requests of different lengths are answered, also when batched together; a wrong rank,
an empty sequence or one over the context is a 400."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_server import _request  # tests/serve/test_server.py (on sys.path under pytest)

pytest.importorskip("starlette", reason="chainrule serve needs the [serve] extra")
pytest.importorskip("uvicorn", reason="chainrule serve needs the [serve] extra")

import chainrule as cr  # noqa: E402
from chainrule.models import create_model, save_model  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.serve import ModelRepository, start_server  # noqa: E402

VOCAB = 7


def _logits(model, ids):
    model.eval()
    with cr.no_grad():
        out = model(np.asarray(ids))
    return (out[0] if isinstance(out, tuple) else out).numpy()


@pytest.fixture()
def lstm_server(tmp_path):
    manual_seed(0)
    model = create_model("char-lstm", vocab_size=VOCAB, hidden=5, layers=1, embed=3)
    save_model(model, tmp_path / "chars" / "1")
    repo = ModelRepository(tmp_path, max_batch=16, max_wait_ms=200)
    with start_server(repo) as server:
        yield server, model, repo


def test_metadata_shows_the_free_axis(lstm_server):
    server, _, _ = lstm_server
    status, meta = _request(f"{server.url}/v1/models/chars/metadata")
    assert status == 200
    signature = meta["metadata"]["signature_def"]
    assert signature["inputs"] == {"shape": [-1, -1], "dtype": "int64"}  # no longest length
    assert signature["outputs"]["shape"] == [-1, -1, VOCAB]  # follows the input's length


def test_requests_of_different_lengths_are_answered(lstm_server):
    server, model, _ = lstm_server
    url = f"{server.url}/v1/models/chars:predict"
    rng = np.random.default_rng(1)
    for length in (1, 4, 11):
        ids = rng.integers(0, VOCAB, (2, length))
        status, body = _request(url, {"instances": ids.tolist()})
        assert status == 200
        np.testing.assert_allclose(body["predictions"], _logits(model, ids), rtol=1e-5,
                                   atol=1e-6)


def test_concurrent_requests_of_different_lengths_batch_by_length(lstm_server):
    server, model, repo = lstm_server
    url = f"{server.url}/v1/models/chars:predict"
    rng = np.random.default_rng(2)
    requests = [rng.integers(0, VOCAB, (1, length)) for length in (3, 5, 3, 5, 8, 3)]
    answers: dict[int, tuple] = {}

    def send(i):
        answers[i] = _request(url, {"instances": requests[i].tolist()})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, ids in enumerate(requests):
        status, body = answers[i]
        assert status == 200, body
        np.testing.assert_allclose(body["predictions"], _logits(model, ids), rtol=1e-5,
                                   atol=1e-6)
    batches = repo.get("chars").batcher.batches
    assert 3 <= batches < len(requests) + 2  # per length (+ the load check), not per request


@pytest.mark.parametrize("case", [
    ("wrong rank", [[[1, 2]]], "each example must have shape [-1]"),
    ("one example", [1, 2, 3], "send a list of examples"),
    ("empty", [[]], "empty"),
    ("ragged", [[1, 2], [3]], "lists of equal lengths"),
    ("not a token", [[1, VOCAB]], f"token ids must be in 0..{VOCAB - 1}"),
], ids=lambda c: c[0])
def test_wrong_rank_and_other_mistakes_are_400(lstm_server, case):
    server, _, _ = lstm_server
    _, instances, message = case
    status, body = _request(f"{server.url}/v1/models/chars:predict", {"instances": instances})
    assert status == 400 and message in body["error"]
    assert _request(f"{server.url}/v1/models/chars:predict", {"instances": [[1]]})[0] == 200


def test_a_model_with_a_context_takes_any_length_up_to_it(tmp_path):
    manual_seed(0)
    model = create_model("gpt", vocab_size=VOCAB, context=6, layers=1, heads=2, width=4)
    save_model(model, tmp_path / "lm" / "1")
    with start_server(ModelRepository(tmp_path)) as server:
        _, meta = _request(f"{server.url}/v1/models/lm/metadata")
        assert meta["metadata"]["signature_def"]["inputs"] == {
            "shape": [-1, -1], "dtype": "int64", "max_shape": [-1, 6]}
        url = f"{server.url}/v1/models/lm:predict"
        for length in (2, 6):
            ids = np.arange(length)[None] % VOCAB
            status, body = _request(url, {"instances": ids.tolist()})
            assert status == 200
            np.testing.assert_allclose(body["predictions"], _logits(model, ids), rtol=1e-5,
                                       atol=1e-6)
        status, body = _request(url, {"instances": [list(range(7))]})
        assert status == 400 and "at most 6" in body["error"]


def test_a_model_with_several_inputs_is_still_refused_with_its_reason(tmp_path):
    manual_seed(0)
    model = create_model("seq2seq", src_vocab=6, tgt_vocab=5, embed_dim=3, hidden=4)
    save_model(model, tmp_path / "translate" / "1")
    with start_server(ModelRepository(tmp_path)) as server:
        status, body = _request(f"{server.url}/v1/models/translate")
    assert status == 200
    (row,) = body["model_version_status"]
    assert row["state"] == "END" and "several inputs" in row["status"]["error_message"]
