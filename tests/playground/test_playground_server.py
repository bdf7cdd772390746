"""The playground's HTTP API, on a real server: sessions, frames over server-sent events,
bad input answered as a message while the server keeps running."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


def post(url, body=None):
    data = json.dumps({} if body is None else body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def frames(url, sid, count):
    """The first ``count`` frames of a session's event stream."""
    out = []
    with urllib.request.urlopen(f"{url}/api/sessions/{sid}/stream", timeout=30) as res:
        for line in res:
            if line.startswith(b"data: "):
                out.append(json.loads(line[6:]))
                if len(out) == count:
                    return out
    return out


def test_page_and_assets_come_from_the_package(playground_url):
    with urllib.request.urlopen(playground_url + "/", timeout=10) as res:
        page = res.read().decode()
    assert "chainrule playground" in page
    for asset in ("net.js", "backprop.js", "main.js", "style.css"):
        assert f"/static/{asset}" in page
        with urllib.request.urlopen(f"{playground_url}/static/{asset}", timeout=10) as res:
            assert res.status == 200
    assert "http" not in page.replace("http-equiv", "")  # no CDN


def test_step_sends_a_frame_and_tabs_are_independent(playground_url):
    _, a = post(playground_url + "/api/sessions")
    _, b = post(playground_url + "/api/sessions")
    assert a["id"] != b["id"]
    status, _ = post(f"{playground_url}/api/sessions/{a['id']}/settings",
                     {"dataset": "xor", "hidden": [4, 4], "optimizer": "adam"})
    assert status == 200
    [first] = frames(playground_url, a["id"], 1)
    assert first["epoch"] == 0 and "points" in first
    assert [len(m) for m in first["maps"]] == [2, 4, 4, 1]
    for _ in range(3):
        post(f"{playground_url}/api/sessions/{a['id']}/step")
    [after] = frames(playground_url, a["id"], 1)
    assert after["epoch"] == 3 and after["test_loss"] < first["test_loss"]
    [other] = frames(playground_url, b["id"], 1)
    assert other["epoch"] == 0 and [len(m) for m in other["maps"]] == [2, 4, 2, 1]


def test_play_streams_frames_until_pause(playground_url):
    _, s = post(playground_url + "/api/sessions")
    post(f"{playground_url}/api/sessions/{s['id']}/play")
    got = frames(playground_url, s["id"], 4)
    post(f"{playground_url}/api/sessions/{s['id']}/pause")
    epochs = [f["epoch"] for f in got]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
    assert all(f["playing"] for f in got)


@pytest.mark.parametrize("body, words", [
    ({"hidden": [0]}, "units of hidden layer 1"),
    ({"lr": -1}, "learning rate"),
])
def test_bad_settings_are_a_400_message_and_the_server_keeps_running(playground_url, body,
                                                                     words):
    _, s = post(playground_url + "/api/sessions")
    status, answer = post(f"{playground_url}/api/sessions/{s['id']}/settings", body)
    assert status == 400 and words in answer["error"]
    status, _ = post(f"{playground_url}/api/sessions/{s['id']}/step")
    assert status == 200


def test_backprop_endpoint(playground_url):
    status, r = post(playground_url + "/api/backprop",
                     {"expression": "x*x*y + y + 2", "values": "x=3, y=4"})
    assert status == 200 and r["output"] == 42 and r["gradient"] == {"x": 24, "y": 10}
    status, r = post(playground_url + "/api/backprop", {"expression": "x*(", "values": "x=1"})
    assert status == 400 and "cannot parse" in r["error"]
    _, session = post(playground_url + "/api/sessions")
    status, r = post(f"{playground_url}/api/sessions/{session['id']}/neuron",
                     {"layer": 1, "unit": 0})
    assert status == 200 and r["expression"].startswith("tanh(w1*x1 + w2*x2")
    status, r = post(f"{playground_url}/api/sessions/{session['id']}/neuron",
                     {"layer": 9, "unit": 0})
    assert status == 400 and "no neuron" in r["error"]
    status, r = post(playground_url + "/api/sessions/nope/step")
    assert status == 404 and "reload" in r["error"]
